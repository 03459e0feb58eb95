"""A satellite's audio both ways: its microphone as the voice loop's source, and the
reply streamed back to it as the loop's sink.

Every ``audio-chunk`` is converted (any rate, width and channels) to 16 kHz mono
and cut into the pipeline's chunks. While a turn is answered the listener takes
no audio (:mod:`hearthvox.pipeline.listener`), so the source keeps what arrives in
a bounded buffer (:data:`BACKLOG_S`); beyond it the oldest audio is dropped and
counted. When the turn is over, all but the last :data:`AFTER_TURN_KEEP_MS` of it
is skipped (:meth:`SatelliteSource.trim`). The last seconds the listener took are
kept to measure the speech level of a wake word (:mod:`hearthvox.hub.arbiter`).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import numpy as np
from wyoming.audio import AudioChunk as WyAudioChunk
from wyoming.audio import AudioStart, AudioStop
from wyoming.event import Event as WyEvent

from hearthvox.audio.buffers import Rechunker
from hearthvox.events import AudioChunk, Int16Array
from hearthvox.protocol.pcm import RATE_HZ, PcmConverter, PcmFormat

log = logging.getLogger(__name__)

BACKLOG_S = 30.0
"""Audio held for the listener while a turn is answered; older audio is dropped."""
LEVEL_WINDOW_MS = 1000.0
"""The speech level of a wake word: measured on this much audio before it fired."""
LEVEL_PERCENTILE = 90.0
"""... as this percentile of its 20 ms frames' levels (the loud part of the phrase)."""
_KEEP_S = 4.0
"""Audio the listener took that is kept for the level (a chunk queue's worth and more)."""
IDLE_TICK_S = 1.0
"""With no audio this long, the listener is given a chunk of silence (timers ring)."""
AFTER_TURN_KEEP_MS = 500.0
"""Audio of a turn's last moments still listened to after it (the reply's tail)."""
SILENT_DBFS = -120.0
SEND_WAIT_S = 15.0
"""Longest wait for one event of the reply to be sent (the write's own limit is 10 s)."""


