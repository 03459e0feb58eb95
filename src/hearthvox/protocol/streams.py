"""Per-request stream state: a transcription and a wake word detection.

Each connection's request gets its own objects here; only the loaded engines
are shared (see :mod:`hearthvox.protocol.services`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import numpy as np

from hearthvox.engines.vad import FRAME_SAMPLES as VAD_FRAME
from hearthvox.engines.wake import FRAME_SAMPLES as WAKE_FRAME
from hearthvox.events import Int16Array
from hearthvox.protocol.framing import ProtocolError
from hearthvox.protocol.pcm import RATE_HZ
from hearthvox.protocol.services import Services
from hearthvox.vocabulary import Vocabulary

MIN_SPEECH_MS = 200.0
"""A segment needs this much voiced audio to be worth transcribing on its own."""
MIN_SEGMENT_S = 1.0


def _empty() -> Int16Array:
    return np.zeros(0, dtype=np.int16)


class AudioBuffer:
    """The request's 16 kHz audio, bounded."""

    def __init__(self, max_s: float) -> None:
        self._parts: list[Int16Array] = []
        self.n = 0
        self.max_samples = int(max_s * RATE_HZ)

    def append(self, samples: Int16Array) -> None:
        if self.n + len(samples) > self.max_samples:
            raise ProtocolError(
                "too-long",
                f"audio longer than this server's limit of {self.max_samples // RATE_HZ} s",
            )
        if len(samples):
            self._parts.append(samples)
            self.n += len(samples)

    def all(self) -> Int16Array:
        if len(self._parts) > 1:
            self._parts = [np.concatenate(self._parts)]
        return self._parts[0] if self._parts else _empty()


class AsrStream:
    """Audio in, text out. With streaming, the audio is cut at pauses (Silero VAD) and
    each finished segment is transcribed while the rest arrives; ``on_chunk`` gets its
    text. Audio with no pause is transcribed whole, exactly as ``hearthvox transcribe``
    does. The chunks concatenate to the final text."""

    def __init__(
        self,
        services: Services,
        *,
        max_s: float,
        on_chunk: Callable[[str], Awaitable[None]] | None,
        cut_silence_ms: float = 600.0,
        vocabulary: Vocabulary | None = None,
    ) -> None:
        self._services = services
        self._vocabulary = vocabulary
        self._audio = AudioBuffer(max_s)
        self._on_chunk = on_chunk
        self._vad = services.vad_stream() if on_chunk is not None else None
        self._frame_ms = VAD_FRAME * 1000.0 / RATE_HZ
        self._cut_silence_ms = cut_silence_ms
        self._vad_pos = 0
        self._seg_start = 0
        self._voiced_ms = 0.0
        self._silence_ms = 0.0
        self._cuts = 0
        self._texts: list[str] = []
        self._chain: asyncio.Future[None] | None = None

    async def feed(self, samples: Int16Array) -> None:
        self._audio.append(samples)
        if self._vad is None or not len(samples):
            return
        probs = await self._vad.executor.run(self._vad.feed, samples)
        for p in probs:
            self._vad_pos += VAD_FRAME
            if p >= self._services.vad_threshold:
                self._voiced_ms += self._frame_ms
                self._silence_ms = 0.0
            else:
                self._silence_ms += self._frame_ms
            long_enough = self._vad_pos - self._seg_start >= MIN_SEGMENT_S * RATE_HZ
            if (
                long_enough
                and self._voiced_ms >= MIN_SPEECH_MS
                and self._silence_ms >= self._cut_silence_ms
            ):
                self._cut(self._vad_pos)

    def _cut(self, end: int) -> None:
        segment = self._audio.all()[self._seg_start : end]
        self._seg_start = end
        self._voiced_ms = self._silence_ms = 0.0
        self._cuts += 1
        self._chain = asyncio.ensure_future(self._segment(self._chain, segment))

    async def _segment(self, before: asyncio.Future[None] | None, audio: Int16Array) -> None:
        if before is not None:
            await before
        await self._emit(await self._services.transcribe(audio, self._vocabulary))

    async def _emit(self, text: str) -> None:
        if not text:
            return
        chunk = f" {text}" if self._texts else text
        self._texts.append(chunk)
        if self._on_chunk is not None:
            await self._on_chunk(chunk)

    async def finish(self, tail: Int16Array) -> str:
        """The end of the audio: transcribe what is left and return the whole text."""
        self._audio.append(tail)
        audio = self._audio.all()
        if self._cuts == 0:
            await self._emit(await self._services.transcribe(audio, self._vocabulary))
        else:
            if self._chain is not None:
                await self._chain
            if self._voiced_ms >= MIN_SPEECH_MS:
                await self._emit(
                    await self._services.transcribe(audio[self._seg_start :], self._vocabulary)
                )
        return "".join(self._texts)

    async def close(self) -> None:
        if self._chain is not None and not self._chain.done():
            self._chain.cancel()
        if self._chain is not None:
            with contextlib.suppress(BaseException):
                await self._chain


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
