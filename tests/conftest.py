"""Shared test fixtures: the real corpus from ../shared/corpus, a private HEARTHVOX_HOME."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from hearthvox.audio.resample import resample_int16
from hearthvox.audio.wavio import write_wav
from hearthvox.bundles.default import default_model_paths
from hearthvox.config import Config
from hearthvox.engines import Engines, load_engines
from hearthvox.settings import engine_config

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("HEARTHVOX_CORPUS", REPO.parent / "shared" / "corpus"))


def hearthvox_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``python -m hearthvox ARGS`` from the repository root, output captured as text,
    with this process's environment (e.g. the test's ``HEARTHVOX_HOME``)."""
    return subprocess.run(
        [sys.executable, "-m", "hearthvox", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ.copy(),
        cwd=REPO,
    )


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


@pytest.fixture(scope="session")
def engines() -> Engines:
    """The real engines of the default bundle, loaded once for the session."""
    models = default_model_paths()
    return load_engines(models, engine_config(Config(), models))


def speak16(engines: Engines, text: str) -> npt.NDArray[np.int16]:
    """``text`` spoken by the bundle's voice, at 16 kHz."""
    speech = np.concatenate(list(engines.tts.sentences(text)))
    return resample_int16(speech, engines.tts.rate_hz, 16000)


def silence(seconds: float) -> npt.NDArray[np.int16]:
    return np.zeros(int(16000 * seconds), dtype=np.int16)


@pytest.fixture(scope="session")
def time_request_wav(engines: Engines, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A WAV of "Hey Jarvis. What time is it?" with silence around it."""
    path = tmp_path_factory.mktemp("requests") / "time.wav"
    audio = np.concatenate(
        [silence(1.0), speak16(engines, "Hey Jarvis. What time is it?"), silence(2.0)]
    )
    write_wav(path, audio, 16000)
    return path
