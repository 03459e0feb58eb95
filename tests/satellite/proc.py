"""A ``hearthvox satellite`` (or ``wyoming-satellite``) subprocess whose stderr is read
in a thread, so a test can wait for a line with a bound."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"satellite listening on tcp://127\.0\.0\.1:(\d+)")


class Proc:
    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self.popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env={**os.environ, **(env or {})},
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stderr is not None
        for line in self.popen.stderr:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    def wait_for(self, pattern: re.Pattern[str] | str, timeout_s: float) -> re.Match[str]:
        """The first stderr line matching ``pattern`` (AssertionError after ``timeout_s``)."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                for line in self.lines:
                    found = regex.search(line)
                    if found:
                        return found
                left = deadline - time.monotonic()
                if left <= 0 or self.popen.poll() is not None and not self._reader.is_alive():
                    raise AssertionError(f"no {regex.pattern!r} in:\n" + "\n".join(self.lines))
                self._changed.wait(min(left, 0.5))

    def stop(self, timeout_s: float = 20.0) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)
            raise AssertionError("did not stop within the bound on SIGTERM") from None
        finally:
            self._reader.join(5)


def hearthvox_satellite(*args: str, home: Path, env: dict[str, str] | None = None) -> Proc:
    argv = [sys.executable, "-m", "hearthvox", "-v", "satellite", *args]
    return Proc(argv, {**(env or {}), "HEARTHVOX_HOME": str(home)})
