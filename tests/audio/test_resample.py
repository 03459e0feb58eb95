"""int16/float conversion, one-shot and streaming resampling, re-chunking."""

from __future__ import annotations

import numpy as np
import pytest

from hearthvox.audio.buffers import Rechunker
from hearthvox.audio.resample import StreamResampler, resample_int16, to_float32, to_int16


def test_int16_float_round_trip_is_exact() -> None:
    x = np.arange(-32768, 32768, dtype=np.int16)
    f = to_float32(x)
    assert f.dtype == np.float32 and f.min() == -1.0 and f.max() < 1.0
    np.testing.assert_array_equal(to_int16(f), x)


def test_to_int16_clips() -> None:
    f = np.array([1.5, -2.0, np.nan, np.inf, -np.inf, 0.5], dtype=np.float32)
    assert list(to_int16(f)) == [32767, -32768, 0, 32767, -32768, 16384]


def _tone(rate_hz: int, freq_hz: float, seconds: float) -> np.ndarray:
    t = np.arange(int(rate_hz * seconds)) / rate_hz
    return to_int16((0.5 * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32))


def _peak_hz(x: np.ndarray, rate_hz: int) -> float:
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64)))
    return float(np.argmax(spectrum) * rate_hz / len(x))


@pytest.mark.parametrize(("src", "dst"), [(44100, 16000), (16000, 48000), (48000, 22050)])
def test_resample_keeps_pitch_and_length(src: int, dst: int) -> None:
    x = _tone(src, 440.0, 1.0)
    y = resample_int16(x, src, dst)
    assert y.dtype == np.int16
    assert abs(len(y) - dst) <= 1
    assert _peak_hz(y, dst) == pytest.approx(440.0, abs=2.0)


def test_resample_edge_cases() -> None:
    x = _tone(16000, 300.0, 0.1)
    assert resample_int16(x, 16000, 16000) is x
    assert len(resample_int16(x[:0], 44100, 16000)) == 0
    with pytest.raises(ValueError):
        resample_int16(x, 0, 16000)


def test_stream_resampler_matches_one_shot() -> None:
    x = _tone(44100, 1000.0, 0.7)
    rs = StreamResampler(44100, 16000)
    parts = [rs.process(x[i : i + 777]) for i in range(0, len(x), 777)]
    parts.append(rs.flush())
    np.testing.assert_array_equal(np.concatenate(parts), resample_int16(x, 44100, 16000))
    same = StreamResampler(16000, 16000)
    assert same.process(x) is x and len(same.flush()) == 0


def test_rechunker() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(-1000, 1000, 10_000).astype(np.int16)
    rc = Rechunker(1280)
    out: list[np.ndarray] = []
    i = 0
    for size in rng.integers(0, 3000, 100):
        out += rc.push(x[i : i + size])
        i += size
        if i >= len(x):
            break
    assert all(len(c) == 1280 for c in out)
    rest = rc.rest()
    assert len(rest) == len(x) % 1280 and rc.pending == 0
    np.testing.assert_array_equal(np.concatenate([*out, rest]), x)
