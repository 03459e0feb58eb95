"""WavStream: a WAV on a non-seekable stream gives the same samples as load_wav."""

from __future__ import annotations

import io
import os
import re
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

from hearthvox.audio.resample import resample_int16
from hearthvox.audio.wavio import WavStream, load_wav, open_wav_stream
from hearthvox.errors import AudioFormatError
from tests.audio.wavfiles import build_wav


def _all(stream: WavStream, n: int = 1280) -> np.ndarray:
    chunks = list(stream.chunks(n))
    assert all(len(c) == n for c in chunks[:-1])
    assert 0 < len(chunks[-1]) <= n
    assert all(c.dtype == np.int16 for c in chunks)
    return np.concatenate(chunks)


@pytest.mark.parametrize("name", ["spk1_snt1.wav", "LDC93S1.wav", "esc50_dog.wav"])
def test_bytesio_matches_load_wav(corpus_dir: Path, name: str) -> None:
    path = corpus_dir / name
    stream = open_wav_stream(io.BytesIO(path.read_bytes()))
    loaded = load_wav(path)
    assert (stream.source_rate_hz, stream.rate_hz) == (loaded.source_rate_hz, 16000)
    assert stream.conversions == loaded.conversions
    np.testing.assert_array_equal(_all(stream), loaded.samples)
    assert stream.source_frames == round(loaded.duration_s * loaded.source_rate_hz)


def test_pipe_from_a_subprocess(corpus_dir: Path) -> None:
    path = corpus_dir / "birch_canoe.wav"
    with subprocess.Popen(["cat", str(path)], stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        stream = open_wav_stream(proc.stdout)
        assert stream.name == "<stream>"
        samples = _all(stream, 1000)
    assert proc.returncode == 0
    np.testing.assert_array_equal(samples, load_wav(path).samples)


def test_short_reads_and_stereo_float(tmp_path: Path, corpus_dir: Path) -> None:
    speech = load_wav(corpus_dir / "spk2_snt4.wav").samples
    up = (resample_int16(speech, 16000, 44100) / 32768.0).astype("<f4")
    data = build_wav(
        np.stack([up, up], axis=1).tobytes(),
        tag=3,
        bits=32,
        channels=2,
        rate_hz=44100,
        extensible=True,
        data_size=0xFFFFFFFF,
        riff_size=0xFFFFFFFF,
    )
    path = tmp_path / "f.wav"
    path.write_bytes(data)
    read_fd, write_fd = os.pipe()

    def feed() -> None:  # odd-sized pieces: frames and chunks arrive split
        with os.fdopen(write_fd, "wb", buffering=0) as out:
            for i in range(0, len(data), 333):
                out.write(data[i : i + 333])

    writer = threading.Thread(target=feed)
    writer.start()
    with os.fdopen(read_fd, "rb", buffering=0) as raw:
        stream = open_wav_stream(raw)
        assert stream.declared_bytes is None
        samples = _all(stream)
    writer.join()
    np.testing.assert_array_equal(samples, load_wav(path).samples)


def test_stream_ending_early_is_a_normal_end(corpus_dir: Path) -> None:
    whole = (corpus_dir / "spk1_snt3.wav").read_bytes()
    stream = open_wav_stream(io.BytesIO(whole[: 44 + 16001]))  # a recorder stopped
    assert stream.declared_bytes == len(whole) - 44
    samples = _all(stream)
    np.testing.assert_array_equal(samples, load_wav(corpus_dir / "spk1_snt3.wav").samples[:8000])


def test_stream_stops_at_the_declared_size(corpus_dir: Path) -> None:
    whole = (corpus_dir / "spk2_snt1.wav").read_bytes()
    stream = open_wav_stream(io.BytesIO(whole + b"LIST\x04\x00\x00\x00abcd"))
    np.testing.assert_array_equal(_all(stream), load_wav(corpus_dir / "spk2_snt1.wav").samples)


def test_stream_reads_once(corpus_dir: Path) -> None:
    stream = open_wav_stream(io.BytesIO((corpus_dir / "spk2_snt1.wav").read_bytes()))
    _all(stream)
    with pytest.raises(RuntimeError):
        next(stream.chunks(100))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "empty file (0 bytes)"),
        (b"plain text, not audio", "not a WAV file"),
        (build_wav(b""), "holds no samples"),
        (build_wav(b"\0" * 10, tag=7, bits=8), "mu-law"),
    ],
)
def test_bad_streams(data: bytes, expected: str) -> None:
    with pytest.raises(AudioFormatError, match=re.escape(expected)) as info:
        open_wav_stream(io.BytesIO(data))
    assert str(info.value).startswith("<stream>: ")
