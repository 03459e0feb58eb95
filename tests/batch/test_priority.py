"""Batch work and evaluation yield the CPU to real-time turns: ``--priority low`` (the
default) puts every thread of ``transcribe`` and ``eval`` at nice 10 and the lowest
best-effort I/O priority before a model loads; ``--priority normal`` changes nothing.
Real subprocesses: niceness is a property of the process and its threads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest

from hearthvox.batch.guard import BACKGROUND_NICE, background_priority

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")

HELPER = r"""
import json, os, subprocess, sys, threading
import psutil
from hearthvox.batch.guard import background_priority

def nice():
    return os.getpriority(os.PRIO_PROCESS, 0)  # Linux: the calling thread's

def io():
    c, level = psutil.Process(threading.get_native_id()).ionice()
    return [int(c), level]

before = threading.Event(); done = threading.Event(); seen = {}
def early():
    before.set(); done.wait(); seen["early"] = [nice(), io()]
t = threading.Thread(target=early); t.start(); before.wait()
warning = background_priority(sys.argv[1])
done.set(); t.join()
late = threading.Thread(target=lambda: seen.__setitem__("late", [nice(), io()]))
late.start(); late.join()
child = subprocess.run(
    [sys.executable, "-c", "import os, psutil; c, l = psutil.Process().ionice(); "
     "print(os.getpriority(os.PRIO_PROCESS, 0), int(c), l)"],
    capture_output=True, text=True, check=True,
).stdout.split()
seen["main"] = [nice(), io()]
seen["child"] = [int(child[0]), [int(child[1]), int(child[2])]]
print(json.dumps({"warning": warning, "seen": seen}))
"""


def _helper(priority: str, start_nice: int = 0) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", HELPER, priority],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=(lambda: os.nice(start_nice)) if start_nice else None,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_low_lowers_every_thread_and_what_it_starts() -> None:
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    out = _helper("low")
    assert out["warning"] is None
    # a thread already running, one started after, the main thread, a child process
    for who in ("early", "late", "main", "child"):
        nice, (io_class, level) = out["seen"][who]
        assert nice == max(mine, BACKGROUND_NICE), who
        assert (io_class, level) == (int(psutil.IOPRIO_CLASS_BE), 7), who


def test_low_never_raises_a_lower_priority_back() -> None:
    out = _helper("low", start_nice=15)
    assert out["warning"] is None
    assert {out["seen"][w][0] for w in ("early", "late", "main", "child")} == {
        max(15, os.getpriority(os.PRIO_PROCESS, 0))
    }


def test_normal_changes_nothing() -> None:
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    mine_io = psutil.Process().ionice()
    out = _helper("normal")
    assert out["warning"] is None
    for who in ("early", "late", "main", "child"):
        nice, io = out["seen"][who]
        assert nice == mine, who
        assert io == [int(mine_io[0]), mine_io[1]], who


def test_a_priority_that_cannot_be_lowered_is_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "getpriority", lambda *_a: 0)
    monkeypatch.setattr(os, "setpriority", refuse)
    monkeypatch.setattr(psutil.Process, "ionice", lambda *_a: refuse())
    warning = background_priority("low")
    assert warning is not None and "\n" not in warning
    assert "Operation not permitted" in warning


# `hearthvox transcribe|eval ARGS`, reporting at exit the niceness every thread of the
# process had (those still running, and each Python thread as it started)
CLI = r"""
import atexit, json, os, sys, threading
started = {}
run = threading.Thread.run
def recording_run(self):
    started[self.name] = os.getpriority(os.PRIO_PROCESS, 0)
    run(self)
threading.Thread.run = recording_run
def report():
    tasks = []
    for tid in os.listdir("/proc/self/task"):
        try:
            tasks.append(os.getpriority(os.PRIO_PROCESS, int(tid)))
        except OSError:
            pass
    print("PRIORITY " + json.dumps({"started": started, "tasks": tasks}), file=sys.stderr)
atexit.register(report)
from hearthvox.cli import main
sys.argv = ["hearthvox", *sys.argv[1:]]
main()
"""


def _cli(*args: str, home: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    env = {**os.environ, "HEARTHVOX_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, "-c", CLI, *args], capture_output=True, text=True, timeout=300, env=env
    )
    line = next(x for x in done.stderr.splitlines() if x.startswith("PRIORITY "))
    seen: dict[str, Any] = json.loads(line.removeprefix("PRIORITY "))
    return done, seen


def test_transcribe_runs_at_low_priority_unless_told_normal(
    corpus_dir: Path, tmp_path: Path
) -> None:
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    wav = str(corpus_dir / "spk2_snt1.wav")
    done, seen = _cli("transcribe", wav, "--when-busy", "ignore", home=tmp_path / "home")
    assert done.returncode == 0, done.stderr
    assert "one war is enough" in done.stdout.lower()
    low = max(mine, BACKGROUND_NICE)
    assert seen["started"].get("hv-batch-read") == low, seen  # the read-ahead thread
    assert set(seen["tasks"]) == {low}, seen  # the ASR's own threads among them
    assert "warning" not in done.stderr
    done, seen = _cli(
        "transcribe", wav, "--when-busy", "ignore", "--priority", "normal", home=tmp_path / "home"
    )
    assert done.returncode == 0, done.stderr
    assert seen["started"].get("hv-batch-read") == mine, seen
    assert set(seen["tasks"]) == {mine}, seen


def test_eval_lowers_its_priority_before_any_work(tmp_path: Path) -> None:
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    missing = str(tmp_path / "no-corpus")
    done, seen = _cli("eval", "--corpus", missing, home=tmp_path / "home")
    assert done.returncode != 0 and "corpus.csv" in done.stderr  # refused, but niced first
    assert set(seen["tasks"]) == {max(mine, BACKGROUND_NICE)}
    done, seen = _cli("eval", "--corpus", missing, "--priority", "normal", home=tmp_path / "home")
    assert "corpus.csv" in done.stderr
    assert set(seen["tasks"]) == {mine}
    bad = subprocess.run(
        [sys.executable, "-m", "hearthvox", "eval", "--priority", "idle"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "'idle' is not one of 'low', 'normal'" in bad.stderr
