"""One daemon at a time, on the lock the batch transcriber checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hearthvox.batch.guard import daemon_lock_path, daemon_running
from hearthvox.service.lock import DaemonLock, DaemonRunningError, holder_pid

HOLD = (
    "import sys\n"
    "from hearthvox.service.lock import DaemonLock\n"
    "lock = DaemonLock().acquire()\n"
    "print('held', flush=True)\n"
    "sys.stdin.read()\n"
)


def test_the_lock_is_where_the_batch_guard_looks(hearthvox_home: Path) -> None:
    assert DaemonLock().path == daemon_lock_path() == hearthvox_home / "run" / "daemon.lock"


def test_a_second_holder_is_refused_with_the_first_ones_pid(hearthvox_home: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        assert daemon_running()
        assert holder_pid(daemon_lock_path()) == holder.pid
        with pytest.raises(DaemonRunningError, match=f"already running \\(pid {holder.pid}\\)"):
            DaemonLock().acquire()
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    assert not daemon_running()  # the kernel dropped it with the process
    with DaemonLock() as lock:
        assert holder_pid(lock.path) == os.getpid() and daemon_running()
    assert not daemon_running() and holder_pid(daemon_lock_path()) is None


def test_the_runtime_dir_is_used_without_hearthvox_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HEARTHVOX_HOME")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    with DaemonLock() as lock:
        assert lock.path == tmp_path / "hearthvox" / "daemon.lock"
        assert daemon_running(lock.path)


def test_an_unwritable_place_says_what_to_check(hearthvox_home: Path) -> None:
    hearthvox_home.mkdir(parents=True)
    (hearthvox_home / "run").write_text("not a directory")
    with pytest.raises(Exception, match="cannot create the daemon lock .*XDG_RUNTIME_DIR"):
        DaemonLock().acquire()
