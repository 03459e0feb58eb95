"""One daemon at a time: an exclusive ``fcntl.flock`` on the daemon lock file.

The path is :func:`hearthvox.batch.guard.daemon_lock_path` (so ``hearthvox
transcribe`` sees the same lock and yields while the daemon runs):
``$HEARTHVOX_HOME/run/daemon.lock``, else ``$XDG_RUNTIME_DIR/hearthvox/daemon.lock``,
else the platform's runtime dir. The holder writes its pid into the file, so a
second daemon can say who holds it. The kernel drops the lock when the process
ends, however it ends: a stale file never blocks a start.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from hearthvox.batch.guard import daemon_lock_path
from hearthvox.errors import HearthvoxError


class DaemonRunningError(HearthvoxError):
    """Another hearthvox daemon holds the lock (exit code 1)."""


def holder_pid(path: Path) -> int | None:
    """The pid written into the lock file, if any."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


class DaemonLock:
    """Held from :meth:`acquire` until :meth:`release` or the end of the process."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or daemon_lock_path()
        self._fh: IO[str] | None = None

    def acquire(self) -> DaemonLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fh = self.path.open("a+", encoding="ascii")  # never truncate another's pid
        except OSError as exc:
            raise HearthvoxError(
                f"cannot create the daemon lock {self.path}: {exc.strerror}; "
                "check that XDG_RUNTIME_DIR (or HEARTHVOX_HOME) is a directory you can write"
            ) from exc
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            pid = holder_pid(self.path)
            who = f" (pid {pid})" if pid else ""
            raise DaemonRunningError(
                f"another hearthvox daemon is already running{who}; it holds {self.path}. "
                "Stop it first (systemctl --user stop hearthvox, or sudo systemctl stop "
                "hearthvox), or run on a recording instead: hearthvox run --input FILE.wav"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        fh, self._fh = self._fh, None
        if fh is None:
            return
        fh.seek(0)
        fh.truncate()
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        fh.close()

    def __enter__(self) -> DaemonLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
