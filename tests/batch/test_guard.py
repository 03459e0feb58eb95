"""The capacity guard: finding the daemon's lock, and yielding the CPU."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hearthvox.batch.guard import daemon_lock_path, daemon_running
from hearthvox.batch.guardbench import HOLD  # a stand-in daemon holding its lock


def test_lock_path_follows_hearthvox_home_then_xdg_runtime_dir(
    hearthvox_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert daemon_lock_path() == hearthvox_home / "run" / "daemon.lock"
    monkeypatch.delenv("HEARTHVOX_HOME")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert daemon_lock_path() == tmp_path / "hearthvox" / "daemon.lock"


def test_daemon_is_seen_while_another_process_holds_the_lock() -> None:
    path = daemon_lock_path()
    assert not daemon_running()
    daemon = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert daemon.stdout is not None and daemon.stdout.readline().strip() == "held"
        assert daemon_running()
        assert daemon_running()  # looking does not take the lock
    finally:
        daemon.communicate("\n", timeout=30)
    assert path.exists() and not daemon_running()


def test_lower_priority_moves_every_thread_down() -> None:
    code = (
        "import os, threading\n"
        "from hearthvox.batch.guard import lower_priority\n"
        "ev = threading.Event(); t = threading.Thread(target=ev.wait); t.start()\n"
        "print(lower_priority())\n"
        "for tid in os.listdir('/proc/self/task'):\n"
        "    tid = int(tid)\n"
        "    idle = os.sched_getscheduler(tid) == os.SCHED_IDLE\n"
        "    print(idle, os.getpriority(os.PRIO_PROCESS, tid))\n"
        "ev.set()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=os.environ
    )
    assert out.returncode == 0, out.stderr
    policy, *threads = out.stdout.splitlines()
    assert len(threads) >= 2
    if policy == "sched_idle":
        assert all(t.startswith("True") for t in threads), threads
    else:
        assert policy == "nice 19" and all(t.endswith(" 19") for t in threads), threads
