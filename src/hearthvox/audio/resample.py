"""Sample-format helpers and soxr resampling for mono 16-bit audio.

int16 <-> float32 uses the scale 32768, so ``to_int16(to_float32(x))`` gives ``x``
back exactly. Resampling runs in float32 with soxr's "HQ" quality; the one-shot
and the streaming resampler give the same samples for the same input.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import soxr

from hearthvox.events import Float32Array, Int16Array

QUALITY = "HQ"
_SCALE = 32768.0
MIN_SOURCE_RATE_HZ = 8000
MAX_SOURCE_RATE_HZ = 384_000
"""Rates accepted from outside (files, streams, Wyoming clients): telephone to studio.
Outside it, resampling to 16 kHz would multiply the audio (1 Hz -> 16000 x) or is a lie."""


def source_rate_ok(rate_hz: int) -> bool:
    return MIN_SOURCE_RATE_HZ <= rate_hz <= MAX_SOURCE_RATE_HZ


def to_float32(x: Int16Array) -> Float32Array:
    """int16 samples to float32 in [-1, 1)."""
    return (np.asarray(x, dtype=np.float32) / np.float32(_SCALE)).astype(np.float32, copy=False)


def to_int16(x: Float32Array) -> Int16Array:
    """float samples (nominally in [-1, 1]) to int16, rounded and clipped; NaN becomes 0."""
    y = np.nan_to_num(np.asarray(x, dtype=np.float32), nan=0.0, posinf=1.0, neginf=-1.0)
    return round_to_int16(y * np.float32(_SCALE))


def round_to_int16(x: npt.NDArray[np.floating[Any]]) -> Int16Array:
    """Values already on the int16 scale, rounded to the nearest integer and clipped."""
    out: Int16Array = np.clip(np.rint(x), -32768, 32767).astype(np.int16)
    return out


def _check_rates(from_hz: int, to_hz: int) -> None:
    if from_hz <= 0 or to_hz <= 0:
        raise ValueError(f"sample rates must be positive, got {from_hz} Hz -> {to_hz} Hz")


def resample_int16(x: Int16Array, from_hz: int, to_hz: int) -> Int16Array:
    """Resample mono int16 audio; returns ``x`` itself when the rates match."""
    _check_rates(from_hz, to_hz)
    if from_hz == to_hz:
        return x
    if len(x) == 0:
        return np.zeros(0, dtype=np.int16)
    y = soxr.resample(to_float32(x), from_hz, to_hz, quality=QUALITY)
    return to_int16(np.asarray(y, dtype=np.float32))


class StreamResampler:
    """Streaming mono int16 resampler: feed blocks with :meth:`process`, then :meth:`flush`.

    With equal rates it passes blocks through untouched.
    """

    def __init__(self, from_hz: int, to_hz: int) -> None:
        _check_rates(from_hz, to_hz)
        self.from_hz = from_hz
        self.to_hz = to_hz
        self._stream: soxr.ResampleStream | None = None
        if from_hz != to_hz:
            self._stream = soxr.ResampleStream(from_hz, to_hz, 1, dtype="float32", quality=QUALITY)

    def process(self, x: Int16Array) -> Int16Array:
        if self._stream is None:
            return x
        if len(x) == 0:
            return np.zeros(0, dtype=np.int16)
        y = self._stream.resample_chunk(to_float32(x), last=False)
        return to_int16(np.asarray(y, dtype=np.float32))

    def flush(self) -> Int16Array:
        """The resampler's delayed tail; call once at the end of the stream."""
        if self._stream is None:
            return np.zeros(0, dtype=np.int16)
        y = self._stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        self._stream.clear()
        return to_int16(np.asarray(y, dtype=np.float32))
