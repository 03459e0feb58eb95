"""The server side of a satellite, as Home Assistant (or a hearthvox hub) plays it.

It connects to the satellite, asks ``describe``, sends ``run-satellite``, reads
what the satellite sends, and once the command has ended (the satellite's
``audio-stop``, or ``command_s`` of its audio: a satellite that never stops
streaming) answers as a pipeline does: ``voice-started``, ``voice-stopped``,
``transcript``, ``synthesize``, then the reply's audio. It records every event
the satellite sent, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

import numpy as np
from wyoming.asr import Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event, async_read_event, async_write_event
from wyoming.info import Describe
from wyoming.satellite import RunSatellite
from wyoming.tts import Synthesize
from wyoming.vad import VoiceStarted, VoiceStopped

REPLY_RATE = 22050
REPLY_S = 0.6
REPLY_CHUNK = 1024


def reply_audio() -> bytes:
    t = np.arange(int(REPLY_RATE * REPLY_S)) / REPLY_RATE
    return (np.sin(2 * np.pi * 330 * t) * 8000).astype("<i2").tobytes()


@dataclass
class Session:
    info: Event | None = None
    sent: list[Event] = field(default_factory=list)
    """Every event the satellite sent after run-satellite, in order."""
    command_audio_s: float = 0.0
    played_after_s: float | None = None

    def kinds(self) -> list[str]:
        """Event types in order, a run of audio-chunk events as one ``audio-chunk*``."""
        out: list[str] = []
        for event in self.sent:
            kind = "audio-chunk*" if event.type == "audio-chunk" else event.type
            if not (out and out[-1] == kind == "audio-chunk*"):
                out.append(kind)
        return out


async def connect(
    host: str, port: int, timeout_s: float
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return await asyncio.open_connection(host, port)
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def run_turn(
    host: str,
    port: int,
    *,
    command_s: float = 4.0,
    played_wait_s: float = 5.0,
    timeout_s: float = 60.0,
    on_running: object = None,
) -> Session:
    """One adoption and one turn; ``on_running`` (a callable) is called after run-satellite."""
    session = Session()
    reader, writer = await connect(host, port, timeout_s)
    try:
        async with asyncio.timeout(timeout_s):
            await async_write_event(Describe().event(), writer)
            session.info = await async_read_event(reader)
            await async_write_event(RunSatellite().event(), writer)
            if callable(on_running):
                on_running()
            await _command(reader, session, command_s)
            await _answer(writer)
            t0 = time.monotonic()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(played_wait_s):
                    while True:
                        event = await async_read_event(reader)
                        if event is None:
                            break
                        session.sent.append(event)
                        if event.type == "played":
                            session.played_after_s = time.monotonic() - t0
                            break
    finally:
        writer.close()
    return session


async def _command(reader: asyncio.StreamReader, session: Session, command_s: float) -> None:
    """Read until the command ends: the satellite's audio-stop, or ``command_s`` of audio."""
    streaming = False
    while True:
        event = await async_read_event(reader)
        assert event is not None, "the satellite closed the connection"
        session.sent.append(event)
        if event.type == "run-pipeline":
            streaming = True
        elif event.type == "audio-chunk" and streaming:
            chunk = AudioChunk.from_event(event)
            session.command_audio_s += len(chunk.audio) / (
                chunk.rate * chunk.width * chunk.channels
            )
            if session.command_audio_s >= command_s:
                return
        elif event.type == "audio-stop" and streaming:
            return


async def _answer(writer: asyncio.StreamWriter) -> None:
    events = [
        VoiceStarted().event(),
        VoiceStopped().event(),
        Transcript(text="what time is it").event(),
        Synthesize(text="It is noon.").event(),
        AudioStart(rate=REPLY_RATE, width=2, channels=1).event(),
    ]
    audio = reply_audio()
    step = REPLY_CHUNK * 2
    events += [
        AudioChunk(rate=REPLY_RATE, width=2, channels=1, audio=audio[i : i + step]).event()
        for i in range(0, len(audio), step)
    ]
    events.append(AudioStop().event())
    for event in events:
        await async_write_event(event, writer)
