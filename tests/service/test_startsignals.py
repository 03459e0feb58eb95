"""Stop signals while the daemon starts are remembered, not raised at a random place."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hearthvox.service.startsignals import StartSignals, StoppedBeforeStart


def _wait_for(predicate: object, limit_s: float = 5.0) -> None:
    deadline = time.monotonic() + limit_s
    while not predicate() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.01)


def test_a_stop_signal_is_noted_and_checked_between_steps() -> None:
    starting = StartSignals().install()
    try:
        assert starting.installed
        starting.check()  # nothing yet
        os.kill(os.getpid(), signal.SIGTERM)  # would end the process with its default action
        _wait_for(lambda: starting.received is not None)
        assert starting.received is signal.SIGTERM
        with pytest.raises(StoppedBeforeStart, match=r"stopped \(SIGTERM\) before the start"):
            starting.check()
        os.kill(os.getpid(), signal.SIGINT)  # noted, not raised
        _wait_for(lambda: starting.received is signal.SIGINT)
        assert starting.received is signal.SIGINT
        with pytest.raises(KeyboardInterrupt):  # a second Ctrl-C does not wait
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1.0)
    finally:
        starting.restore()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_sigterm_while_the_models_load_stops_the_daemon_cleanly(time_request_wav: Path) -> None:
    """Sent as soon as the start says it loads the models (before the daemon's own
    handlers are in): the process ends with status 0 and says why, instead of running on
    or dying of the signal."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hearthvox",
            "run",
            "--input",
            str(time_request_wav),
            "--realtime",
            "--output",
            "none",
        ],  # fmt: skip
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stderr is not None
    try:
        line = proc.stderr.readline()
        while line and "loading models" not in line:
            line = proc.stderr.readline()
        assert "loading models" in line, line
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    # noted during the start, or (on a fast machine) taken by the daemon's own handler
    assert "stopped (SIGTERM before the start had finished)" in err or "stopping (SIGTERM)" in err
