"""The satellite in this process on the real wake and VAD models, fed as a live microphone
(eight times faster than real time, the sink too): barge-in, pause, a silent server, a
connection that replaces another."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import numpy as np
import pytest
from wyoming.asr import Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event, async_read_event, async_write_event
from wyoming.ping import Ping
from wyoming.satellite import PauseSatellite, RunSatellite

from hearthvox.config import Config
from hearthvox.engines import Engines
from hearthvox.events import AudioChunk as HvChunk
from hearthvox.events import Int16Array
from hearthvox.protocol.server import TcpAddress
from hearthvox.satellite.ear import Ear
from hearthvox.satellite.info import satellite_info
from hearthvox.satellite.options import SatelliteOptions
from hearthvox.satellite.player import Player
from hearthvox.satellite.server import SatelliteServer
from hearthvox.satellite.session import Phase, Satellite
from tests.conftest import silence, speak16
from tests.wakeclip import clear_wake_phrase

SPEED = 8.0
CHUNK = 1280
BOUND_S = 30.0


class FastSink:
    """Plays ``SPEED`` times faster than real time; ``stop`` cuts a write short."""

    def __init__(self) -> None:
        self.played_s = 0.0
        self.stops = 0
        self._stop = threading.Event()

    def write(self, samples: Int16Array, rate_hz: int) -> None:
        self._stop.clear()
        end = time.monotonic() + len(samples) / rate_hz / SPEED
        while time.monotonic() < end and not self._stop.is_set():
            time.sleep(0.002)
        if not self._stop.is_set():
            self.played_s += len(samples) / rate_hz

    def stop(self) -> None:
        self.stops += 1
        self._stop.set()

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


async def live(audio: Int16Array) -> AsyncIterator[HvChunk]:
    """``audio`` as a microphone delivers it (SPEED times faster), then silence."""
    k = 0
    while True:
        block = audio[k * CHUNK : (k + 1) * CHUNK]
        samples = np.zeros(CHUNK, dtype=np.int16)
        samples[: len(block)] = block
        await asyncio.sleep(CHUNK / 16000 / SPEED)
        yield HvChunk(samples=samples, rate_hz=16000, t_audio_ms=k * 80)
        k += 1


class Peer:
    """The server side: every event the satellite sends goes to a queue."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.events: asyncio.Queue[Event | None] = asyncio.Queue()
        self.kinds: list[str] = []
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while (event := await async_read_event(self.reader)) is not None:
            kind = "audio-chunk*" if event.type == "audio-chunk" else event.type
            if not (self.kinds and self.kinds[-1] == kind == "audio-chunk*"):
                self.kinds.append(kind)
            await self.events.put(event)
        await self.events.put(None)

    async def send(self, *events: Event) -> None:
        for event in events:
            await async_write_event(event, self.writer)

    async def until(self, kind: str) -> Event:
        async with asyncio.timeout(BOUND_S):
            while True:
                event = await self.events.get()
                assert event is not None, f"closed before {kind}; got {self.kinds}"
                if event.type == kind:
                    return event

    async def close(self) -> None:
        self.writer.close()
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task


def reply(seconds: float) -> list[Event]:
    audio = (np.sin(np.arange(int(22050 * seconds)) / 10) * 5000).astype("<i2").tobytes()
    chunks = [
        AudioChunk(rate=22050, width=2, channels=1, audio=audio[i : i + 4096]).event()
        for i in range(0, len(audio), 4096)
    ]
    return [AudioStart(rate=22050, width=2, channels=1).event(), *chunks, AudioStop().event()]


