"""The corpus reader: the shared corpus, its VAD labels, and what it refuses."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hearthvox.evaluation.corpus import EvalError, find_corpus, load_corpus


def test_the_shared_corpus(corpus_dir: Path) -> None:
    corpus = load_corpus(corpus_dir)
    speech = corpus.of("speech")
    assert len(speech) == 8 and all(f.transcript for f in speech)
    (vad,) = corpus.of("vad")
    segments, until = vad.vad_labels()
    assert segments == ((0.38, 2.0), (2.0, 2.7), (4.1, 5.88)) and until == 8.0
    assert len(corpus.of("noise", "environment")) == 4
    assert len(corpus.of("room_impulse_response")) == 2


def _copy(corpus_dir: Path, to: Path) -> Path:
    shutil.copytree(corpus_dir, to)
    for path in to.iterdir():
        path.chmod(0o644)
    return to


def test_a_listed_file_that_is_missing(corpus_dir: Path, tmp_path: Path) -> None:
    folder = _copy(corpus_dir, tmp_path / "c")
    (folder / "spk2_snt2.wav").unlink()
    with pytest.raises(EvalError, match="spk2_snt2.wav is not in"):
        load_corpus(folder)


def test_no_corpus_csv(tmp_path: Path) -> None:
    with pytest.raises(EvalError, match="corpus.csv"):
        load_corpus(tmp_path)


def test_a_corpus_without_noise(corpus_dir: Path, tmp_path: Path) -> None:
    folder = _copy(corpus_dir, tmp_path / "c")
    lines = (folder / "corpus.csv").read_text().splitlines()
    kept = [line for line in lines if ",noise," not in line and ",environment," not in line]
    (folder / "corpus.csv").write_text("\n".join(kept) + "\n")
    with pytest.raises(EvalError, match="no noise file"):
        load_corpus(folder)


def test_find_corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEARTHVOX_CORPUS", str(tmp_path / "env"))
    assert find_corpus(tmp_path / "given", "conf") == tmp_path / "given"
    assert find_corpus(None, str(tmp_path / "conf")) == tmp_path / "conf"
    assert find_corpus(None, "") == tmp_path / "env"
    monkeypatch.delenv("HEARTHVOX_CORPUS")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(EvalError, match="--corpus DIR"):
        find_corpus(None, "")
