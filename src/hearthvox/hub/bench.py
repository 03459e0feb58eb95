"""The hub benchmark's parts (``scripts/hub_bench.py``; docs/performance.md, "Hub").

:class:`FakeSatellite` speaks the Wyoming events of wyoming-satellite 1.0.0 streaming
all the time (no wake word of its own): ``info`` with a ``satellite`` entry after
``describe``; after ``run-satellite`` a ``run-pipeline`` (``wake`` -> ``tts``), then
its microphone, 1024 samples of 16 kHz audio per ``audio-chunk`` at a real
microphone's pace (room tone, and a spoken request when told). A request's true end of
speech is known to the sample, so every turn is measured as its user hears it: end of
speech -> the first ``audio-chunk`` of the reply at the satellite. Many of them share
the bench's event loop; the hub is ``hearthvox hub`` in a process of its own
(:class:`HubProcess`: its models loaded as a user's hub loads them, its CPU time its
own). Not part of the hub: nothing in the core imports it.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event, async_read_event, async_write_event
from wyoming.info import Attribution, Describe, Info, Satellite
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.satellite import RunSatellite
from wyoming.tts import Synthesize
from wyoming.wake import Detection

from hearthvox.bench import median, p95
from hearthvox.bench.audio import RATE_HZ, WAKE_PHRASE, room_tone, speech_end_s, spoken
from hearthvox.engines.tts import PiperTts
from hearthvox.errors import HearthvoxError
from hearthvox.events import Int16Array
from hearthvox.pipeline.shedding import BUSY

CHUNK_SAMPLES = 1024
"""wyoming-satellite's microphone block: 64 ms."""
REPLY_TIMEOUT_S = 15.0
"""A turn with no reply audio this long after its end of speech is lost."""
DETECTION_TIMEOUT_S = 5.0
"""A turn whose wake word was not confirmed (``detection``) this long after its end of
speech is lost too (the hub missed the wake word, or the turn stood down)."""
QUIET_AFTER_S = 5.0
"""A satellite's next request comes no sooner than this after its last reply: past the
hub's follow-up window (``[endpoint] follow_up_s``, 4 s), where a request is heard
without its wake word (and "Hey Jarvis." alone is taken for the command)."""
TARGET_P95_MS = 800.0
ARBITRATION_GAINS = (1.0, 0.6, 0.35)
"""The nearest satellite first."""
COMMANDS = {
    "time": ("What time is it?", "It is "),
    "date": ("What is the date today?", "Today is "),
    "time2": ("What is the time?", "It is "),
    "day": ("What day is it today?", "Today is "),
}
"""Requests the skills answer without side effects (no timers left to announce later):
name -> (the command, how its reply begins)."""

Progress = Callable[[str], None]


class BenchError(HearthvoxError):
    """The bench could not run (the hub did not start or serve the satellites)."""


@dataclass(frozen=True)
class Request:
    """Room tone, the wake phrase, the command and room tone, in the bundle's voice."""

    name: str
    audio: Int16Array
    end_s: float
    """The command's true end of speech, from the start of ``audio``."""
    expect: str


def make_requests(tts: PiperTts) -> list[Request]:
    wake = spoken(tts, WAKE_PHRASE)
    out = []
    for i, (name, (text, expect)) in enumerate(COMMANDS.items()):
        command = spoken(tts, text)
        head = np.concatenate([room_tone(0.3, seed=10 + i), wake, room_tone(0.3, seed=20 + i)])
        audio = np.concatenate([head, command, room_tone(1.0, seed=30 + i)])
        out.append(Request(name, audio, len(head) / RATE_HZ + speech_end_s(command), expect))
    return out


