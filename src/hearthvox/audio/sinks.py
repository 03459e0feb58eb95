"""Where spoken replies go: nowhere, a WAV file, or the speaker.

A sink is anything with the four methods of :class:`Sink`. ``write`` may block
(the speaker plays the samples before it returns), so call it off the event loop;
``stop`` may be called from another thread while a ``write`` is blocked and makes
it return early.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from hearthvox.audio.devices import (
    find_device,
    have_output_device,
    portaudio_generation,
    release_stream,
)
from hearthvox.audio.resample import resample_int16
from hearthvox.audio.wavio import WavWriter
from hearthvox.errors import AudioDeviceError
from hearthvox.events import Int16Array

log = logging.getLogger(__name__)

__all__ = ["NullSink", "Sink", "SpeakerSink", "WavFileSink", "have_output_device"]


class Sink(Protocol):
    def write(self, samples: Int16Array, rate_hz: int) -> None:
        """Output mono int16 samples at ``rate_hz``."""

    def stop(self) -> None:
        """Drop whatever is queued or playing now (an interrupt); the sink stays usable."""

    def close(self) -> None:
        """Finish: play out / commit the file, release the device."""

    def abort(self) -> None:
        """Give up after an error: release everything, leave nothing half-written."""


class NullSink:
    """Discards audio; counts how much it was given."""

    def __init__(self) -> None:
        self.duration_s = 0.0

    def write(self, samples: Int16Array, rate_hz: int) -> None:
        self.duration_s += len(samples) / rate_hz

    def stop(self) -> None:
        pass

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


class WavFileSink:
    """Writes every reply into one WAV file, atomically on :meth:`close`.

    The rate is fixed by the first write; later writes at another rate are
    resampled to it. Closed without any write, it leaves an empty WAV at
    ``empty_rate_hz``. ``stop`` keeps what was written so far.
    """

    def __init__(self, path: Path, *, empty_rate_hz: int = 16000) -> None:
        self.path = Path(path)
        self.empty_rate_hz = empty_rate_hz
        self._writer: WavWriter | None = None
        self._done = False

    @property
    def rate_hz(self) -> int | None:
        return self._writer.rate_hz if self._writer is not None else None

    def write(self, samples: Int16Array, rate_hz: int) -> None:
        if self._done:
            raise RuntimeError(f"{self.path}: the sink is already closed")
        if self._writer is None:
            self._writer = WavWriter(self.path, rate_hz)
        self._writer.write(resample_int16(samples, rate_hz, self._writer.rate_hz))

    def stop(self) -> None:
        pass

    def close(self) -> None:
        if self._done:
            return
        self._done = True
        writer = self._writer or WavWriter(self.path, self.empty_rate_hz)
        writer.commit()

    def abort(self) -> None:
        self._done = True
        if self._writer is not None:
            self._writer.abort()


class SpeakerSink:
    """Plays through PortAudio; ``write`` returns once the samples have been played.

    A speaker lost after the first reply (unplugged, sound server restarted) is
    logged once and reopened at the next write; what was to be played meanwhile
    is dropped. Only the very first open raises AudioDeviceError.

    The output stream opens at the first write, at that write's rate when the device
    takes it, else at the device's default rate with resampling. PortAudio's callback
    pulls from a queue that ``stop`` empties, so an interrupt silences it at once.
    """

    def __init__(self, device: str = "", *, stall_s: float = 2.0) -> None:
        self.device = device
        self.stall_s = stall_s
        self.rate_hz = 0
        self.device_name = ""
        self._stream: Any = None
        self._lock = threading.Lock()
        self._queue: deque[Int16Array] = deque()
        self._offset = 0
        self._drained = threading.Event()
        self._drained.set()
        self._generation = 0
        self._opened_once = False
        self._stream_gen = 0
        self._lost_logged = False
        self.cue_until = 0.0
        """``time.monotonic()`` when the last earcon has left the speaker."""
        self._reference: deque[tuple[float, Int16Array, int]] = deque(maxlen=64)

    def recent_playback(self, seconds: float, rate_hz: int = 16000) -> Int16Array:
        """What was handed to the speaker in the last ``seconds`` (the echo reference)."""
        since = time.monotonic() - seconds
        with self._lock:
            parts = [(x, r) for t, x, r in self._reference if t >= since]
        if not parts:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate([resample_int16(x, r, rate_hz) for x, r in parts])

    def _open(self, rate_hz: int) -> None:
        sd, dev = find_device(self.device, "output")
        error: Exception | None = None
        for rate in dict.fromkeys([rate_hz, int(dev["default_samplerate"])]):
            try:
                stream = sd.OutputStream(
                    device=dev["index"],
                    samplerate=rate,
                    channels=1,
                    dtype="int16",
                    latency="low",
                    callback=self._callback,
                )
                stream.start()
            except sd.PortAudioError as exc:
                error = exc
                continue
            self._stream, self.rate_hz, self.device_name = stream, rate, str(dev["name"])
            self._stream_gen = portaudio_generation()
            return
        raise AudioDeviceError(f"cannot open speaker {dev['name']!r}: {error}")

    def _callback(self, outdata: Any, frames: int, time_info: Any, status: Any) -> None:
        out = outdata[:, 0]
        filled = 0
        with self._lock:
            while filled < frames and self._queue:
                head = self._queue[0]
                take = min(frames - filled, len(head) - self._offset)
                out[filled : filled + take] = head[self._offset : self._offset + take]
                filled += take
                self._offset += take
                if self._offset == len(head):
                    self._queue.popleft()
                    self._offset = 0
            if not self._queue:
                self._drained.set()
        out[filled:] = 0

    @property
    def playing(self) -> bool:
        """A reply is being played now (what barge-in listens over; not an earcon)."""
        return not self._drained.is_set() and time.monotonic() > self.cue_until

    def cue(self, samples: Int16Array, rate_hz: int) -> None:
        """Play a short sound (an earcon) without waiting for it; sets :attr:`cue_until`."""
        if not self._ready(rate_hz):
            return
        x = resample_int16(np.asarray(samples, dtype=np.int16), rate_hz, self.rate_hz)
        latency = float(self._stream.latency) if self._stream is not None else 0.0
        with self._lock:
            self._queue.append(x)
            self._drained.clear()
        self.cue_until = time.monotonic() + len(x) / self.rate_hz + latency

    def _lost(self, why: str) -> None:
        """The device went away: drop the stream; the next write reopens it."""
        if not self._lost_logged:
            log.warning(
                "speaker %r lost (%s): reopening it at the next reply", self.device_name, why
            )
            self._lost_logged = True
        self.stop()
        stream, self._stream = self._stream, None
        if self._stream_gen == portaudio_generation():  # else PortAudio already freed it
            release_stream(stream, "speaker")

    def _ready(self, rate_hz: int) -> bool:
        """An open, running stream; False (logged once) when the device is not back yet.
        The first open raises AudioDeviceError: there never was a speaker."""
        if self._stream is not None and self._stream_gen != portaudio_generation():
            self._stream = None  # PortAudio was restarted: the stream is already gone
        if self._stream is not None:
            try:
                if self._stream.active:
                    return True
            except Exception:  # torn down by PortAudio (devices re-listed)
                pass
            self._lost("the stream stopped")
        if not self._opened_once:
            self._open(rate_hz)
            self._opened_once = True
            return True
        try:
            self._open(rate_hz)
        except AudioDeviceError as exc:
            self._lost(str(exc))
            return False
        if self._lost_logged:
            log.warning("speaker back: %r at %d Hz", self.device_name, self.rate_hz)
            self._lost_logged = False
        return True

    def write(self, samples: Int16Array, rate_hz: int) -> None:
        # A stream that went silently dead (sound server restarted) is found by the
        # stall; it is reopened and the block tried once more, so the reply plays.
        for attempt in range(2):
            if not self._ready(rate_hz):
                return  # no speaker now: the reply is dropped, the assistant goes on
            if self._play(samples, rate_hz):
                return
            if attempt == 0:
                log.info("speaker stalled: reopening it and playing the block again")

    def _play(self, samples: Int16Array, rate_hz: int) -> bool:
        """Queue one block and wait until it has been played; False on a stall."""
        x = resample_int16(np.asarray(samples, dtype=np.int16), rate_hz, self.rate_hz)
        if not len(x):
            return True
        with self._lock:
            self._queue.append(x)
            self._drained.clear()
            generation = self._generation
            self._reference.append((time.monotonic(), samples, rate_hz))
        timeout = len(x) / self.rate_hz + self.stall_s
        if not self._drained.wait(timeout):
            self._lost(f"nothing played for {self.stall_s:.1f} s")
            return False
        if generation == self._generation:
            # the last block is in PortAudio's buffer: wait until it has left the speaker
            latency = float(self._stream.latency) if self._stream is not None else 0.0
            time.sleep(latency)
        return True

    def stop(self) -> None:
        with self._lock:
            self._queue.clear()
            self._offset = 0
            self._generation += 1
            self._drained.set()

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
            finally:
                stream.close()

    def abort(self) -> None:
        self.stop()
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.abort()
            finally:
                stream.close()