class SatelliteSource:
    """The satellite's microphone as 16 kHz chunks of ``chunk_ms``, numbered from 0 ms."""

    def __init__(self, chunk_ms: int) -> None:
        self.chunk_ms = chunk_ms
        self._rechunk = Rechunker(RATE_HZ * chunk_ms // 1000)
        self._converter: PcmConverter | None = None
        self._pending: collections.deque[AudioChunk] = collections.deque(
            maxlen=int(BACKLOG_S * 1000 // chunk_ms)
        )
        self._ready = asyncio.Event()
        self._ended = False
        self._next_ms = 0
        self.dropped = 0
        """Chunks dropped because the listener fell :data:`BACKLOG_S` behind."""
        self.skipped = 0
        """Chunks of a turn's reply time not listened to (:meth:`trim`)."""
        self.ticks = 0
        """Chunks of silence made while the satellite sent nothing (:meth:`chunks`)."""
        self._taken: collections.deque[AudioChunk] = collections.deque(
            maxlen=int(_KEEP_S * 1000 // chunk_ms) + 1
        )

    def feed(self, data: dict[str, Any], payload: bytes | None) -> None:
        """One ``audio-chunk`` (its data checked by :meth:`PcmFormat.from_data`)."""
        fmt = PcmFormat.from_data(data)
        if self._converter is None or self._converter.format != fmt:
            self._converter = PcmConverter(fmt)
        samples = self._converter.convert(payload or b"")
        for block in self._rechunk.push(samples):
            if len(self._pending) == self._pending.maxlen:
                self.dropped += 1
            self._pending.append(AudioChunk(block, RATE_HZ, self._next_ms))
            self._next_ms += self.chunk_ms
        if self._pending:
            self._ready.set()

    def trim(self, keep_ms: float) -> int:
        """Drop what waits for the listener but the newest ``keep_ms``; how many chunks.

        A turn over, the audio that came while it was answered is the satellite hearing
        the reply (the hub does not listen over it): catching up on it would only delay
        the next wake word, by the backlog of every satellite on the shared wake thread."""
        keep = max(0, math.ceil(keep_ms / self.chunk_ms))
        n = max(0, len(self._pending) - keep)
        for _ in range(n):
            self._pending.popleft()
        self.skipped += n
        return n

    def end(self) -> None:
        """The satellite is gone: the source ends once the listener took what came."""
        self._ended = True
        self._ready.set()

    async def chunks(self) -> AsyncIterator[AudioChunk]:
        """The chunks as they come; with none for :data:`IDLE_TICK_S` (a satellite that
        hears the wake word itself sends nothing while it waits for it), one of silence
        stamped that much later, so that the listener still rings this room's timers."""
        while True:
            while not self._pending:
                if self._ended:
                    return
                self._ready.clear()
                try:
                    await asyncio.wait_for(self._ready.wait(), IDLE_TICK_S)
                except TimeoutError:
                    self._tick()
            chunk = self._pending.popleft()
            self._taken.append(chunk)
            yield chunk

    def _tick(self) -> None:
        """A chunk of silence, :data:`IDLE_TICK_S` after the last audio in stream time."""
        self._next_ms += round(IDLE_TICK_S * 1000 / self.chunk_ms) * self.chunk_ms
        silence = np.zeros(RATE_HZ * self.chunk_ms // 1000, dtype=np.int16)
        self._pending.append(AudioChunk(silence, RATE_HZ, self._next_ms))
        self._next_ms += self.chunk_ms
        self.ticks += 1

    def level_dbfs(self, end_ms: float) -> float:
        """The speech level (:func:`speech_level_dbfs`) of the :data:`LEVEL_WINDOW_MS` the
        listener took before ``end_ms``."""
        parts = [
            c.samples
            for c in self._taken
            if c.t_audio_ms < end_ms and c.t_audio_ms + self.chunk_ms > end_ms - LEVEL_WINDOW_MS
        ]
        if not parts:
            return SILENT_DBFS
        return speech_level_dbfs(np.concatenate(parts))


def speech_level_dbfs(samples: Int16Array, frame: int = RATE_HZ // 50) -> float:
    """The :data:`LEVEL_PERCENTILE` of the 20 ms frame RMS levels of ``samples`` (16 kHz),
    in dBFS: how loud the speech in it is, whatever share of it is room tone."""
    n = len(samples) // frame
    if n == 0:
        return SILENT_DBFS
    x = samples[: n * frame].astype(np.float64).reshape(n, frame) / 32768.0
    rms = float(np.percentile(np.sqrt(np.mean(x * x, axis=1)), LEVEL_PERCENTILE))
    return round(max(SILENT_DBFS, 20.0 * math.log10(rms)) if rms > 0 else SILENT_DBFS, 1)


Send = Callable[[WyEvent], Coroutine[Any, Any, None]]


class SatelliteSink:
    """The reply, streamed to the satellite as ``audio-start``, ``audio-chunk``... and
    (:meth:`finish`) ``audio-stop``. :meth:`write` runs on an executor thread and
    returns when the chunk would have played (the satellite of wyoming-satellite
    1.0.0 says nothing when it has), keeping :data:`LEAD_S` ahead, so a turn lasts
    as long as its reply and a stop drops what was not yet sent."""

    LEAD_S = 0.5

    def __init__(self, send: Send, loop: asyncio.AbstractEventLoop) -> None:
        self._send = send
        self._loop = loop
        self._lock = threading.Lock()
        self.started = False
        self.enabled = True
        """False: the satellite plays nothing (its pipeline ends before tts), or this
        turn stood down: writes are dropped."""
        self._play_until = 0.0
        self._stopped = False

    def _call(self, event: WyEvent) -> None:
        """Send from the speak stage's thread; the send's own timeout bounds the wait."""
        sent = asyncio.run_coroutine_threadsafe(self._send(event), self._loop)
        try:
            sent.result(timeout=SEND_WAIT_S)
        except TimeoutError:
            sent.cancel()
            raise

    def write(self, samples: Int16Array, rate_hz: int) -> None:
        with self._lock:
            if not self.enabled:
                return
            self._stopped = False
            if not self.started:
                self.started = True
                self._call(AudioStart(rate=rate_hz, width=2, channels=1).event())
                self._play_until = time.monotonic()
            audio = samples.astype("<i2").tobytes()
            self._call(WyAudioChunk(rate=rate_hz, width=2, channels=1, audio=audio).event())
            now = time.monotonic()
            self._play_until = max(self._play_until, now) + len(samples) / rate_hz
        wait = self._play_until - self.LEAD_S - time.monotonic()
        while wait > 0 and not self._stopped:
            time.sleep(min(wait, 0.05))
            wait = self._play_until - self.LEAD_S - time.monotonic()

    def stop(self) -> None:
        self._stopped = True

    async def finish(self) -> None:
        """The reply is over: ``audio-stop`` if one was streamed; ready for the next."""
        if self.started:
            self.started = False
            await self._send(AudioStop().event())
        self.enabled = True
