"""Seeded, deterministic audio degradations: noise at an SNR, gain, reverberation, padding.

Every random choice (which noise file, where in it, which room) comes from a
generator seeded by :func:`rng_for` with the recipe's seed and the clip's name, so
the same recipe gives the same samples, bit for bit. Work is in float64 on
16 kHz mono; :func:`to_int16` rounds once at the end.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import numpy.typing as npt

from hearthvox.events import Int16Array

RATE_HZ = 16000
Samples = npt.NDArray[np.float64]
_SPAN_FRAME = 160  # 10 ms
_SPAN_BELOW_PEAK_DB = 35.0


def rng_for(*parts: Any) -> np.random.Generator:
    """A generator seeded from *parts* (the recipe seed, the slice, the clip)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def as_float(x: Int16Array) -> Samples:
    return x.astype(np.float64) / 32768.0


def to_int16(x: Samples) -> Int16Array:
    return np.asarray(np.clip(np.round(x * 32768.0), -32768, 32767), dtype=np.int16)


def power(x: Samples) -> float:
    return float(np.mean(x * x)) if len(x) else 0.0


def speech_span(x: Samples) -> tuple[float, float]:
    """(start_s, end_s) of the sound in a clean recording: the first and last 10 ms
    frame within 35 dB of the loudest one."""
    n = len(x) // _SPAN_FRAME
    if n == 0:
        return 0.0, 0.0
    frames = x[: n * _SPAN_FRAME].reshape(n, _SPAN_FRAME)
    rms = np.sqrt(np.mean(frames * frames, axis=1))
    loud = np.nonzero(rms > rms.max() * 10 ** (-_SPAN_BELOW_PEAK_DB / 20))[0]
    if len(loud) == 0:
        return 0.0, 0.0
    return float(loud[0]) * 0.01, float(loud[-1] + 1) * 0.01


def gain(x: Samples, db: float) -> Samples:
    return x * 10 ** (db / 20)


def pad(x: Samples, lead_s: float, trail_s: float) -> Samples:
    return np.concatenate([np.zeros(int(lead_s * RATE_HZ)), x, np.zeros(int(trail_s * RATE_HZ))])


def noise_segment(noise: Samples, n: int, rng: np.random.Generator) -> Samples:
    """*n* samples of *noise* from a random offset, looped when the file is shorter."""
    if len(noise) == 0:
        return np.zeros(n)
    start = int(rng.integers(0, len(noise)))
    reps = (start + n) // len(noise) + 1
    return np.tile(noise, reps)[start : start + n]


def add_noise(
    x: Samples, noise: Samples, snr_db: float, rng: np.random.Generator, speech: Samples
) -> Samples:
    """*x* plus a random stretch of *noise*, scaled so that the power of *speech* (the
    clean speech alone, without padding) is *snr_db* above the noise's."""
    segment = noise_segment(noise, len(x), rng)
    noise_power = power(segment)
    if noise_power == 0.0:
        return x
    scale = float(np.sqrt(power(speech) / (noise_power * 10 ** (snr_db / 10))))
    return x + segment * scale


def reverberate(x: Samples, rir: Samples) -> Samples:
    """*x* convolved with the room impulse response *rir* (from its direct path on),
    at the dry signal's power; the reverberant tail is kept."""
    start = int(np.argmax(np.abs(rir)))
    response = rir[start:] / (np.sqrt(np.sum(rir[start:] ** 2)) or 1.0)
    n = len(x) + len(response) - 1
    size = 1 << (n - 1).bit_length()
    wet = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(response, size), size)[:n]
    wet_power = power(wet)
    return wet * np.sqrt(power(x) / wet_power) if wet_power > 0 else wet
