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
import queue
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from hearthvox.audio.buffers import Rechunker
from hearthvox.audio.devices import find_device, have_input_device, list_devices
from hearthvox.audio.resample import StreamResampler, round_to_int16
from hearthvox.audio.wavio import WavStream
from hearthvox.errors import AudioDeviceError
from hearthvox.events import AudioChunk, Int16Array

__all__ = [
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


class MicSource:
    """The microphone, captured at the device's native rate and resampled to ``rate_hz``.

    PortAudio's callback only copies each block into a bounded queue; when the queue
    is full the block is dropped and counted in :attr:`overflows` (it never blocks).
    """

    poll_s = 0.25

    def __init__(
        self,
        device: str = "",
        rate_hz: int = 16000,
        chunk_ms: int = 80,
        *,
        queue_s: float = 2.0,
        stall_s: float = 2.0,
    ) -> None:
        self.device = device
        self.rate_hz = rate_hz
        self.chunk_ms = chunk_ms
        self.chunk_samples = chunk_samples(rate_hz, chunk_ms)
        self.stall_s = stall_s
        self.device_name = ""
        self.native_rate_hz = 0
        self.overflows = 0
        """Blocks dropped because the consumer fell more than ``queue_s`` behind."""
        self.xruns = 0
        """Blocks PortAudio flagged as input overflow (samples lost in the driver)."""
        self._queue_s = queue_s
        self._queue: queue.Queue[npt.NDArray[np.int16]] = queue.Queue()
        self._stream: Any = None
        self._channels = 1

    def open(self) -> None:
        """Find the device and start capturing; AudioDeviceError when there is none."""
        if self._stream is not None:
            return
        sd, dev = find_device(self.device, "input")
        rate = int(dev["default_samplerate"])
        block = max(1, rate // 50)  # 20 ms blocks
        self._queue = queue.Queue(maxsize=max(2, int(self._queue_s * 50)))
        error: Exception | None = None
        for channels in dict.fromkeys([1, min(2, int(dev["max_input_channels"]))]):
            try:
                stream = sd.InputStream(
                    device=dev["index"],
                    samplerate=rate,
                    channels=channels,
                    dtype="int16",
                    blocksize=block,
                    callback=self._callback,
                )
                stream.start()
            except sd.PortAudioError as exc:
                error = exc
                continue
            self._stream, self._channels = stream, channels
            self.device_name, self.native_rate_hz = str(dev["name"]), rate
            return
        raise AudioDeviceError(f"cannot open microphone {dev['name']!r}: {error}")

    def _callback(self, indata: Any, frames: int, time_info: Any, status: Any) -> None:
        if status.input_overflow:
            self.xruns += 1
        try:
            self._queue.put_nowait(indata.copy())
        except queue.Full:
            self.overflows += 1

    def _take(self) -> list[npt.NDArray[np.int16]]:
        """Blocks waiting now (at least one, unless ``poll_s`` passes first)."""
        try:
            blocks = [self._queue.get(timeout=self.poll_s)]
        except queue.Empty:
            return []
        while True:
            try:
                blocks.append(self._queue.get_nowait())
            except queue.Empty:
                return blocks

    def _blocks(self) -> Iterator[Int16Array]:
        for block in self._take():
            yield block[:, 0] if self._channels == 1 else round_to_int16(block.mean(axis=1))

    async def chunks(self) -> AsyncIterator[AudioChunk]:
        """Chunks until :meth:`close`; AudioDeviceError when the device stalls."""
        self.open()
        resampler = StreamResampler(self.native_rate_hz, self.rate_hz)
        rechunker = Rechunker(self.chunk_samples)
        pos = 0
        idle_s = 0.0
        while self._stream is not None:
            blocks = await asyncio.to_thread(lambda: list(self._blocks()))
            if not blocks:
                idle_s += self.poll_s
                if idle_s >= self.stall_s and self._stream is not None:
                    raise AudioDeviceError(
                        f"the microphone {self.device_name!r} delivered no audio for "
                        f"{idle_s:.1f} s: it was unplugged or the sound server stopped"
                    )
                continue
            idle_s = 0.0
            for block in blocks:
                for chunk in rechunker.push(resampler.process(block)):
                    yield AudioChunk(chunk, self.rate_hz, pos * 1000 // self.rate_hz)
                    pos += len(chunk)

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
            finally:
                stream.close()

    def __enter__(self) -> MicSource:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
