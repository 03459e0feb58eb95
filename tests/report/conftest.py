"""One real ``hearthvox report --quick`` per test session, shared by the report tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HEARTHVOX = Path(sys.executable).parent / "hearthvox"


def run_cli(
    args: list[str], home: Path, corpus: Path, timeout: float = 600.0
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HEARTHVOX_HOME": str(home), "HEARTHVOX_CORPUS": str(corpus)}
    return subprocess.run(
        [str(HEARTHVOX), *args], capture_output=True, text=True, env=env, timeout=timeout
    )


@pytest.fixture(scope="session")
def built_report(tmp_path_factory: pytest.TempPathFactory, corpus_dir: Path) -> Path:
    """The folder of a report built from a clean state (a fresh HEARTHVOX_HOME)."""
    root = tmp_path_factory.mktemp("report")
    out = root / "out"
    done = run_cli(["report", "--quick", "--out-dir", str(out)], root / "home", corpus_dir)
    assert done.returncode == 0, done.stderr[-2000:]
    assert str(out / "report.html") in done.stdout
    return out
