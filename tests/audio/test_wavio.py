"""load_wav on the real corpus and on every kind of bad or unusual WAV."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hearthvox.audio.resample import resample_int16
from hearthvox.audio.wavio import load_wav
from hearthvox.errors import AudioFormatError
from tests.audio.wavfiles import build_wav, chunk

SPEECH = "spk1_snt1.wav"


@pytest.fixture(scope="module")
def speech(corpus_dir: Path) -> np.ndarray:
    return load_wav(corpus_dir / SPEECH).samples


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _error(path: Path, rate_hz: int = 16000) -> str:
    with pytest.raises(AudioFormatError) as info:
        load_wav(path, rate_hz)
    message = str(info.value)
    assert "\n" not in message, "an error is one line"
    assert str(path) in message, "an error names the file"
    return message


# --- the real corpus ---------------------------------------------------------------


def test_every_speech_file_loads(corpus_dir: Path, corpus_rows: list[dict[str, str]]) -> None:
    rows = [r for r in corpus_rows if r["kind"] == "speech"]
    assert len(rows) >= 8
    for row in rows:
        path = corpus_dir / row["file"]
        audio = load_wav(path)
        assert audio.rate_hz == audio.source_rate_hz == int(row["sample_rate"]) == 16000
        assert audio.source_channels == 1
        assert audio.source_format == "pcm_s16"
        assert audio.conversions == ()
        assert audio.samples.dtype == np.int16 and audio.samples.ndim == 1
        n_bytes = struct.unpack("<I", path.read_bytes()[40:44])[0]
        assert len(audio.samples) == n_bytes // 2
        assert audio.duration_s == pytest.approx(n_bytes / 2 / 16000)
        assert 1.5 < audio.duration_s < 4.0
        rms = float(np.sqrt(np.mean(audio.samples.astype(np.float64) ** 2)))
        assert rms > 100, f"{row['file']} sounds silent"


@pytest.mark.parametrize("name", ["esc50_dog.wav", "esc50_thunderstorm.wav"])
def test_44k_files_are_resampled(corpus_dir: Path, name: str) -> None:
    audio = load_wav(corpus_dir / name)
    assert audio.source_rate_hz == 44100
    assert audio.rate_hz == 16000
    assert audio.duration_s == pytest.approx(5.0)
    assert len(audio.samples) == 80000
    assert audio.conversions == ("resampled 44100 Hz to 16000 Hz",)
    native = load_wav(corpus_dir / name, rate_hz=44100)
    assert native.conversions == ()
    assert len(native.samples) == 220500


def test_other_pipeline_rate(corpus_dir: Path, speech: np.ndarray) -> None:
    audio = load_wav(corpus_dir / SPEECH, rate_hz=8000)
    assert len(audio.samples) == len(speech) // 2
    assert audio.conversions == ("resampled 16000 Hz to 8000 Hz",)


# --- sample formats built from a real recording --------------------------------------


def test_8bit_unsigned(tmp_path: Path, speech: np.ndarray) -> None:
    u8 = ((speech.astype(np.int32) >> 8) + 128).astype(np.uint8)
    audio = load_wav(_write(tmp_path, "u8.wav", build_wav(u8.tobytes(), bits=8)))
    assert audio.source_format == "pcm_u8"
    assert audio.conversions == ("converted 8-bit PCM to 16-bit",)
    diff = speech.astype(np.int32) - audio.samples
    assert len(audio.samples) == len(speech)
    assert diff.min() >= 0 and diff.max() < 256  # only the low 8 bits are lost


def test_float32(tmp_path: Path, speech: np.ndarray) -> None:
    f32 = (speech / 32768.0).astype("<f4")
    audio = load_wav(_write(tmp_path, "f32.wav", build_wav(f32.tobytes(), tag=3, bits=32)))
    assert audio.source_format == "float32"
    assert audio.conversions == ("converted 32-bit float to 16-bit PCM",)
    assert np.abs(audio.samples.astype(np.int32) - speech).max() <= 1


def test_extensible_float_stereo(tmp_path: Path, speech: np.ndarray) -> None:
    f32 = (speech / 32768.0).astype("<f4")
    stereo = np.stack([f32, f32], axis=1)
    data = build_wav(stereo.tobytes(), tag=3, bits=32, channels=2, extensible=True)
    audio = load_wav(_write(tmp_path, "ext.wav", data))
    assert (audio.source_format, audio.source_channels) == ("float32", 2)
    assert "mixed 2 channels down to mono" in audio.conversions
    assert np.abs(audio.samples.astype(np.int32) - speech).max() <= 1


def test_float64_clips_out_of_range(tmp_path: Path, speech: np.ndarray) -> None:
    f64 = (speech / 32768.0).astype("<f8")
    f64[:3] = [2.0, -2.0, np.nan]
    audio = load_wav(_write(tmp_path, "f64.wav", build_wav(f64.tobytes(), tag=3, bits=64)))
    assert audio.source_format == "float64"
    assert list(audio.samples[:3]) == [32767, -32768, 0]
    assert np.abs(audio.samples[3:].astype(np.int32) - speech[3:]).max() <= 1


def test_24bit_extensible_pcm(tmp_path: Path, speech: np.ndarray) -> None:
    s24 = speech.astype(np.int32) << 8
    raw = np.stack([(s24 >> s) & 0xFF for s in (0, 8, 16)], axis=1).astype(np.uint8)
    data = build_wav(raw.tobytes(), bits=24, extensible=True)
    audio = load_wav(_write(tmp_path, "s24.wav", data))
    assert audio.source_format == "pcm_s24"
    assert audio.conversions == ("converted 24-bit PCM to 16-bit",)
    np.testing.assert_array_equal(audio.samples, speech)


def test_32bit_pcm(tmp_path: Path, speech: np.ndarray) -> None:
    s32 = (speech.astype("<i4") << 16) + 12345  # low bits round away
    audio = load_wav(_write(tmp_path, "s32.wav", build_wav(s32.tobytes(), bits=32)))
    assert audio.source_format == "pcm_s32"
    np.testing.assert_array_equal(audio.samples, speech)


def test_stereo_44k(tmp_path: Path, speech: np.ndarray) -> None:
    up = resample_int16(speech, 16000, 44100)
    stereo = np.stack([up, up], axis=1).astype("<i2")
    data = build_wav(stereo.tobytes(), channels=2, rate_hz=44100)
    audio = load_wav(_write(tmp_path, "stereo.wav", data))
    assert audio.rate_hz == 16000 and audio.source_rate_hz == 44100
    assert audio.source_channels == 2
    assert audio.conversions == ("mixed 2 channels down to mono", "resampled 44100 Hz to 16000 Hz")
    assert audio.duration_s == pytest.approx(len(speech) / 16000, abs=1e-3)
    assert abs(len(audio.samples) - len(speech)) <= 1
    n = min(len(audio.samples), len(speech))
    corr = np.corrcoef(audio.samples[:n].astype(np.float64), speech[:n].astype(np.float64))[0, 1]
    assert corr > 0.99


def test_stereo_channels_are_averaged(tmp_path: Path, speech: np.ndarray) -> None:
    stereo = np.stack([speech, np.zeros_like(speech)], axis=1).astype("<i2")
    audio = load_wav(_write(tmp_path, "half.wav", build_wav(stereo.tobytes(), channels=2)))
    assert np.abs(audio.samples.astype(np.int32) - speech / 2).max() <= 0.5


# --- layout quirks -------------------------------------------------------------------


def test_unknown_and_odd_chunks_are_skipped(tmp_path: Path, speech: np.ndarray) -> None:
    before = chunk(b"LIST", b"abc") + chunk(b"fact", struct.pack("<I", len(speech)))
    data = build_wav(speech.tobytes(), before_data=before, after_data=chunk(b"junk", b"x" * 9))
    audio = load_wav(_write(tmp_path, "chunks.wav", data))
    np.testing.assert_array_equal(audio.samples, speech)


@pytest.mark.parametrize(("data_size", "riff_size"), [(0xFFFFFFFF, 0xFFFFFFFF), (0, 0), (0, None)])
def test_open_data_size_reads_to_the_end(
    tmp_path: Path, speech: np.ndarray, data_size: int, riff_size: int | None
) -> None:
    data = build_wav(speech.tobytes(), data_size=data_size, riff_size=riff_size)
    audio = load_wav(_write(tmp_path, "stream.wav", data))
    np.testing.assert_array_equal(audio.samples, speech)
    assert any("to the end of the file" in note for note in audio.conversions)


def test_trailing_partial_frame_is_ignored(tmp_path: Path, speech: np.ndarray) -> None:
    data = build_wav(speech.tobytes() + b"\x01", data_size=0xFFFFFFFF)[:-1]  # no pad byte
    audio = load_wav(_write(tmp_path, "odd.wav", data))
    np.testing.assert_array_equal(audio.samples, speech)
    assert "ignored 1 trailing bytes (an incomplete sample frame)" in audio.conversions


# --- bad inputs: one clear line each ---------------------------------------------------


def test_not_a_wav_text(tmp_path: Path) -> None:
    path = _write(tmp_path, "notes.txt", b"hello, this is not audio\n")
    message = _error(path)
    assert "not a WAV file (no RIFF/WAVE header)" in message
    assert "ffmpeg -i" in message


def test_not_a_wav_mp3(tmp_path: Path) -> None:
    path = _write(tmp_path, "x.mp3", b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90" * 100)
    message = _error(path)
    assert "not a WAV file" in message and "MP3" in message
    assert f"ffmpeg -i {path} -ar 16000 -ac 1" in message
    assert str(tmp_path / "x.wav") in message


def test_empty_file(tmp_path: Path) -> None:
    assert "empty file (0 bytes)" in _error(_write(tmp_path, "empty.wav", b""))


def test_truncated_mid_data(tmp_path: Path, corpus_dir: Path) -> None:
    whole = (corpus_dir / SPEECH).read_bytes()
    cut = whole[: 44 + 10000]
    message = _error(_write(tmp_path, "cut.wav", cut))
    assert "header promises 91840 bytes of audio but the file holds only 10000" in message
    assert "the file is truncated" in message


def test_truncated_in_header(tmp_path: Path, corpus_dir: Path) -> None:
    whole = (corpus_dir / SPEECH).read_bytes()
    message = _error(_write(tmp_path, "head.wav", whole[:30]))
    assert "truncated" in message


def test_header_without_data_chunk(tmp_path: Path, corpus_dir: Path) -> None:
    whole = (corpus_dir / SPEECH).read_bytes()
    head = b"RIFF" + struct.pack("<I", 28) + whole[8:36]
    assert "no data chunk" in _error(_write(tmp_path, "nodata.wav", head))


def test_empty_data_chunk(tmp_path: Path) -> None:
    assert "holds no samples" in _error(_write(tmp_path, "zero.wav", build_wav(b"")))


def test_data_before_fmt(tmp_path: Path) -> None:
    body = b"WAVE" + chunk(b"data", b"\0\0") + chunk(b"fmt ", b"\0" * 16)
    path = _write(tmp_path, "order.wav", b"RIFF" + struct.pack("<I", len(body)) + body)
    assert "before the fmt chunk" in _error(path)


@pytest.mark.parametrize(
    ("tag", "name", "extensible"),
    [
        (6, "A-law", False),
        (7, "mu-law", False),
        (2, "Microsoft ADPCM", False),
        (0x11, "IMA ADPCM", False),
        (6, "A-law", True),
    ],
)
def test_unsupported_codec(tmp_path: Path, tag: int, name: str, extensible: bool) -> None:
    path = _write(
        tmp_path, "codec.wav", build_wav(b"\0" * 100, tag=tag, bits=8, extensible=extensible)
    )
    message = _error(path)
    assert f"unsupported WAV encoding {name}" in message
    assert f"format tag 0x{tag:04X}" in message
    assert "ffmpeg" in message


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"channels": 0}, "0 channels"),
        ({"rate_hz": 0}, "sample rate of 0 Hz"),
        ({"bits": 12, "tag": 3}, "unsupported sample size"),
        ({"bits": 48}, "unsupported sample size"),
    ],
)
def test_bad_fmt_fields(tmp_path: Path, kwargs: dict[str, Any], expected: str) -> None:
    path = _write(tmp_path, "fmt.wav", build_wav(b"\0" * 96, **kwargs))
    assert expected in _error(path)


def test_missing_file(tmp_path: Path) -> None:
    assert "no such file" in _error(tmp_path / "nope.wav")


def test_directory(tmp_path: Path) -> None:
    assert "is a directory" in _error(tmp_path)
