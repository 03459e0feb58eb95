"""The corpus reader: the shared corpus, its VAD labels, and what it refuses."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hearthvox.evaluation.corpus import BUILTIN, EvalError, find_corpus, load_corpus
from hearthvox.evaluation.split import DEV_SPEAKERS, TEST_SPEAKERS, split_of


def test_the_shared_corpus(corpus_dir: Path) -> None:
    corpus = load_corpus(corpus_dir)
    speech = corpus.of("speech")
    assert len(speech) >= 8 + 249 and all(f.transcript and f.speaker for f in speech)
    assert {f.style for f in speech} == {"read", "command", "alphanumeric"}
    first = next(f for f in speech if f.name == "spk1_snt3.wav")
    assert first.speaker == "spk1" and first.style == "read"
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
    assert find_corpus(None, "") == BUILTIN  # no ../shared/corpus here: the built-in set


def test_the_speaker_split(corpus_dir: Path) -> None:
    """Each side has every style, both genders and a non-US accent; no speaker is on both."""
    speech = load_corpus(corpus_dir).of("speech")
    speakers = {f.speaker for f in speech}
    assert DEV_SPEAKERS | TEST_SPEAKERS <= speakers and not DEV_SPEAKERS & TEST_SPEAKERS
    for side in ("dev", "test"):
        mine = [f for f in speech if split_of(f.speaker) == side]
        assert len(mine) >= 100 and len({f.speaker for f in mine}) >= 25
        assert {f.style for f in mine} == {"read", "command", "alphanumeric"}
        assert {"female", "male"} <= {f.gender for f in mine}
        assert any(not f.accent.startswith("US") and f.accent != "unknown" for f in mine)


def test_a_speech_file_outside_the_corpus_is_refused(corpus_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    for name in ("corpus.csv", "noise2.wav", "spk1_snt1.wav"):
        shutil.copy(corpus_dir / name, folder / name)
    lines = (folder / "corpus.csv").read_text().splitlines()
    kept = [lines[0], *(x for x in lines if x.startswith(("noise2.wav", "spk1_snt1.wav")))]
    (folder / "corpus.csv").write_text("\n".join(kept) + "\n")
    (tmp_path / "outside.wav").write_bytes((folder / "spk1_snt1.wav").read_bytes())
    (folder / "speech.csv").write_text(
        "file,speaker_id,gender,accent,kind,transcript\n../outside.wav,x,male,US,read,hello\n"
    )
    with pytest.raises(EvalError, match="outside.wav is not in"):
        load_corpus(folder)
