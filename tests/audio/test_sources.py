"""Async audio sources: chunking, timestamps, realtime pacing, devices."""

from __future__ import annotations

import asyncio
import importlib.abc
import io
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hearthvox.audio.devices import pick_device
from hearthvox.audio.sinks import SpeakerSink
from hearthvox.audio.sources import (
    MicSource,
    array_source,
    chunk_samples,
    have_input_device,
    list_devices,
    stream_source,
)
from hearthvox.audio.wavio import load_wav, open_wav_stream
from hearthvox.errors import AudioDeviceError
from hearthvox.events import AudioChunk


async def _collect(source: Any) -> list[AudioChunk]:
    return [chunk async for chunk in source]


def test_array_source_chunks_and_timestamps(corpus_dir: Path) -> None:
    speech = load_wav(corpus_dir / "spk1_snt6.wav").samples  # 36640 samples
    chunks = asyncio.run(_collect(array_source(speech, 16000, 80, realtime=False)))
    assert len(chunks) == -(-len(speech) // 1280) == 29
    assert all(c.samples.shape == (1280,) and c.samples.dtype == np.int16 for c in chunks)
    assert all(c.rate_hz == 16000 for c in chunks)
    assert [c.t_audio_ms for c in chunks] == [80 * k for k in range(29)]
    joined = np.concatenate([c.samples for c in chunks])
    np.testing.assert_array_equal(joined[: len(speech)], speech)
    assert not joined[len(speech) :].any(), "the last chunk is zero-padded"


def test_odd_chunk_sizes() -> None:
    x = np.arange(1000, dtype=np.int16)
    chunks = asyncio.run(_collect(array_source(x, 22050, 30, realtime=False)))
    assert chunk_samples(22050, 30) == 661
    assert [c.t_audio_ms for c in chunks] == [0, 661 * 1000 // 22050]
    assert asyncio.run(_collect(array_source(x[:0], 16000, 80, realtime=False))) == []
    with pytest.raises(ValueError):
        chunk_samples(16000, 0)


def test_fast_mode_lets_other_tasks_run() -> None:
    async def main() -> int:
        ticks = 0
        done = False

        async def ticker() -> None:
            nonlocal ticks
            while not done:
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        async for _ in array_source(np.zeros(16000, np.int16), 16000, 80, realtime=False):
            pass
        done = True
        await task
        return ticks

    assert asyncio.run(main()) >= 10


def test_realtime_pacing_holds() -> None:
    one_second = np.zeros(16000, dtype=np.int16)
    t0 = time.monotonic()
    chunks = asyncio.run(_collect(array_source(one_second, 16000, 80, realtime=True)))
    elapsed = time.monotonic() - t0
    assert len(chunks) == 13
    assert elapsed >= 0.95


def test_stream_source_matches_array_source(corpus_dir: Path) -> None:
    path = corpus_dir / "esc50_thunderstorm.wav"
    loaded = load_wav(path)
    wav = open_wav_stream(io.BytesIO(path.read_bytes()))
    from_stream = asyncio.run(_collect(stream_source(wav, 80, realtime=False)))
    from_array = asyncio.run(_collect(array_source(loaded.samples, 16000, 80, realtime=False)))
    assert len(from_stream) == len(from_array) == 63
    for a, b in zip(from_stream, from_array, strict=True):
        assert a.t_audio_ms == b.t_audio_ms
        np.testing.assert_array_equal(a.samples, b.samples)


# --- devices ---------------------------------------------------------------------------


def _real_devices(kind: str) -> bool:
    try:
        import sounddevice
    except OSError:  # no libportaudio2: no device either
        return False
    return any(d[f"max_{kind}_channels"] > 0 for d in sounddevice.query_devices())


@pytest.mark.skipif(_real_devices("input"), reason="this machine has a real microphone")
def test_no_microphone() -> None:
    mic = MicSource("", 16000, 80)
    with pytest.raises(AudioDeviceError, match="no microphone found") as info:
        mic.open()
    message = str(info.value)
    assert "hearthvox run --input FILE.wav" in message and "hearthvox demo" in message
    assert "\n" not in message
    assert not have_input_device()

    async def first() -> None:
        async for _ in mic.chunks():
            break

    with pytest.raises(AudioDeviceError, match="no microphone found"):
        asyncio.run(first())


DEVICES = [
    {"index": 0, "name": "HDA Intel PCH: ALC3246 Analog (hw:0,0)", "max_input_channels": 2,
     "max_output_channels": 2, "default_samplerate": 44100.0},
    {"index": 1, "name": "HDMI 0", "max_input_channels": 0, "max_output_channels": 8,
     "default_samplerate": 48000.0},
    {"index": 2, "name": "USB Audio Mic", "max_input_channels": 1, "max_output_channels": 0,
     "default_samplerate": 48000.0},
]  # fmt: skip


class _NoPortAudio(importlib.abc.MetaPathFinder):
    """Imports of sounddevice fail the way they do where libportaudio2 is missing."""

    def find_spec(self, name: str, path: object, target: object = None) -> None:
        if name == "sounddevice":
            raise OSError("PortAudio library not found")


def test_portaudio_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_NoPortAudio(), *sys.meta_path])
    with pytest.raises(AudioDeviceError, match="no microphone found") as info:
        MicSource().open()
    assert "sudo apt-get install libportaudio2" in str(info.value)
    assert "hearthvox run --input FILE.wav" in str(info.value)
    with pytest.raises(AudioDeviceError, match="no speaker found.*libportaudio2"):
        SpeakerSink().write(np.zeros(10, np.int16), 16000)
    with pytest.raises(AudioDeviceError, match="libportaudio2"):
        list_devices()
    assert not have_input_device()


def test_pick_device() -> None:
    assert pick_device(DEVICES, "", "input", default_index=2)["index"] == 2
    assert pick_device(DEVICES, "", "input", default_index=-1)["index"] == 0
    assert pick_device(DEVICES, "", "output", default_index=1)["index"] == 1
    assert pick_device(DEVICES, "usb", "input")["index"] == 2
    assert pick_device(DEVICES, " 0 ", "input")["index"] == 0
    with pytest.raises(AudioDeviceError, match="no input device matches 'HDMI'.*2: USB Audio Mic"):
        pick_device(DEVICES, "HDMI", "input")
    with pytest.raises(AudioDeviceError, match="no output device matches '2'"):
        pick_device(DEVICES, "2", "output")


def test_pick_device_with_no_inputs() -> None:
    with pytest.raises(AudioDeviceError) as info:
        pick_device([DEVICES[1]], "", "input")
    assert str(info.value) == (
        "no microphone found (PortAudio lists no input device); run from a file with "
        "`hearthvox run --input FILE.wav` or try `hearthvox demo`"
    )
