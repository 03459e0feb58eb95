"""write_wav and WavWriter: correct files, written atomically."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from hearthvox.audio.wavio import WavWriter, load_wav, write_wav
from hearthvox.errors import OutputError


@pytest.fixture(scope="module")
def speech(corpus_dir: Path) -> np.ndarray:
    return load_wav(corpus_dir / "spk2_snt2.wav").samples


def test_write_wav_round_trip(tmp_path: Path, speech: np.ndarray) -> None:
    path = tmp_path / "out.wav"
    write_wav(path, speech, 16000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]
    np.testing.assert_array_equal(load_wav(path).samples, speech)
    with wave.open(str(path), "rb") as w:  # the stdlib agrees on the header
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16000)
        assert w.getnframes() == len(speech)


def test_writer_in_pieces(tmp_path: Path, speech: np.ndarray) -> None:
    path = tmp_path / "pieces.wav"
    with WavWriter(path, 22050) as writer:
        for i in range(0, len(speech), 1000):
            writer.write(speech[i : i + 1000])
        assert not path.exists(), "nothing appears before commit"
        assert writer.temp_path.parent == tmp_path
    assert writer.samples_written == len(speech)
    audio = load_wav(path, rate_hz=22050)
    assert audio.source_rate_hz == 22050
    np.testing.assert_array_equal(audio.samples, speech)
    assert [p.name for p in tmp_path.iterdir()] == ["pieces.wav"]


def test_exception_leaves_nothing(tmp_path: Path, speech: np.ndarray) -> None:
    path = tmp_path / "broken.wav"
    with pytest.raises(RuntimeError, match="boom"), WavWriter(path, 16000) as writer:
        writer.write(speech)
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_the_old_file(tmp_path: Path, speech: np.ndarray) -> None:
    path = tmp_path / "keep.wav"
    write_wav(path, speech[:100], 16000)
    before = path.read_bytes()
    with pytest.raises(KeyboardInterrupt), WavWriter(path, 16000) as writer:
        writer.write(speech)
        raise KeyboardInterrupt
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.wav"]
    write_wav(path, speech, 16000)  # a commit replaces it
    np.testing.assert_array_equal(load_wav(path).samples, speech)


def test_abort_and_reuse(tmp_path: Path, speech: np.ndarray) -> None:
    writer = WavWriter(tmp_path / "a.wav", 16000)
    writer.write(speech)
    writer.abort()
    writer.abort()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError, match="already committed or aborted"):
        writer.write(speech)


def test_bad_samples_are_refused(tmp_path: Path) -> None:
    with WavWriter(tmp_path / "t.wav", 16000) as writer, pytest.raises(TypeError, match="int16"):
        writer.write(np.zeros(10, dtype=np.float32))


def test_unwritable_place(tmp_path: Path, speech: np.ndarray) -> None:
    with pytest.raises(OutputError, match="cannot write"):
        write_wav(tmp_path / "no" / "such" / "dir.wav", speech, 16000)
    folder = tmp_path / "taken.wav"
    folder.mkdir()
    with pytest.raises(OutputError, match="cannot write"):
        write_wav(folder, speech, 16000)  # a folder is in the way of the rename
    assert [p.name for p in tmp_path.iterdir()] == ["taken.wav"]