async def until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` (the satellite has no event for it) for at most BOUND_S."""
    for _ in range(int(BOUND_S / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not within {BOUND_S:g} s")


Connect = Callable[[], Awaitable[Peer]]
Scenario = Callable[[Satellite, Connect, FastSink], Awaitable[None]]


def run_scenario(
    engines: Engines, audio: Int16Array, scenario: Scenario, options: SatelliteOptions
) -> None:
    async def main() -> None:
        cfg = Config()
        ear = Ear(engines.wake, engines.vad, cfg.endpoint, cfg.vad.threshold)
        sink = FastSink()

        def player(on_played: Callable[[int], Awaitable[None]]) -> Player:
            return Player(sink, options.max_reply_s, on_played)

        sat = Satellite(ear, player, options, live=True)
        info = satellite_info("t", "", ear.wake_words).event()
        server = SatelliteServer(sat, TcpAddress("127.0.0.1", 0), info, options)
        bound = await server.start()
        tasks = [
            asyncio.create_task(sat.run_audio(live(audio))),
            asyncio.create_task(sat.player.run()),
        ]

        async def connect() -> Peer:
            return Peer(*await asyncio.open_connection("127.0.0.1", bound.port))

        try:
            async with asyncio.timeout(3 * BOUND_S):
                await scenario(sat, connect, sink)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await server.close()

    asyncio.run(main())


@pytest.fixture(scope="module")
def wake_phrase(engines: Engines) -> Int16Array:
    return clear_wake_phrase(lambda: speak16(engines, "Hey Jarvis."), engines.wake)


@pytest.fixture(scope="module")
def command(engines: Engines) -> Int16Array:
    return speak16(engines, "What time is it?")


def test_barge_in_stops_the_reply_and_starts_a_new_command(
    engines: Engines, wake_phrase: Int16Array, command: Int16Array
) -> None:
    # the second wake word comes 4 s into a 40 s reply
    audio = np.concatenate([silence(1.0), wake_phrase, command, silence(4.0), wake_phrase,
                            command, silence(3.0)])  # fmt: skip

    async def scenario(sat: Satellite, connect: Connect, sink: FastSink) -> None:
        peer = await connect()
        await peer.send(RunSatellite().event())
        await peer.until("audio-stop")
        await peer.send(Transcript(text="what time is it").event())
        long_reply = asyncio.create_task(peer.send(*reply(40.0)))
        second = await peer.until("run-pipeline")
        assert second.data["wake_word_name"] == "hey_jarvis"
        assert sink.stops >= 1 and sink.played_s < 20.0
        await peer.until("audio-stop")
        await long_reply  # the rest of the first reply, dropped by the satellite
        await peer.send(Transcript(text="what time is it").event(), *reply(0.5))
        await peer.until("played")
        assert peer.kinds == [
            "run-pipeline", "audio-start", "audio-chunk*", "audio-stop",
            "run-pipeline", "audio-start", "audio-chunk*", "audio-stop", "played",
        ]  # fmt: skip
        assert sink.played_s < 20.0
        await peer.close()

    run_scenario(engines, audio, scenario, SatelliteOptions())


def test_pause_stops_listening_and_a_silent_server_times_out(
    engines: Engines, wake_phrase: Int16Array, command: Int16Array
) -> None:
    turn = np.concatenate([wake_phrase, command, silence(2.0)])
    audio = np.concatenate([silence(1.0), turn, silence(1.0), turn, silence(30.0)])
    first_turn_ends_ms = (1.0 + len(turn) / 16000) * 1000

    async def scenario(sat: Satellite, connect: Connect, sink: FastSink) -> None:
        peer = await connect()
        await peer.send(RunSatellite().event(), PauseSatellite().event())
        await until(lambda: sat.heard_ms >= first_turn_ends_ms)
        assert sat.phase is Phase.PAUSED and peer.kinds == []  # its wake word went unheard
        await peer.send(RunSatellite().event())
        await peer.until("audio-stop")  # the next wake word is heard
        # the server says nothing more: the turn ends after reply_timeout_s
        t0 = time.monotonic()
        await until(lambda: sat.phase is Phase.IDLE)
        assert time.monotonic() - t0 >= 0.5
        await peer.close()

    run_scenario(engines, audio, scenario, SatelliteOptions(reply_timeout_s=1.0))


def test_a_new_server_connection_replaces_the_old(engines: Engines) -> None:
    async def scenario(sat: Satellite, connect: Connect, sink: FastSink) -> None:
        first = await connect()
        await first.send(RunSatellite().event())
        await until(lambda: sat.phase is Phase.IDLE)
        second = await connect()
        await second.send(RunSatellite().event())
        async with asyncio.timeout(BOUND_S):
            assert await first.events.get() is None  # closed by the satellite
        assert sat.link is not None and sat.phase is Phase.IDLE
        await second.close()
        await until(lambda: sat.link is None)
        assert sat.phase is Phase.PAUSED

    run_scenario(engines, silence(60.0), scenario, SatelliteOptions())


def test_an_announcement_is_played_and_ping_answered(engines: Engines) -> None:
    async def scenario(sat: Satellite, connect: Connect, sink: FastSink) -> None:
        peer = await connect()
        await peer.send(RunSatellite().event(), Ping(text="hi").event())
        assert (await peer.until("pong")).data.get("text") == "hi"
        await until(lambda: sat.phase is Phase.IDLE)
        await peer.send(*reply(1.0))  # unasked: the server announces something
        await peer.until("played")
        assert peer.kinds == ["pong", "played"]
        assert sink.played_s == pytest.approx(1.0, abs=0.05)
        await peer.close()

    run_scenario(engines, silence(60.0), scenario, SatelliteOptions())
