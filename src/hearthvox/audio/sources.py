"""Async sources of :class:`AudioChunk`: an array, a WAV stream, a microphone.

Every source yields mono int16 chunks of exactly ``rate_hz * chunk_ms // 1000``
samples (the last one zero-padded), with ``t_audio_ms`` the position of the chunk's
start in the stream.

With ``realtime=True`` a file is fed at the speed of a microphone: chunk k is handed
out once its audio would have been captured, ``(k + 1)`` chunk durations after the
source started, measured against ``time.monotonic()`` so that drift does not build up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import numpy as np

from hearthvox.audio.devices import have_input_device, list_devices
from hearthvox.audio.mic import MicOptions, MicSource
from hearthvox.audio.wavio import WavStream
from hearthvox.events import AudioChunk, Int16Array

__all__ = [
    "MicOptions",
    "MicSource",
    "array_source",
    "chunk_samples",
    "have_input_device",
    "list_devices",
    "stream_source",
]


def chunk_samples(rate_hz: int, chunk_ms: int) -> int:
    n = rate_hz * chunk_ms // 1000
    if n <= 0:
        raise ValueError(f"{chunk_ms} ms at {rate_hz} Hz is less than one sample")
    return n


def _padded(x: Int16Array, n: int) -> Int16Array:
    if len(x) == n:
        return x
    out = np.zeros(n, dtype=np.int16)
    out[: len(x)] = x
    return out


class _Pacer:
    """Holds chunk k back until ``(k + 1) * chunk`` seconds after the first call."""

    def __init__(self, chunk_s: float, realtime: bool) -> None:
        self.chunk_s = chunk_s
        self.realtime = realtime
        self._t0: float | None = None

    async def wait(self, k: int) -> None:
        now = time.monotonic()
        if self._t0 is None:
            self._t0 = now
        delay = self._t0 + (k + 1) * self.chunk_s - now if self.realtime else 0.0
        await asyncio.sleep(max(0.0, delay))


async def _paced(
    blocks: AsyncIterator[Int16Array], rate_hz: int, chunk_ms: int, realtime: bool
) -> AsyncIterator[AudioChunk]:
    n = chunk_samples(rate_hz, chunk_ms)
    pacer = _Pacer(n / rate_hz, realtime)
    k = 0
    async for block in blocks:
        await pacer.wait(k)
        yield AudioChunk(
            samples=_padded(block, n), rate_hz=rate_hz, t_audio_ms=k * n * 1000 // rate_hz
        )
        k += 1


async def array_source(
    samples: Int16Array, rate_hz: int, chunk_ms: int, realtime: bool
) -> AsyncIterator[AudioChunk]:
    """Chunks of ``samples`` (mono int16 at ``rate_hz``)."""
    n = chunk_samples(rate_hz, chunk_ms)

    async def blocks() -> AsyncIterator[Int16Array]:
        for i in range(0, len(samples), n):
            yield samples[i : i + n]

    async for chunk in _paced(blocks(), rate_hz, chunk_ms, realtime):
        yield chunk


async def stream_source(wav: WavStream, chunk_ms: int, realtime: bool) -> AsyncIterator[AudioChunk]:
    """Chunks of a WAV stream (e.g. stdin), read off the event loop."""
    n = chunk_samples(wav.rate_hz, chunk_ms)
    it = wav.chunks(n)
    end = np.zeros(0, dtype=np.int16)

    async def blocks() -> AsyncIterator[Int16Array]:
        while True:
            block = await asyncio.to_thread(next, it, end)
            if block is end:
                return
            yield block

    async for chunk in _paced(blocks(), wav.rate_hz, chunk_ms, realtime):
        yield chunk