@dataclass
class Turn:
    """One request said at one satellite, and what came back (``time.monotonic`` times)."""

    satellite: str
    request: str
    t_end: float
    """The true end of speech."""
    expect: str = ""
    t_detection: float | None = None
    t_first_audio: float | None = None
    t_done: float | None = None
    reply: str = ""
    error: str = ""

    @property
    def latency_ms(self) -> float | None:
        return None if self.t_first_audio is None else (self.t_first_audio - self.t_end) * 1e3

    def record(self) -> dict[str, Any]:
        """Times relative to the end of speech, in ms (no audio; the reply's text is the
        bench's own request answered)."""

        def rel(t: float | None) -> float | None:
            return None if t is None else round((t - self.t_end) * 1e3, 1)

        return {
            "satellite": self.satellite,
            "request": self.request,
            "detection_ms": rel(self.t_detection),
            "first_audio_ms": rel(self.t_first_audio),
            "done_ms": rel(self.t_done),
            "reply": self.reply,
            "error": self.error,
        }

    @property
    def understood(self) -> bool:
        return self.reply.startswith(self.expect)

    @property
    def shed(self) -> bool:
        """Answered with the hub's busy reply (past its maximum queue age)."""
        return self.reply == BUSY

    def settled(self, now: float) -> bool:
        """Its reply played out, an error came, or it timed out."""
        if self.t_done is not None or self.error:
            return True
        unheard = self.t_detection is None and now > self.t_end + DETECTION_TIMEOUT_S
        return unheard or now > self.t_end + REPLY_TIMEOUT_S


