"""A real ``hearthvox run`` daemon under test: a service manager's notify socket, a live
input on stdin, its events and its log, each read by a thread and waited on with timeouts."""

from __future__ import annotations

import fcntl
import json
import os
import queue
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

import numpy as np
import numpy.typing as npt

T = TypeVar("T")
RATE = 16000
BLOCK = RATE * 80 // 1000  # one 80 ms chunk
WAIT_S = 120.0  # generous: other engineers' suites may be loading this machine


class Waiter:
    """Items arriving from a thread; wait for one that matches, with a timeout."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._cond = threading.Condition()
        self.closed = False

    def add(self, item: Any) -> None:
        with self._cond:
            self.items.append(item)
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def wait_for(
        self, match: Callable[[Any], bool], start: int = 0, timeout: float = WAIT_S
    ) -> int:
        """Index of the first item from ``start`` that matches; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i in range(start, len(self.items)):
                    if match(self.items[i]):
                        return i
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    raise AssertionError(
                        f"no match after {timeout:.0f} s (closed={self.closed}): {self.items[-12:]}"
                    )
                self._cond.wait(left)

    def wait_closed(self, timeout: float = WAIT_S) -> None:
        """Until the writer is done (its stream ended)."""
        with self._cond:
            if not self._cond.wait_for(lambda: self.closed, timeout):
                raise AssertionError(f"still open after {timeout:.0f} s")

    def count(self) -> int:
        with self._cond:
            return len(self.items)


@dataclass
class Note:
    """One datagram from the daemon: when it came and its ``KEY=VALUE`` fields."""

    t: float
    fields: dict[str, str]


class NotifySocket:
    """The service manager's end of ``NOTIFY_SOCKET``: a bound datagram socket."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.5)
        self.notes = Waiter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._recv, daemon=True)
        self._thread.start()

    def _recv(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            lines = data.decode("utf-8").split("\n")
            self.notes.add(Note(time.monotonic(), dict(ln.split("=", 1) for ln in lines if ln)))

    def wait(
        self, key: str, value: str | None = None, start: int = 0, timeout: float = WAIT_S
    ) -> int:
        return self.notes.wait_for(
            lambda n: key in n.fields and (value is None or n.fields[key] == value), start, timeout
        )

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


def wav_stream_header() -> bytes:
    """A 16 kHz mono 16-bit WAV header that leaves the length open (as live recorders do)."""
    return b"RIFF" + struct.pack(
        "<I4s4sIHHIIHH4sI", 0xFFFFFFFF, b"WAVE", b"fmt ", 16, 1, 1, RATE, RATE * 2, 2, 16,
        b"data", 0xFFFFFFFF,
    )  # fmt: skip


class Feeder:
    """A microphone on the daemon's stdin: silence, and what the test says, at the pace the
    daemon reads (``--realtime``; a small pipe makes the writes wait for the reads)."""

    def __init__(self, stdin: IO[bytes]) -> None:
        self.stdin = stdin
        try:
            fcntl.fcntl(stdin.fileno(), fcntl.F_SETPIPE_SZ, 4096)
        except OSError:
            pass  # a bigger pipe only means more latency
        self._say: queue.Queue[npt.NDArray[np.int16]] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def say(self, audio: npt.NDArray[np.int16]) -> None:
        self._say.put(audio)

    def _run(self) -> None:
        silence = np.zeros(BLOCK, dtype=np.int16).tobytes()
        try:
            self.stdin.write(wav_stream_header())
            while not self._stop.is_set():
                try:
                    data = self._say.get_nowait().tobytes()
                except queue.Empty:
                    data = silence
                self.stdin.write(data)
                self.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            return  # the daemon went away (or the test closed the pipe)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@dataclass
class Daemon:
    proc: subprocess.Popen[bytes]
    notify: NotifySocket
    feeder: Feeder
    events: Waiter = field(default_factory=Waiter)
    log: Waiter = field(default_factory=Waiter)

    def event(self, name: str, start: int = 0, timeout: float = WAIT_S) -> int:
        return self.events.wait_for(lambda e: e.get("event") == name, start, timeout)

    def log_line(self, text: str, start: int = 0, timeout: float = WAIT_S) -> int:
        return self.log.wait_for(lambda line: text in line, start, timeout)

    def signal(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def stderr(self) -> str:
        return "\n".join(self.log.items)


def _pump(stream: IO[bytes], parse: Callable[[str], Any], into: Waiter) -> None:
    for raw in stream:
        line = raw.decode("utf-8", "replace").rstrip("\n")
        item = parse(line)
        if item is not None:
            into.add(item)
    into.close()


def _json_or_none(line: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        return None


def hearthvox_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
    env.update(extra)
    return env


@contextmanager
def daemon(
    tmp: Path, *args: str, watchdog_usec: int | None = None, env: dict[str, str] | None = None
) -> Iterator[Daemon]:
    """``hearthvox run --input - --realtime --json --output none ARGS`` under a fake service
    manager: its stderr is "the journal" (``JOURNAL_STREAM`` names that pipe)."""
    notify = NotifySocket(tmp / f"notify-{time.monotonic_ns()}.sock")
    err_r, err_w = os.pipe()
    st = os.fstat(err_w)
    extra = {"NOTIFY_SOCKET": str(notify.path), "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
    if watchdog_usec is not None:
        extra["WATCHDOG_USEC"] = str(watchdog_usec)
    cmd = [sys.executable, "-m", "hearthvox", "run", "--input", "-", "--realtime", "--json"]
    proc = subprocess.Popen(
        [*cmd, "--output", "none", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=err_w,
        env=hearthvox_env(**extra, **(env or {})),
        cwd=tmp,  # a core dump (SIGABRT is systemd's watchdog signal) lands in the scratch dir
    )
    os.close(err_w)
    assert proc.stdin is not None and proc.stdout is not None
    d = Daemon(proc, notify, Feeder(proc.stdin))
    threads = [
        threading.Thread(target=_pump, args=(proc.stdout, _json_or_none, d.events), daemon=True),
        threading.Thread(
            target=_pump, args=(os.fdopen(err_r, "rb"), lambda s: s, d.log), daemon=True
        ),
    ]
    for t in threads:
        t.start()
    try:
        yield d
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        d.feeder.stop()
        try:
            proc.stdin.close()
        except OSError:
            pass  # the daemon is gone; the pipe is broken
        for t in threads:
            t.join(timeout=5)
        notify.close()
