"""``hearthvox serve`` under a service manager: READY=1 once it listens, WATCHDOG=1 while
its event loop runs, STOPPING=1 on SIGTERM (what hearthvox-serve.service relies on)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from hearthvox.cli.serve import DEFAULT_PORT

from .harness import NotifySocket

WAIT_S = 180.0  # loading the models on a busy 2-core machine


def test_serve_notifies_ready_pings_the_watchdog_and_says_stopping(tmp_path: Path) -> None:
    manager = NotifySocket(tmp_path / "notify.sock")
    env = {
        **os.environ,
        "NOTIFY_SOCKET": str(manager.path),
        "WATCHDOG_USEC": "1000000",  # a ping every half second
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "hearthvox", "serve", "--uri", "tcp://127.0.0.1:0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    try:
        ready = manager.wait("READY", "1", timeout=WAIT_S)
        status = manager.notes.items[ready].fields["STATUS"]
        assert status.startswith("serving Wyoming on tcp://127.0.0.1:")
        first = manager.wait("WATCHDOG", "1", start=ready, timeout=30)
        manager.wait("WATCHDOG", "1", start=first + 1, timeout=30)  # and again
        proc.send_signal(signal.SIGTERM)
        manager.wait("STOPPING", "1", start=ready, timeout=30)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        manager.close()
    assert proc.stderr is not None
    assert b"Traceback" not in proc.stderr.read()


def test_the_default_port_is_clear_of_the_usual_wyoming_ports() -> None:
    assert DEFAULT_PORT not in (10200, 10300, 10400, 10700)
    help_text = subprocess.run(
        [sys.executable, "-m", "hearthvox", "serve", "--help"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    assert f"127.0.0.1:{DEFAULT_PORT}" in help_text
