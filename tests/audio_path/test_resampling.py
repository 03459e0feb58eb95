"""Capture through real PortAudio at 44.1 and 48 kHz: a 440 Hz tone stays 440 Hz."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from hearthvox.audio.mic import MicOptions, MicSource
from tests.audio_path.conftest import Pulse


async def _capture(mic: MicSource, seconds: float) -> np.ndarray:
    parts = []
    async for chunk in mic.chunks():
        assert chunk.rate_hz == 16000
        parts.append(chunk.samples)
        if len(parts) * 0.08 >= seconds:
            break
    return np.concatenate(parts)


@pytest.mark.parametrize("rate_hz", [44100, 48000])
def test_tone_comes_back_at_440_hz(
    pulse_env: Pulse, monkeypatch: pytest.MonkeyPatch, rate_hz: int
) -> None:
    monkeypatch.setenv("PULSE_SOURCE", f"sine{rate_hz // 1000}")
    mic = MicSource("pulse", 16000, 80, MicOptions(native_rate_hz=rate_hz))
    try:
        audio = asyncio.run(_capture(mic, 2.0))
    finally:
        mic.close()
    assert mic.native_rate_hz == rate_hz
    x = audio[len(audio) // 4 :].astype(np.float64)  # past the resampler's start
    assert np.abs(x).max() > 1000, "the tone did not arrive"
    n = 1 << 18  # zero-padded FFT: bins of 16000 / 2**18 = 0.06 Hz
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)), n))
    peak_hz = float(np.argmax(spectrum)) * 16000 / n
    print(f"{rate_hz} Hz device side: peak at {peak_hz:.2f} Hz")
    assert abs(peak_hz - 440.0) <= 2.0
