"""Per-request stream state: a transcription and a wake word detection.

Each connection's request gets its own objects here; only the loaded engines
are shared (see :mod:`hearthvox.protocol.services`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import numpy as np

from hearthvox.audio.sinks import NullSink
from hearthvox.engines.wake import FRAME_SAMPLES as WAKE_FRAME
from hearthvox.events import AudioChunk, Int16Array, Transcript
from hearthvox.pipeline.runner import Pipeline
from hearthvox.protocol.framing import ProtocolError
from hearthvox.protocol.pcm import RATE_HZ
from hearthvox.protocol.services import Services
from hearthvox.vocabulary import Vocabulary


def _empty() -> Int16Array:
    return np.zeros(0, dtype=np.int16)


class AsrStream:
    """Audio in, text out, through the :class:`~hearthvox.pipeline.runner.Pipeline` of a
    :class:`~hearthvox.pipeline.scribe.Scribe`, which runs while the audio arrives.
    With streaming, the audio is cut at pauses (Silero VAD) and each finished segment
    is transcribed while the rest arrives; ``on_chunk`` gets its text. Audio with no
    pause is transcribed whole, exactly as ``hearthvox transcribe`` does. The chunks
    concatenate to the final text."""

    def __init__(
        self,
        services: Services,
        *,
        max_s: float,
        on_chunk: Callable[[str], Awaitable[None]] | None,
        cut_silence_ms: float = 600.0,
        vocabulary: Vocabulary | None = None,
    ) -> None:
        self.max_samples = int(max_s * RATE_HZ)
        self.n = 0
        self._on_chunk = on_chunk
        scribe = services.scribe(vocabulary, cut_silence_ms if on_chunk is not None else None)
        self._pipeline = Pipeline(scribe, None, services.cfg)
        self._audio: asyncio.Queue[AudioChunk | None] = asyncio.Queue()
        """Unbounded: the request's audio budget (``max_s``) bounds it."""
        self._texts: list[str] = []
        self._task = asyncio.create_task(self._write_down(), name="hv-wyoming-asr")

    async def _source(self) -> AsyncIterator[AudioChunk]:
        while (chunk := await self._audio.get()) is not None:
            yield chunk

    async def _write_down(self) -> str:
        events = self._pipeline.run(self._source(), NullSink(), realtime=False)
        async with contextlib.aclosing(events):
            async for event in events:
                if isinstance(event, Transcript) and event.text:
                    chunk = f" {event.text}" if self._texts else event.text
                    self._texts.append(chunk)
                    if self._on_chunk is not None:
                        await self._on_chunk(chunk)
        return "".join(self._texts)

    async def feed(self, samples: Int16Array) -> None:
        if self.n + len(samples) > self.max_samples:
            raise ProtocolError(
                "too-long",
                f"audio longer than this server's limit of {self.max_samples // RATE_HZ} s",
            )
        if self._task.done():  # a failed transcription fails the request at once
            self._task.result()
        if len(samples):
            t_ms = int(self.n * 1000 / RATE_HZ)
            self.n += len(samples)
            self._audio.put_nowait(AudioChunk(samples, RATE_HZ, t_ms))

    async def finish(self, tail: Int16Array) -> str:
        """The end of the audio: transcribe what is left and return the whole text."""
        await self.feed(tail)
        self._audio.put_nowait(None)
        return await self._task

    async def close(self) -> None:
        if not self._task.done():
            self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task


class WakeStream:
    """80 ms frames through this request's own wake detector; hits for the asked names."""

    def __init__(self, services: Services, names: list[str]) -> None:
        self._detector = services.wake_stream()
        self._names = names
        self._pending = _empty()
        self._frames = 0
        self._last_fire_ms = -1e18
        self.detections = 0

    async def feed(self, samples: Int16Array) -> list[tuple[str, int]]:
        """(model name, stream position in ms at the end of the frame) for each detection."""
        pending = np.concatenate([self._pending, samples])
        n = len(pending) // WAKE_FRAME
        self._pending = pending[n * WAKE_FRAME :]
        if n == 0:
            return []
        frames = [pending[i * WAKE_FRAME : (i + 1) * WAKE_FRAME] for i in range(n)]
        detector = self._detector
        scores = await detector.executor.run(lambda: [detector.scores(f) for f in frames])
        hits: list[tuple[str, int]] = []
        for frame_scores in scores:
            self._frames += 1
            t_ms = self._frames * WAKE_FRAME * 1000 // RATE_HZ
            hit = detector.best_hit({m: frame_scores[m] for m in self._names})
            if hit is not None and t_ms - self._last_fire_ms >= detector.refractory_ms:
                self._last_fire_ms = t_ms
                self.detections += 1
                hits.append((hit[0], t_ms))
        return hits
