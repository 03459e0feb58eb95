"""Client audio (any rate, 8/16/24/32-bit, any channel count) to 16 kHz mono int16, streamed.

Wyoming audio is raw little-endian signed PCM, interleaved; the format rides on
``audio-start`` and on every ``audio-chunk``. Widths follow the wyoming
package's converter (``audioop`` semantics): 1 byte is signed 8-bit, 3 bytes is
packed 24-bit, 4 bytes is 32-bit integer. Channels are averaged; the rate goes
through :class:`hearthvox.audio.resample.StreamResampler`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hearthvox.audio.resample import (
    MAX_SOURCE_RATE_HZ,
    MIN_SOURCE_RATE_HZ,
    StreamResampler,
    round_to_int16,
    source_rate_ok,
)
from hearthvox.events import Int16Array
from hearthvox.protocol.framing import ProtocolError

RATE_HZ = 16000
MAX_CHANNELS = 16


@dataclass(frozen=True)
class PcmFormat:
    rate: int
    width: int
    channels: int

    @property
    def frame_bytes(self) -> int:
        return self.width * self.channels

    def duration_s(self, n_bytes: int) -> float:
        """Seconds of audio in ``n_bytes`` of this format (whole frames)."""
        return n_bytes // self.frame_bytes / self.rate

    @staticmethod
    def from_data(data: dict[str, object]) -> PcmFormat:
        """The format of an ``audio-start`` / ``audio-chunk`` event, checked."""
        values = []
        for key in ("rate", "width", "channels"):
            value = data.get(key)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ProtocolError("bad-event", f"audio {key} must be an integer, got {value!r}")
            values.append(value)
        rate, width, channels = values
        if not source_rate_ok(rate):
            raise ProtocolError(
                "bad-event",
                f"audio rate {rate} Hz is out of range "
                f"({MIN_SOURCE_RATE_HZ} to {MAX_SOURCE_RATE_HZ} Hz)",
            )
        if width not in (1, 2, 3, 4):
            raise ProtocolError("bad-event", f"audio width must be 1, 2, 3 or 4 bytes, got {width}")
        if not 0 < channels <= MAX_CHANNELS:
            raise ProtocolError(
                "bad-event", f"audio channels {channels} is out of range (1 to {MAX_CHANNELS})"
            )
        return PcmFormat(rate, width, channels)


def _to_float_mono(raw: bytes, fmt: PcmFormat) -> np.ndarray:
    """Whole frames of raw PCM to float samples on the int16 scale, channels averaged."""
    if fmt.width == 1:
        x = np.frombuffer(raw, dtype=np.int8).astype(np.float32) * 256.0
    elif fmt.width == 2:
        x = np.frombuffer(raw, dtype="<i2").astype(np.float32)
    elif fmt.width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        v = np.where(v >= 1 << 23, v - (1 << 24), v)
        x = v.astype(np.float32) / 256.0
    else:
        x = np.frombuffer(raw, dtype="<i4").astype(np.float64).astype(np.float32) / 65536.0
    if fmt.channels > 1:
        x = x.reshape(-1, fmt.channels).mean(axis=1, dtype=np.float32)
    return x


class PcmConverter:
    """Feed raw chunks in one format with :meth:`convert`; call :meth:`flush` at the end."""

    def __init__(self, fmt: PcmFormat) -> None:
        self.format = fmt
        self._resampler = StreamResampler(fmt.rate, RATE_HZ)
        self._rest = b""  # bytes of an incomplete frame carried to the next chunk

    def convert(self, raw: bytes) -> Int16Array:
        data = self._rest + raw
        whole = len(data) - len(data) % self.format.frame_bytes
        self._rest = data[whole:]
        if self.format.width == 2 and self.format.channels == 1:
            samples: Int16Array = np.frombuffer(data[:whole], dtype="<i2").astype(np.int16)
        else:
            samples = round_to_int16(_to_float_mono(data[:whole], self.format))
        return self._resampler.process(samples)

    def flush(self) -> Int16Array:
        """The resampler's delayed tail (an incomplete last frame is dropped)."""
        self._rest = b""
        return self._resampler.flush()
