"""The built-in eval set: what it holds, that it is found with no corpus reachable, that
the eval runs on it from the package data alone, and that the wheel carries it."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import wave
import zipfile
from pathlib import Path

import pytest

from hearthvox.bundles.default import default_model_paths
from hearthvox.config import Config
from hearthvox.evaluation import corpus as corpus_mod
from hearthvox.evaluation.corpus import BUILTIN, EvalError, builtin_note, find_corpus, load_corpus
from hearthvox.evaluation.evaluate import EvalOptions, evaluate, prepare_set, target_for
from hearthvox.evaluation.split import split_of

REPO = Path(__file__).resolve().parents[2]
LICENCES = ("Public domain", "CC0-1.0", "CC-BY-4.0", "CC-BY-SA-4.0", "CMU AN4", "Apache-2.0")


def _rows(name: str) -> list[dict[str, str]]:
    with (BUILTIN / name).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with no ../shared/corpus, and no $HEARTHVOX_CORPUS."""
    monkeypatch.delenv("HEARTHVOX_CORPUS", raising=False)
    cwd = tmp_path / "somewhere"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    assert not (tmp_path / "shared").exists()
    return cwd


def test_the_resolution_order(nowhere: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert find_corpus(None, "") == BUILTIN
    shared = nowhere.parent / "shared" / "corpus"
    shared.mkdir(parents=True)
    (shared / "corpus.csv").write_text("file,kind,transcript,source\n")
    assert find_corpus(None, "") == shared  # a development checkout's corpus comes first
    monkeypatch.setenv("HEARTHVOX_CORPUS", "/env")
    assert find_corpus(None, "") == Path("/env")
    assert find_corpus(None, "/conf") == Path("/conf")
    assert find_corpus(Path("/given"), "/conf") == Path("/given")


def test_no_corpus_at_all(nowhere: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(corpus_mod, "BUILTIN", nowhere / "not-packaged")
    with pytest.raises(EvalError, match="--corpus DIR"):
        find_corpus(None, "")


def test_what_the_set_holds() -> None:
    """Short 16 kHz mono int16 clips, each with a redistributable licence, its notice and the
    split its speaker is on (test speakers, one dev speaker)."""
    corpus = load_corpus(BUILTIN)
    speech = corpus.of("speech")
    assert len(speech) == 10 and builtin_note(BUILTIN) == (
        "built-in set: 10 clips; use --corpus for the full corpus"
    )
    assert corpus.of("noise") and corpus.of("room_impulse_response")
    rows = _rows("corpus.csv") + _rows("speech.csv")
    assert len(rows) == len(corpus.files)
    notice = (BUILTIN / "NOTICE").read_text(encoding="utf-8")
    for row in rows:
        assert any(row["licence"].startswith(lic) for lic in LICENCES), row
        assert Path(row["file"]).name in notice, row["file"]
        if row["kind"] in ("speech", "read", "command", "alphanumeric"):
            assert row["split"] == split_of(row["speaker_id"]), row
        with wave.open(str(BUILTIN / row["file"]), "rb") as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
            assert w.getnframes() <= 3 * 16000
    splits = [split_of(f.speaker) for f in speech]
    assert splits.count("test") == 9 and splits.count("dev") == 1
    assert {f.style for f in speech if split_of(f.speaker) == "test"} == {
        "read",
        "command",
        "alphanumeric",
    }
    assert "Carnegie Mellon" in (BUILTIN / "LICENSE_AN4.txt").read_text(encoding="utf-8")
    size = sum(p.stat().st_size for p in BUILTIN.rglob("*") if p.is_file())
    assert size < 600_000


def test_the_eval_runs_on_the_package_data(nowhere: Path, eval_cache: Path) -> None:
    """Resolved with no corpus reachable, the quick set is built from the package data and
    the default bundle hears its recordings."""
    cfg = Config()
    options = EvalOptions(
        corpus=find_corpus(None, cfg.eval.corpus), cache_dir=eval_cache, quick=True
    )
    assert options.corpus == BUILTIN
    evalset = prepare_set(options, cfg)
    clean = [c for c in evalset.clips if c.slice == "clean" and c.role == "command"]
    assert [c.speaker for c in clean] == ["ljspeech_LJ", "sc_0c40e715"]
    result = evaluate(target_for(default_model_paths(), cfg), evalset, options)
    heard = [o for o in result.clips if o.slice == "clean" and o.role == "command"]
    assert [(o.words, o.edits) for o in heard] == [(4, 0), (1, 0)]
    assert not any(o.cutoff for o in heard)


def test_eval_says_it_used_the_built_in_set(
    nowhere: Path, hearthvox_home: Path, eval_cache: Path
) -> None:
    config = hearthvox_home / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f'[eval]\ncache_dir = "{eval_cache}"\n')
    env = {k: v for k, v in os.environ.items() if k != "HEARTHVOX_CORPUS"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-m", "hearthvox", "eval", "--quick", "--json"],
        cwd=nowhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "built-in set: 10 clips; use --corpus for the full corpus" in done.stderr
    slices = [json.loads(line)["slice"] for line in done.stdout.splitlines()]
    assert "clean" in slices and "all" in slices


def test_the_wheel_carries_the_set(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = tmp_path.glob("hearthvox-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    inside = "hearthvox/data/evalset/"
    listed = [r["file"] for r in _rows("corpus.csv") + _rows("speech.csv")]
    assert listed and {inside + f for f in listed} <= names
    for extra in ("NOTICE", "LICENSE_AN4.txt", "corpus.csv", "speech.csv"):
        assert inside + extra in names
