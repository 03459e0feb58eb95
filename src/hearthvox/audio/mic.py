"""The microphone through PortAudio, with loss and recovery.

Capture runs at the device's native rate (or ``native_rate_hz`` when given) and
is resampled to ``rate_hz`` with soxr. PortAudio's callback only copies each
block into a bounded queue; when the queue is full the block is dropped and
counted in :attr:`MicSource.overflows` (it never blocks, it is never fatal).

Device loss: a stream that delivers nothing for ``stall_s`` (a USB microphone
unplugged; a sound server that died leaves PortAudio's stream silently inactive)
or that PortAudio reports inactive is closed and reopened with backoff
(``retry_s`` doubling up to ``retry_max_s``; from the second try on, PortAudio
re-lists the devices so that a replugged headset is found). Meanwhile the source
yields silence at the pace of a microphone, so the stream clock, the heartbeat
and the daemon go on. Each change of state (lost, back) is logged once.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from hearthvox.audio.buffers import Rechunker
from hearthvox.audio.devices import (
    find_device,
    portaudio_generation,
    refresh_portaudio,
    release_stream,
    streams_stuck,
)
from hearthvox.audio.resample import StreamResampler, round_to_int16
from hearthvox.errors import AudioDeviceError
from hearthvox.events import AudioChunk, Int16Array

log = logging.getLogger(__name__)


def _chunk_samples(rate_hz: int, chunk_ms: int) -> int:
    n = rate_hz * chunk_ms // 1000
    if n <= 0:
        raise ValueError(f"{chunk_ms} ms at {rate_hz} Hz is less than one sample")
    return n


@dataclass(frozen=True)
class MicOptions:
    queue_s: float = 2.0
    """Audio the callback may queue before blocks are dropped (and counted)."""
    stall_s: float = 1.0
    """No audio for this long: the device is taken as lost."""
    retry_s: float = 0.25
    """First wait before reopening a lost device; doubles per failed try."""
    retry_max_s: float = 1.0
    """Longest wait between tries (the device is back within about this)."""
    native_rate_hz: int = 0
    """Capture rate on the device side (0: the device's default rate)."""
    wait: bool = False
    """With no device at the start, wait for one (yielding silence) instead of failing."""


class MicSource:
    """The microphone, captured at the device's native rate and resampled to ``rate_hz``."""

    poll_s = 0.1

    def __init__(
        self,
        device: str = "",
        rate_hz: int = 16000,
        chunk_ms: int = 80,
        options: MicOptions | None = None,
    ) -> None:
        self.device = device
        self.rate_hz = rate_hz
        self.chunk_ms = chunk_ms
        self.chunk_samples = _chunk_samples(rate_hz, chunk_ms)
        self.opts = options or MicOptions()
        self.device_name = ""
        self.native_rate_hz = 0
        self.overflows = 0
        """Blocks dropped because the consumer fell more than ``queue_s`` behind."""
        self.xruns = 0
        """Blocks PortAudio flagged as input overflow (samples lost in the driver)."""
        self.losses = 0
        """How many times the device was lost (and reopened)."""
        self.lost = False
        """The device is lost now (silence is being yielded while it is retried)."""
        self._queue: queue.Queue[npt.NDArray[np.int16]] = queue.Queue()
        self._stream: Any = None
        self._channels = 1
        self._closed = False
        self._stream_gen = 0

    def open(self) -> None:
        """Find the device and start capturing; AudioDeviceError when there is none."""
        if self._stream is not None:
            return
        self._closed = False
        sd, dev = find_device(self.device, "input")
        rate = self.opts.native_rate_hz or int(dev["default_samplerate"])
        block = max(1, rate // 50)  # 20 ms blocks
        self._queue = queue.Queue(maxsize=max(2, int(self.opts.queue_s * 50)))
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
            self._stream_gen = portaudio_generation()
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

    def _blocks(self) -> list[Int16Array]:
        def mono(block: npt.NDArray[np.int16]) -> Int16Array:
            return block[:, 0] if self._channels == 1 else round_to_int16(block.mean(axis=1))

        return [mono(b) for b in self._take()]

    def _active(self) -> bool:
        stream = self._stream
        if stream is None or self._stream_gen != portaudio_generation():
            return False
        try:
            return bool(stream.active)
        except Exception:  # a stream PortAudio already tore down
            return False

    def _reopen(self, attempt: int) -> bool:
        """One try at getting the device back (re-listing devices from the second on)."""
        self._drop_stream()
        try:
            try:
                self.open()
                return True
            except AudioDeviceError:
                # re-list the devices (a replugged headset has a new index), unless a
                # stream PortAudio could not close would make that hang
                if attempt == 0 or streams_stuck():
                    raise
            refresh_portaudio()
            self.open()
        except AudioDeviceError as exc:
            if attempt == 0:
                log.debug("microphone not back yet: %s", exc)
            return False
        return True

    async def chunks(self) -> AsyncIterator[AudioChunk]:
        """Chunks until :meth:`close`, across losses of the device."""
        if self._stream is None:
            try:
                self.open()
            except AudioDeviceError:
                if not self.opts.wait:
                    raise
                self._set_lost("no microphone at the start")
        rechunker = Rechunker(self.chunk_samples)
        pos = 0
        while not self._closed:
            if self.lost:
                async for chunk in self._outage(pos):
                    yield chunk
                    pos += len(chunk.samples)
                rechunker = Rechunker(self.chunk_samples)
                continue
            async for x in self._captured():
                for block in rechunker.push(x):
                    yield AudioChunk(block, self.rate_hz, pos * 1000 // self.rate_hz)
                    pos += len(block)

    async def _captured(self) -> AsyncIterator[Int16Array]:
        """Resampled audio until the stream is lost or closed."""
        resampler = StreamResampler(self.native_rate_hz, self.rate_hz)
        idle_s = 0.0
        while self._stream is not None:
            blocks = await asyncio.to_thread(self._blocks)
            if blocks:
                idle_s = 0.0
                for block in blocks:
                    yield resampler.process(block)
                continue
            idle_s += self.poll_s
            if self._stream is None:
                return
            if idle_s >= self.opts.stall_s or not self._active():
                self._set_lost(f"no audio for {idle_s:.1f} s")
                return

    async def _outage(self, pos: int) -> AsyncIterator[AudioChunk]:
        """Silence at the pace of a microphone while the device is retried with backoff."""
        chunk_s = self.chunk_samples / self.rate_hz
        t0 = time.monotonic()
        delay, attempt, k = self.opts.retry_s, 0, 0
        next_try = t0 + delay
        silence = np.zeros(self.chunk_samples, dtype=np.int16)
        while not self._closed:
            now = time.monotonic()
            if now >= next_try:
                if await asyncio.to_thread(self._reopen, attempt):
                    self.lost = False
                    log.warning(
                        "microphone back: %r at %d Hz after %.1f s",
                        self.device_name,
                        self.native_rate_hz,
                        now - t0,
                    )
                    return
                attempt += 1
                delay = min(delay * 2, self.opts.retry_max_s)
                next_try = time.monotonic() + delay
            due = t0 + (k + 1) * chunk_s
            if due > time.monotonic():
                await asyncio.sleep(due - time.monotonic())
            t_ms = (pos + k * self.chunk_samples) * 1000 // self.rate_hz
            yield AudioChunk(silence, self.rate_hz, t_ms)
            k += 1

    def _set_lost(self, why: str) -> None:
        self.lost = True
        self.losses += 1
        name = f" {self.device_name!r}" if self.device_name else ""
        log.warning(
            "microphone%s lost (%s): unplugged, or the sound server stopped; "
            "retrying until it is back",
            name,
            why,
        )

    def _drop_stream(self) -> None:
        stream, self._stream = self._stream, None
        if self._stream_gen == portaudio_generation():  # else PortAudio already freed it
            release_stream(stream, "microphone")

    def close(self) -> None:
        self._closed = True
        stream, self._stream = self._stream, None
        if stream is not None and self._stream_gen == portaudio_generation():
            try:
                stream.stop()
            finally:
                stream.close()

    def __enter__(self) -> MicSource:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
