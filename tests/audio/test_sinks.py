"""Sinks: null, WAV file (atomic, resampling), speaker (error without a device)."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from hearthvox.audio.resample import resample_int16
from hearthvox.audio.sinks import NullSink, Sink, SpeakerSink, WavFileSink, have_output_device
from hearthvox.audio.wavio import load_wav
from hearthvox.errors import AudioDeviceError


@pytest.fixture(scope="module")
def speech(corpus_dir: Path) -> np.ndarray:
    return load_wav(corpus_dir / "spk2_snt2.wav").samples


def test_null_sink(speech: np.ndarray) -> None:
    sink: Sink = NullSink()
    sink.write(speech, 16000)
    sink.stop()
    sink.close()
    sink.abort()
    assert isinstance(sink, NullSink) and sink.duration_s == pytest.approx(len(speech) / 16000)


def test_wav_file_sink_resamples_later_writes(tmp_path: Path, speech: np.ndarray) -> None:
    path = tmp_path / "replies.wav"
    sink: Sink = WavFileSink(path)
    sink.write(speech, 16000)
    sink.stop()  # an interrupt keeps what was written
    sink.write(resample_int16(speech, 16000, 22050), 22050)
    assert not path.exists()
    sink.close()
    audio = load_wav(path)
    assert audio.source_rate_hz == 16000
    assert abs(len(audio.samples) - 2 * len(speech)) <= 1
    np.testing.assert_array_equal(audio.samples[: len(speech)], speech)
    assert [p.name for p in tmp_path.iterdir()] == ["replies.wav"]


def test_wav_file_sink_abort_leaves_nothing(tmp_path: Path, speech: np.ndarray) -> None:
    sink = WavFileSink(tmp_path / "x.wav")
    sink.write(speech, 16000)
    sink.abort()
    assert list(tmp_path.iterdir()) == []


def test_wav_file_sink_without_audio(tmp_path: Path) -> None:
    path = tmp_path / "silent.wav"
    sink = WavFileSink(path)
    sink.close()
    sink.close()
    with wave.open(str(path), "rb") as w:
        assert (w.getframerate(), w.getnframes()) == (16000, 0)


def _real_output() -> bool:
    try:
        import sounddevice
    except OSError:  # no libportaudio2: no device either
        return False
    return any(d["max_output_channels"] > 0 for d in sounddevice.query_devices())


@pytest.mark.skipif(_real_output(), reason="this machine has a real speaker")
def test_no_speaker(speech: np.ndarray) -> None:
    assert not have_output_device()
    sink = SpeakerSink()
    with pytest.raises(AudioDeviceError, match="no speaker found") as info:
        sink.write(speech, 16000)
    assert "--output FILE.wav" in str(info.value)
    sink.stop()
    sink.close()
    sink.abort()
