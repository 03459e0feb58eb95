"""A stream written down: source -> segmenter -> transcribe, for a caller that says
where the stream ends (a Wyoming transcription, :mod:`hearthvox.protocol`).

There is no wake word, endpoint or reply. With a VAD, the audio up to a long pause is
one segment, decoded on the recogniser's thread while the rest arrives; whatever
follows the last pause is decoded at the end of the input. A stream with no long
pause is decoded whole, as ``hearthvox transcribe`` decodes a file.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from hearthvox.engines.asr import Recogniser
from hearthvox.engines.vad import FRAME_SAMPLES, SileroVad
from hearthvox.events import AudioChunk, Event, Int16Array, SpeechEnded
from hearthvox.pipeline.clock import StreamClock

MIN_SPEECH_MS = 200.0
"""A segment needs this much voiced audio to be worth decoding on its own."""
MIN_SEGMENT_S = 1.0
"""A pause cuts the stream only after this much audio since the last cut."""

Admission = Callable[[], contextlib.AbstractAsyncContextManager[object]]
"""Entered around each decode: a server's turn on engines it shares with the assistant
(:class:`~hearthvox.protocol.gate.EngineGate`); it may raise an
:class:`~hearthvox.errors.EngineError` instead."""


@dataclass
class Scribe:
    """The engines of a transcription: a :class:`~hearthvox.pipeline.runner.Pipeline`
    built on them runs source -> segmenter -> transcribe, and yields each segment's
    :class:`~hearthvox.events.SpeechEnded` and its
    :class:`~hearthvox.events.Transcript`, in the stream's order."""

    asr: Recogniser
    vad: SileroVad | None
    """Cuts the stream at pauses (a stream of its own: ``new_stream()``); None: never,
    the whole stream is one segment."""
    threshold: float
    """VAD speech probability from which a frame is voiced."""
    cut_silence_ms: float = 600.0
    admit: Admission | None = None


class _Segments:
    """The stream's audio so far and where the current segment starts."""

    def __init__(self) -> None:
        self.parts: list[Int16Array] = []
        self.n = 0
        self.start = 0

    def add(self, samples: Int16Array) -> None:
        if len(samples):
            self.parts.append(samples)
            self.n += len(samples)

    def cut(self, end: int) -> Int16Array:
        """The audio from the segment's start to ``end``; the next segment starts there."""
        if len(self.parts) > 1:
            self.parts = [np.concatenate(self.parts)]
        whole = self.parts[0] if self.parts else np.zeros(0, dtype=np.int16)
        segment, self.start = whole[self.start : end], end
        return segment


async def segment_stage(
    chunks: AsyncIterator[AudioChunk], scribe: Scribe, clock: StreamClock
) -> AsyncIterator[Event]:
    """One :class:`SpeechEnded` per segment: at each pause of ``scribe.cut_silence_ms``
    after at least MIN_SEGMENT_S of audio with MIN_SPEECH_MS voiced, and at the end of
    the input (the whole stream when nothing was cut; else the rest, if voiced)."""
    audio = _Segments()
    vad = scribe.vad
    frame_ms = FRAME_SAMPLES * 1000.0 / 16000
    pos = 0
    voiced_ms = silence_ms = 0.0
    cuts = 0
    rate_hz = 16000

    def ended(
        segment: Int16Array, reason: Literal["silence", "end_of_input"], wait_ms: float
    ) -> SpeechEnded:
        start_ms = int((pos - len(segment)) * 1000 / rate_hz)
        return SpeechEnded(
            *clock.stamp(),
            audio=segment,
            rate_hz=rate_hz,
            speech_start_ms=max(0, start_ms),
            reason=reason,
            endpoint_wait_ms=wait_ms,
        )

    async for chunk in chunks:
        rate_hz = chunk.rate_hz
        audio.add(chunk.samples)
        clock.audio_ms = audio.n * 1000.0 / rate_hz
        if vad is None or not len(chunk.samples):
            continue
        probs = await vad.executor.run(vad.feed, chunk.samples)
        for p in probs:
            pos += FRAME_SAMPLES
            if p >= scribe.threshold:
                voiced_ms += frame_ms
                silence_ms = 0.0
            else:
                silence_ms += frame_ms
            long_enough = pos - audio.start >= MIN_SEGMENT_S * rate_hz
            if long_enough and voiced_ms >= MIN_SPEECH_MS and silence_ms >= scribe.cut_silence_ms:
                cuts += 1
                yield ended(audio.cut(pos), "silence", silence_ms)
                voiced_ms = silence_ms = 0.0
    pos = audio.n
    if cuts == 0 or voiced_ms >= MIN_SPEECH_MS:
        yield ended(audio.cut(pos), "end_of_input", 0.0)
