"""Client side of the tests: the ``wyoming`` package's own AsyncTcpClient, plus a server
running in a thread of its own (its own event loop), as Home Assistant would meet it."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wyoming.asr import Transcribe
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.event import Event
from wyoming.tts import Synthesize

from hearthvox.protocol.options import ServerOptions
from hearthvox.protocol.server import Address, TcpAddress, WyomingServer
from hearthvox.protocol.services import Services

TIMEOUT_S = 60.0  # bound on every wait in these tests; a healthy run needs far less
MAX_EVENTS = 10_000


class ServerThread:
    """A WyomingServer on its own event loop in a daemon thread."""

    def __init__(
        self, services: Services, options: ServerOptions, address: Address | None = None
    ) -> None:
        self.loop = asyncio.new_event_loop()
        self.server = WyomingServer(services, address or TcpAddress("127.0.0.1", 0), options)
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> ServerThread:
        self._thread.start()
        self.bound = asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(
            TIMEOUT_S
        )
        return self

    @property
    def tcp(self) -> TcpAddress:
        assert isinstance(self.bound, TcpAddress)
        return self.bound

    def wait_connections(self, at_most: int) -> int:
        """Wait (bounded) until the server has at most ``at_most`` connections open."""

        async def wait() -> int:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(TIMEOUT_S):
                    await self.server.wait_connections(at_most)
            return self.server.connections

        return asyncio.run_coroutine_threadsafe(wait(), self.loop).result()

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(TIMEOUT_S)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(TIMEOUT_S)
        self.loop.close()


def client(address: TcpAddress) -> AsyncTcpClient:
    return AsyncTcpClient(
        address.host, address.port, connect_timeout=TIMEOUT_S, read_timeout=TIMEOUT_S
    )


async def read_until(c: AsyncTcpClient, *types: str) -> list[Event]:
    """Events up to and including the first of ``types``; fails on a closed connection."""
    events: list[Event] = []
    for _ in range(MAX_EVENTS):
        event = await c.read_event()
        assert event is not None, f"connection closed before {types}; got {_types(events)}"
        events.append(event)
        if event.type in types:
            return events
    raise AssertionError(f"no {types} in {MAX_EVENTS} events")


def _types(events: list[Event]) -> list[str]:
    return [e.type for e in events if e.type != "audio-chunk"]


@dataclass(frozen=True)
class Pcm:
    data: bytes
    rate: int
    width: int = 2
    channels: int = 1

    @property
    def duration_s(self) -> float:
        return len(self.data) / (self.rate * self.width * self.channels)


def wav_pcm(path: Path) -> Pcm:
    with wave.open(str(path), "rb") as w:
        return Pcm(
            w.readframes(w.getnframes()), w.getframerate(), w.getsampwidth(), w.getnchannels()
        )


async def send_audio(
    c: AsyncTcpClient, pcm: Pcm, chunk_s: float = 0.064, start: bool = True
) -> None:
    fmt = {"rate": pcm.rate, "width": pcm.width, "channels": pcm.channels}
    if start:
        await c.write_event(AudioStart(**fmt).event())
    step = max(1, int(pcm.rate * chunk_s)) * pcm.width * pcm.channels
    for i in range(0, len(pcm.data), step):
        await c.write_event(AudioChunk(audio=pcm.data[i : i + step], **fmt).event())


async def transcribe(
    address: TcpAddress, pcm: Pcm, context: dict[str, Any] | None = None
) -> list[Event]:
    """A whole transcription request on a new connection; the events up to transcript-stop."""
    c = client(address)
    await c.connect()
    try:
        await c.write_event(Transcribe(language="en", context=context).event())
        await send_audio(c, pcm)
        await c.write_event(AudioStop().event())
        return await read_until(c, "transcript-stop")
    finally:
        await c.disconnect()


def transcript_text(events: list[Event]) -> str:
    texts = [e.data["text"] for e in events if e.type == "transcript"]
    assert len(texts) == 1, _types(events)
    text: str = texts[0]
    return text


async def synthesize(address: TcpAddress, text: str) -> tuple[list[Event], Pcm]:
    """A whole synthesis request; the events and the audio they carried."""
    c = client(address)
    await c.connect()
    try:
        await c.write_event(Synthesize(text).event())
        events = await read_until(c, "audio-stop")
    finally:
        await c.disconnect()
    return events, audio_of(events)


def audio_of(events: list[Event]) -> Pcm:
    starts = [e for e in events if e.type == "audio-start"]
    assert starts, _types(events)
    rate, width, channels = (starts[0].data[k] for k in ("rate", "width", "channels"))
    data = b"".join(e.payload or b"" for e in events if e.type == "audio-chunk")
    return Pcm(data, rate, width, channels)
