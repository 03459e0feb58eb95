"""Shared test fixtures: the real corpus from ../shared/corpus, a private HEARTHVOX_HOME."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("HEARTHVOX_CORPUS", REPO.parent / "shared" / "corpus"))


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    if not (CORPUS / "corpus.csv").exists():
        pytest.fail(f"corpus not found at {CORPUS}; set HEARTHVOX_CORPUS")
    return CORPUS


@pytest.fixture(scope="session")
def corpus_rows(corpus_dir: Path) -> list[dict[str, str]]:
    with (corpus_dir / "corpus.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(autouse=True)
def hearthvox_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "hvhome"
    monkeypatch.setenv("HEARTHVOX_HOME", str(home))
    yield home
