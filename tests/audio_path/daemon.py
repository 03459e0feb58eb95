"""``hearthvox run`` as a real process on the test's PulseAudio, read line by line."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import numpy.typing as npt

from tests.audio_path.conftest import Pulse

Record = dict[str, Any]


class Daemon:
    def __init__(self, pulse: Pulse, home: Path, *args: str, source: str = "hv.monitor") -> None:
        env = {
            **pulse.env,
            "HEARTHVOX_HOME": str(home),
            "PULSE_SOURCE": source,
            "PULSE_SINK": "hvout",
        }
        cmd = [sys.executable, "-m", "hearthvox", "run", "--json", *args]
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.events: queue.Queue[Record] = queue.Queue()
        self.log: queue.Queue[str] = queue.Queue()
        self.stderr: list[str] = []
        assert self.proc.stdout is not None and self.proc.stderr is not None
        for stream, handle in ((self.proc.stdout, self._event), (self.proc.stderr, self._line)):
            threading.Thread(target=self._read, args=(stream, handle), daemon=True).start()

    @staticmethod
    def _read(stream: TextIO, handle: Callable[[str], None]) -> None:
        for line in stream:
            handle(line.rstrip("\n"))

    def _event(self, line: str) -> None:
        self.events.put(json.loads(line))

    def _line(self, line: str) -> None:
        self.stderr.append(line)
        self.log.put(line)

    def wait_log(self, text: str, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.log.get(timeout=left)
            except queue.Empty:
                break
            if text in line:
                return line
        raise AssertionError(f"no {text!r} on stderr in {timeout_s} s:\n" + "\n".join(self.stderr))

    def wait_event(self, pred: Callable[[Record], bool], timeout_s: float) -> list[Record]:
        """Events up to and including the first that ``pred`` accepts."""
        seen: list[Record] = []
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                break
            seen.append(event)
            if pred(event):
                return seen
        raise AssertionError(
            f"no such event in {timeout_s} s; saw {seen}\n" + "\n".join(self.stderr[-30:])
        )

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode


def turn_done(event: Record) -> bool:
    return bool(event["event"] == "turn_done")


def stop_recording(rec: subprocess.Popen[bytes], path: Path) -> npt.NDArray[np.int16]:
    """End a ``parecord`` (it finishes the WAV on SIGINT) and read what it recorded."""
    rec.send_signal(signal.SIGINT)
    rec.wait(timeout=10)
    with wave.open(str(path), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)


def loud_s(audio: npt.NDArray[np.int16], rate_hz: int = 16000, level: float = 500.0) -> float:
    """Seconds of 20 ms frames whose RMS is above ``level``."""
    n = rate_hz // 50
    frames = audio[: len(audio) // n * n].astype(np.float64).reshape(-1, n)
    return float((np.sqrt((frames**2).mean(axis=1)) > level).sum()) * 0.02