class FakeSatellite:
    """A Wyoming satellite on 127.0.0.1 that streams room tone and says requests on cue."""

    def __init__(self, name: str, seed: int = 0) -> None:
        self.name = name
        self.port = 0
        self.turns: list[Turn] = []
        self.streaming = asyncio.Event()
        self.connects = 0
        self.unsolicited = 0
        """Replies that came with no request waiting (an announcement, a stray wake word)."""
        self.late_ms = 0.0
        """The latest a chunk was sent (the bench's own load; a few ms is the timer's)."""
        self._tone = room_tone(10.0, seed=seed)
        self._plays: list[tuple[int, Int16Array]] = []
        self._t0 = 0.0
        self._sent = 0
        self._server: asyncio.Server | None = None
        self._conn: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._reply_to: Turn | None = None

    @property
    def uri(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._conn is not None:
            self._conn.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._conn

    def say(self, request: Request, gain: float = 1.0, at: float | None = None) -> Turn:
        """Play ``request`` into the microphone from ``at`` (``time.monotonic``; now by
        default, and never before the audio already sent)."""
        if not self.streaming.is_set():
            raise BenchError(f"satellite {self.name} is not streaming")
        when = time.monotonic() if at is None else at
        start = max(self._sent, math.ceil((when - self._t0) * RATE_HZ))
        audio = request.audio
        if gain != 1.0:
            audio = np.clip(audio.astype(np.float32) * gain, -32768, 32767).astype(np.int16)
        self._plays.append((start, audio))
        turn = Turn(self.name, request.name, self._t0 + start / RATE_HZ + request.end_s)
        turn.expect = request.expect
        self.turns.append(turn)
        return turn

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._conn is not None:  # one hub at a time, as wyoming-satellite
            writer.close()
            return
        self._conn = asyncio.current_task()
        self.connects += 1
        streamer: asyncio.Task[None] | None = None
        try:
            while (event := await async_read_event(reader)) is not None:
                if Describe.is_type(event.type):
                    await self._send(writer, self._info())
                elif RunSatellite.is_type(event.type):
                    wake, tts = PipelineStage.WAKE, PipelineStage.TTS
                    await self._send(writer, RunPipeline(start_stage=wake, end_stage=tts).event())
                    if streamer is None:
                        self._t0, self._sent, self._plays = time.monotonic(), 0, []
                        streamer = asyncio.create_task(self._stream(writer))
                        self.streaming.set()
                else:
                    self._heard(event)
        except (ConnectionError, OSError):
            pass
        finally:
            self.streaming.clear()
            self._conn = None
            if streamer is not None:
                streamer.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
                    await streamer
            writer.close()

    def _info(self) -> Event:
        who = Attribution(name="hearthvox bench", url="")
        sat = Satellite(self.name, who, True, "a fake satellite", "1.0.0", area=self.name)
        return Info(satellite=sat).event()

    async def _send(self, writer: asyncio.StreamWriter, event: Event) -> None:
        async with self._lock:
            await async_write_event(event, writer)

    async def _stream(self, writer: asyncio.StreamWriter) -> None:
        while True:
            a = self._sent
            b = a + CHUNK_SAMPLES
            wait = self._t0 + b / RATE_HZ - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            else:
                self.late_ms = max(self.late_ms, -wait * 1e3)
            chunk = AudioChunk(RATE_HZ, 2, 1, self._samples(a, b).tobytes(), a * 1000 // RATE_HZ)
            await self._send(writer, chunk.event())
            self._sent = b

    def _samples(self, a: int, b: int) -> Int16Array:
        out = self._tone[np.arange(a, b) % len(self._tone)]
        keep = []
        for start, audio in self._plays:
            lo, hi = max(a, start), min(b, start + len(audio))
            if lo < hi:
                out[lo - a : hi - a] = audio[lo - start : hi - start]
            if start + len(audio) > b:
                keep.append((start, audio))
        self._plays = keep
        return out

    def _heard(self, event: Event) -> None:
        now = time.monotonic()
        last = self.turns[-1] if self.turns else None
        waiting = last if last is not None and last.t_first_audio is None else None
        if Detection.is_type(event.type) and waiting is not None:
            waiting.t_detection = waiting.t_detection or now
        elif Synthesize.is_type(event.type) and waiting is not None:
            waiting.reply = Synthesize.from_event(event).text
        elif Error.is_type(event.type) and waiting is not None:
            waiting.error = Error.from_event(event).code or "error"
        elif AudioStart.is_type(event.type):
            self._reply_to = waiting
            if waiting is None:
                self.unsolicited += 1
        elif AudioChunk.is_type(event.type):
            if self._reply_to is not None and self._reply_to.t_first_audio is None:
                self._reply_to.t_first_audio = now
        elif AudioStop.is_type(event.type) and self._reply_to is not None:
            self._reply_to.t_done = now
            self._reply_to = None


@dataclass(frozen=True)
class HubSetup:
    """How the hub is started: its config file, and the source it runs (a ``src``
    folder put first on its ``PYTHONPATH``: a clean export of a commit) when not this
    checkout's."""

    config: Path | None = None
    source: Path | None = None
    separate_rooms: bool = False
    """The satellites are listed in a config of their own, each hearing no other room
    (``hears = []``): wake words at the same instant are each answered. Otherwise
    they are given as ``--satellite`` and every one hears every other."""


def rooms_config(uris: Sequence[str], home: Path, base: Path | None) -> Path:
    """``base`` (if any) and a ``[[hub.satellites]]`` table per URI (areas room1,
    room2 ..., as the fake satellites are named), no room hearing another."""
    text = base.read_text() if base is not None else ""
    for i, uri in enumerate(uris):
        text += f'\n[[hub.satellites]]\nuri = "{uri}"\narea = "room{i + 1}"\nhears = []\n'
    path = home / "separate-rooms.toml"
    path.write_text(text)
    return path


class HubProcess:
    """``hearthvox hub`` driving ``uris`` in a process of its own (``HEARTHVOX_HOME=home``)."""

    def __init__(self, uris: Sequence[str], home: Path, setup: HubSetup | None = None) -> None:
        setup = setup or HubSetup()
        cmd = [sys.executable, "-m", "hearthvox", "hub"]
        if setup.separate_rooms:
            cmd += ["--config", str(rooms_config(uris, home, setup.config))]
        else:
            for uri in uris:
                cmd += ["--satellite", uri]
            if setup.config is not None:
                cmd += ["--config", str(setup.config)]
        env = {**os.environ, "HEARTHVOX_HOME": str(home)}
        if setup.source is not None:
            env["PYTHONPATH"] = str(setup.source)
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, env=env,
        )  # fmt: skip
        self.lines: deque[str] = deque(maxlen=400)
        self._drain = threading.Thread(target=self._read, name="hub-stderr", daemon=True)
        self._drain.start()
        self.ps = psutil.Process(self.proc.pid)

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip())

    def cpu_s(self) -> float:
        t = self.ps.cpu_times()
        return float(t.user + t.system)

    def rss_mib(self) -> float:
        return float(self.ps.memory_info().rss) / 2**20

    def stop(self) -> list[str]:
        """SIGTERM, then its per-satellite summary lines."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._drain.join(5)
        return [line.removeprefix("hearthvox: ") for line in self.lines if " connections, " in line]


async def until(what: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not what():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


@dataclass
class Rig:
    """Fake satellites and the hub that drives them."""

    satellites: list[FakeSatellite]
    hub: HubProcess
    ready_s: float
    """From the hub's start to every satellite streaming (the models' load, mostly)."""
    summary: list[str] = field(default_factory=list)


@contextlib.asynccontextmanager
async def rig(n: int, home: Path, setup: HubSetup | None = None) -> AsyncIterator[Rig]:
    sats = [FakeSatellite(f"room{i + 1}", seed=i) for i in range(n)]
    for sat in sats:
        await sat.start()
    t0 = time.monotonic()
    hub = HubProcess([s.uri for s in sats], home, setup)
    running = Rig(sats, hub, 0.0)
    try:
        up = await until(
            lambda: all(s.streaming.is_set() for s in sats) or hub.proc.poll() is not None, 240
        )
        if not up or hub.proc.poll() is not None:
            tail = " | ".join(list(hub.lines)[-5:])
            raise BenchError(f"the hub did not drive {n} satellites: {tail}")
        running.ready_s = time.monotonic() - t0
        await asyncio.sleep(2.0)  # the idle gate learns the room
        yield running
    finally:
        running.summary = await asyncio.to_thread(hub.stop)
        for sat in sats:
            await sat.close()


def turn_figures(turns: Sequence[Turn]) -> dict[str, Any]:
    """Latency (end of speech -> first reply audio, of the turns answered, not shed)
    and what became of the turns."""
    lat = [t.latency_ms for t in turns if t.latency_ms is not None and not t.shed]
    lost = [t for t in turns if t.latency_ms is None]
    return {
        "turns": len(turns),
        "answered": len(lat),
        "shed": sum(1 for t in turns if t.shed),
        "lost": len(lost),
        "lost_no_detection": sum(1 for t in lost if t.t_detection is None and not t.error),
        "misheard": sum(1 for t in turns if t.reply and not t.understood and not t.shed),
        "no_reply_text": sum(1 for t in turns if t.latency_ms is not None and not t.reply),
        "p50_ms": _r(median(lat)),
        "p95_ms": _r(p95(lat)),
        "max_ms": _r(max(lat)) if lat else None,
    }


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


def _quiet(turn: Turn) -> bool:
    now = time.monotonic()
    return turn.settled(now) and (turn.t_done is None or now > turn.t_done + QUIET_AFTER_S)


async def _speaker(
    sat: FakeSatellite, requests: Sequence[Request], end: float, mean_s: float, rng: random.Random
) -> tuple[list[Turn], int]:
    """Requests at Poisson times until ``end``; one that falls while the last turn is
    still said or answered, or within :data:`QUIET_AFTER_S` of its reply, waits for it
    (one person per room). -> turns, deferred."""
    mine: list[Turn] = []
    deferred = 0
    t = time.monotonic() + rng.expovariate(1.0 / mean_s)
    while t < end:
        await asyncio.sleep(max(0.0, t - time.monotonic()))
        if mine and not _quiet(mine[-1]):
            deferred += 1
            await until(lambda: _quiet(mine[-1]), REPLY_TIMEOUT_S + 30)
        mine.append(sat.say(rng.choice(requests)))
        t = max(t, time.monotonic()) + rng.expovariate(1.0 / mean_s)
    if mine:
        await until(lambda: mine[-1].settled(time.monotonic()), REPLY_TIMEOUT_S + 30)
    return mine, deferred


async def poisson_load(
    running: Rig,
    requests: Sequence[Request],
    minutes: float,
    mean_s: float = 20.0,
    seed: int = 0,
    idle_s: float = 4.0,
) -> dict[str, Any]:
    """Every satellite asks at random times (Poisson, ``mean_s`` apart) for ``minutes``,
    after ``idle_s`` of room tone alone (the hub's idle CPU)."""
    hub, sats = running.hub, running.satellites
    c0 = hub.cpu_s()
    await asyncio.sleep(idle_s)
    idle_cores = (hub.cpu_s() - c0) / idle_s
    c1, t1 = hub.cpu_s(), time.monotonic()
    end = t1 + minutes * 60.0
    results = await asyncio.gather(
        *(
            _speaker(s, requests, end, mean_s, random.Random(seed * 1000 + i))
            for i, s in enumerate(sats)
        )
    )
    wall, cpu = time.monotonic() - t1, hub.cpu_s() - c1
    turns = [t for mine, _ in results for t in mine]
    figures = turn_figures(turns)
    cores, answered = cpu / wall, figures["answered"]
    return {
        "satellites": len(sats),
        "minutes": minutes,
        "mean_gap_s": mean_s,
        **figures,
        "deferred": sum(d for _, d in results),
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "cpu_s_per_turn": round(cpu / answered, 3) if answered else None,
        "cpu_s_per_turn_over_idle": round((cpu - idle_cores * wall) / answered, 3)
        if answered
        else None,
        "cores_busy": round(cores, 3),
        "streams_per_core": round(len(sats) / cores, 1) if cores > 0 else None,
        "idle_cores_per_stream": round(idle_cores / len(sats), 4),
        "hub_rss_mib": round(hub.rss_mib()),
        "ready_s": round(running.ready_s, 1),
        "bench_late_ms": round(max(s.late_ms for s in sats), 1),
        "unsolicited": sum(s.unsolicited for s in sats),
        "p95_met": figures["p95_ms"] is not None and figures["p95_ms"] <= TARGET_P95_MS,
    }


async def _all_settled(batch: Sequence[Turn]) -> None:
    await until(lambda: all(t.settled(time.monotonic()) for t in batch), REPLY_TIMEOUT_S + 30)


async def _settle(batch: Sequence[Turn], grace_s: float) -> None:
    """Until a reply played out (and ``grace_s`` for any other), or every turn timed out."""
    await until(
        lambda: any(t.t_done for t in batch) or all(t.settled(time.monotonic()) for t in batch),
        REPLY_TIMEOUT_S + 30,
    )
    await asyncio.sleep(grace_s)
    await until(lambda: all(t.t_first_audio is None or t.t_done for t in batch), 30)


async def at_once(
    running: Rig, requests: Sequence[Request], trials: int, stagger_s: float = 0.0
) -> dict[str, Any]:
    """Every satellite says a different request, all at the same instant (or
    ``stagger_s`` apart), ``trials`` times."""
    turns: list[Turn] = []
    c0 = running.hub.cpu_s()
    for _ in range(trials):
        at = time.monotonic() + 0.3
        batch = [
            s.say(requests[i % len(requests)], at=at + i * stagger_s)
            for i, s in enumerate(running.satellites)
        ]
        await _all_settled(batch)
        turns += batch
        await asyncio.sleep(1.0)
    return {
        "satellites": len(running.satellites),
        "stagger_s": stagger_s,
        "trials": trials,
        **turn_figures(turns),
        "cpu_s": round(running.hub.cpu_s() - c0, 1),
    }


async def arbitration(
    running: Rig, request: Request, trials: int, rng: random.Random, max_delay_s: float = 0.25
) -> dict[str, Any]:
    """The same request heard by every satellite, the first loudest
    (:data:`ARBITRATION_GAINS`), each after a random delay of 0-``max_delay_s``."""
    sats = running.satellites
    gains = ARBITRATION_GAINS[: len(sats)]
    rows = []
    for _ in range(trials):
        delays = [rng.uniform(0.0, max_delay_s) for _ in sats]
        at = time.monotonic() + 0.3
        batch = [s.say(request, g, at + d) for s, g, d in zip(sats, gains, delays, strict=True)]
        await _settle(batch, grace_s=1.5)
        replied = [i for i, t in enumerate(batch) if t.t_first_audio is not None]
        rows.append((replied, delays, batch[0].latency_ms))
        await asyncio.sleep(1.0)
    one = [r for r in rows if len(r[0]) == 1]
    loudest = [r for r in one if r[0] == [0]]
    loudest_late = [r for r in rows if min(r[1]) < r[1][0]]
    lat = [r[2] for r in loudest if r[2] is not None]
    return {
        "satellites": len(sats),
        "gains": list(gains),
        "max_delay_ms": max_delay_s * 1e3,
        "trials": trials,
        "exactly_one": len(one),
        "none": sum(1 for r in rows if not r[0]),
        "several": sum(1 for r in rows if len(r[0]) > 1),
        "loudest_won": len(loudest),
        "loudest_share": round(len(loudest) / trials, 3) if trials else None,
        "loudest_not_first": len(loudest_late),
        "loudest_not_first_won": sum(1 for r in loudest_late if r[0] == [0]),
        "winner_p50_ms": _r(median(lat)),
        "winner_p95_ms": _r(p95(lat)),
    }
