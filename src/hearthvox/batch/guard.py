"""Capacity guard: batch work yields to the live assistant running on the same device.

The daemon (``hearthvox run`` as a service) holds an exclusive ``fcntl.flock`` on
:func:`daemon_lock_path` while it runs:

* ``$HEARTHVOX_HOME/run/daemon.lock`` when ``HEARTHVOX_HOME`` is set,
* else ``$XDG_RUNTIME_DIR/hearthvox/daemon.lock``,
* else platformdirs' user runtime dir (``/run/user/UID/hearthvox`` on Linux) + ``daemon.lock``.

:func:`daemon_running` checks for that lock without taking it (it reads
``/proc/locks``; elsewhere it tries a shared lock and lets go at once). When the
daemon runs, a batch run lowers itself: every thread of the process goes to
``SCHED_IDLE`` (it only gets CPU time no one else wants) or, where that is
refused, to nice 19, and the ASR gets fewer threads; or it waits until the
daemon stops.

Whether the daemon holds its lock or not (``serve``, ``hub`` or a ``run`` in a shell
hold none), batch work and evaluation start at a lower priority by default
(:func:`background_priority`, ``--priority low``): real-time turns go first.
"""

from __future__ import annotations

import fcntl
import os
import warnings
from pathlib import Path
from typing import Literal

import platformdirs

from hearthvox.paths import APP

WhenBusy = Literal["yield", "wait", "ignore"]
Priority = Literal["low", "normal"]
BACKGROUND_NICE = 10
"""The niceness of batch work and evaluation at ``--priority low``."""
BACKGROUND_IO_LEVEL = 7
"""Their disk I/O priority: the best-effort class's lowest level (Linux)."""
LOCK_NAME = "daemon.lock"


def daemon_lock_path() -> Path:
    home = os.environ.get("HEARTHVOX_HOME")
    if home:
        return Path(home).expanduser() / "run" / LOCK_NAME
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / APP / LOCK_NAME
    with warnings.catch_warnings():  # platformdirs warns when it falls back to /tmp
        warnings.simplefilter("ignore")
        return Path(platformdirs.user_runtime_dir(APP)) / LOCK_NAME


def _held_per_proc_locks(path: Path) -> bool | None:
    """Whether /proc/locks lists a lock on *path*'s inode; None when there is no /proc/locks."""
    try:
        text = Path("/proc/locks").read_text()
    except OSError:
        return None
    try:
        st = path.stat()
    except OSError:
        return False
    want = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in text.splitlines():
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" (blocked waiters have "->")
        if "->" not in fields and want in fields:
            return True
    return False


def daemon_running(path: Path | None = None) -> bool:
    """True while some process holds a lock on the daemon's lock file."""
    path = path or daemon_lock_path()
    if not path.exists():
        return False
    held = _held_per_proc_locks(path)
    if held is not None:
        return held
    try:
        with path.open("rb") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    except OSError:
        return False
    return False


def lower_priority() -> str:
    """Put every thread of this process at the lowest CPU priority; returns which one."""
    policy = "sched_idle"
    for tid in _thread_ids():
        try:
            if hasattr(os, "SCHED_IDLE"):
                os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
                continue
        except OSError:
            pass
        policy = "nice 19"
        try:
            os.setpriority(os.PRIO_PROCESS, tid, 19)
        except OSError:
            continue  # the thread ended meanwhile
    return policy


def yielded_threads(threads: int) -> int:
    """ASR threads for a batch run beside the daemon: half, at least one."""
    return max(1, threads // 2)


def _thread_ids() -> list[int]:
    tasks = Path("/proc/self/task")
    try:
        return [int(t) for t in os.listdir(tasks)]
    except OSError:
        return [0]  # no /proc: the calling thread (the process, outside Linux)


def background_priority(priority: Priority) -> str | None:
    """``low``: this process yields the CPU and the disk to the live assistant's
    real-time turns (``run``, ``serve``, ``hub``) on the same device. Every thread it
    has now goes to nice :data:`BACKGROUND_NICE` (never back up from a higher
    niceness), and on Linux to the best-effort I/O class's lowest level
    (:data:`BACKGROUND_IO_LEVEL`; not the idle class, which would stall a run for as
    long as anything else reads the disk). Threads and processes started afterwards
    (the ASR's and ONNX Runtime's pools, the read-ahead thread, a local Ray cluster)
    inherit both: call it before loading models. ``normal`` changes nothing.

    Returns a one-line warning when the priority could not be lowered (never raises).
    """
    if priority == "normal":
        return None
    if not hasattr(os, "setpriority"):
        return "cannot lower this process's priority on this platform; it runs at normal"
    failed: list[str] = []
    for tid in _thread_ids():
        try:
            if os.getpriority(os.PRIO_PROCESS, tid) < BACKGROUND_NICE:
                os.setpriority(os.PRIO_PROCESS, tid, BACKGROUND_NICE)
        except ProcessLookupError:
            continue  # the thread ended meanwhile
        except OSError as exc:
            failed.append(f"nice {BACKGROUND_NICE}: {exc.strerror or exc}")
            break
    failed += _lower_io(_thread_ids())
    if failed:
        return "could not lower this process's priority (" + "; ".join(failed) + ")"
    return None


def _lower_io(tids: list[int]) -> list[str]:
    """Best-effort I/O class, lowest level, for each thread (Linux; nothing elsewhere)."""
    import psutil

    io_class = getattr(psutil, "IOPRIO_CLASS_BE", None)
    if io_class is None:
        return []
    for tid in tids:
        try:
            psutil.Process(tid or None).ionice(io_class, BACKGROUND_IO_LEVEL)
        except psutil.NoSuchProcess:
            continue
        except (psutil.Error, OSError, ValueError) as exc:
            return [f"I/O priority: {exc}"]
    return []
