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
@pytest.mark.parametrize(
    ("case", "when"),
    [("precheck", "the install needs"), ("enospc", "while writing")],
    ids=["refused-before-writing", "enospc-at-write"],
)
def test_a_full_disk_is_refused_and_the_store_is_unchanged(
    tmp_path: Path, case: str, when: str
) -> None:
    result = _run(tmp_path, case)
    assert "not enough disk space" in result["error"] and when in result["error"]
    assert result["unchanged"] and result["channel_unchanged"]
