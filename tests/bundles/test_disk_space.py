"""A full disk: refused before writing, or (ENOSPC at write) cleaned up; the store unchanged.

The store lives on a 4 MiB tmpfs mounted in a private mount namespace (``unshare``),
so the disk really is full.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def _namespace_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True, timeout=30)
    return probe.returncode == 0


needs_unshare = pytest.mark.skipif(
    not _namespace_works(), reason="needs unshare -rm (a private mount namespace) for a small tmpfs"
)


def _run(tmp_path: Path, case: str) -> dict[str, Any]:
    mount = tmp_path / "small-disk"
    mount.mkdir()
    files = tmp_path / "artifacts"
    script = (
        f"mount -t tmpfs -o size=4m tmpfs {mount} && "
        f"exec {sys.executable} -m tests.bundles.disk_helper {mount} {files} {case}"
    )
    proc = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


@needs_unshare
def test_not_enough_space_is_refused_before_writing(tmp_path: Path) -> None:
    result = _run(tmp_path, "precheck")
    assert "not enough disk space" in result["error"]
    assert "needs" in result["error"] and "free" in result["error"]
    assert result["unchanged"] and result["channel_unchanged"]


@needs_unshare
def test_enospc_while_writing_is_reported_and_cleaned_up(tmp_path: Path) -> None:
    result = _run(tmp_path, "enospc")
    assert "not enough disk space" in result["error"]
    assert "while writing" in result["error"] or "while flushing" in result["error"]
    assert result["unchanged"] and result["channel_unchanged"]
