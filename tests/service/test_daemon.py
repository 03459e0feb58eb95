"""``hearthvox run`` as a service: a real daemon process under a test service manager.

The test binds the ``NOTIFY_SOCKET`` datagram socket, sets ``WATCHDOG_USEC``,
feeds a live WAV stream on stdin and reads the events on stdout and the log on
stderr (which it declares to be the journal, ``JOURNAL_STREAM``).
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from hearthvox.audio.wavio import load_wav
from hearthvox.batch.guard import daemon_lock_path, daemon_running
from tests.service.harness import Daemon, daemon, hearthvox_env

USEC = 2_000_000  # the watchdog period the lifecycle daemon is given: pings every second


@pytest.fixture(scope="module")
def request_audio(time_request_wav: Path) -> npt.NDArray[np.int16]:
    """ "Hey Jarvis. What time is it?" and a second of silence after it."""
    return load_wav(time_request_wav).samples[8000:]


def _config(path: Path, body: str) -> Path:
    """The daemon's config: no follow-up, and the fallback skill's own reply (which the
    reload changes) rather than the language model's."""
    head = "[endpoint]\nfollow_up = false\n[llm]\nenabled = false\n"
    path.write_text(head + body, encoding="utf-8")
    return path


def _turn(d: Daemon, audio: npt.NDArray[np.int16]) -> dict[str, object]:
    """Say the request; the reply of the turn it makes."""
    start = d.events.count()
    d.feeder.say(audio)
    done = d.event("turn_done", start)
    replies = [e for e in d.events.items[start:done] if e.get("event") == "reply"]
    assert replies, d.events.items[start:]
    return replies[-1]


def _reload(d: Daemon) -> int:
    """SIGHUP; RELOADING=1 with our CLOCK_MONOTONIC, then READY=1: the index of READY."""
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    start = d.notify.notes.count()
    d.signal(signal.SIGHUP)
    i = d.notify.wait("RELOADING", "1", start)
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert before <= int(d.notify.notes.items[i].fields["MONOTONIC_USEC"]) <= after
    return d.notify.wait("READY", "1", i + 1)


def _telemetry_turns() -> int:
    out = subprocess.run(
        [sys.executable, "-m", "hearthvox", "telemetry", "summary", "--json"],
        capture_output=True, text=True, timeout=120, env=hearthvox_env(), check=True,
    )  # fmt: skip
    return int(json.loads(out.stdout.splitlines()[0])["turns"])


def test_ready_watchdog_reload_one_instance_and_drain(
    tmp_path: Path, request_audio: npt.NDArray[np.int16]
) -> None:
    cfg = _config(tmp_path / "config.toml", "[service]\nstall_s = 60.0\n")
    with daemon(tmp_path, "--config", str(cfg), watchdog_usec=USEC) as d:
        # READY=1 only after the models loaded and passed the health check
        ready = d.notify.wait("READY", "1")
        statuses = [n.fields.get("STATUS") for n in d.notify.notes.items[: ready + 1]]
        assert statuses.index("loading models") < statuses.index("checking health") < ready
        status = d.notify.notes.items[ready].fields["STATUS"]
        assert status.startswith("listening on standard input")
        d.log_line("health check passed")
        assert daemon_running(daemon_lock_path())  # what `hearthvox transcribe` checks

        # answers as usual
        first = _turn(d, request_audio)
        assert first["skill"] == "time" and str(first["text"]).startswith("It is")

        # SIGHUP with a valid config: applied between turns
        _config(
            cfg,
            '[service]\nstall_s = 60.0\n[skills]\ndisabled = ["time"]\n'
            'fallback_reply = "Reloaded fallback."\n',
        )
        _reload(d)
        d.log_line("config reloaded: models kept")
        assert _turn(d, request_audio)["text"] == "Reloaded fallback."

        # SIGHUP with a broken config: reported, the previous one kept
        cfg.write_text("[skills\nthis is not TOML", encoding="utf-8")
        _reload(d)
        d.log_line("keeping the previous config")
        assert _turn(d, request_audio)["text"] == "Reloaded fallback."

        # a second daemon refuses to start, before loading anything
        second = subprocess.run(
            [sys.executable, "-m", "hearthvox", "run", "--input", "-"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
            env=hearthvox_env(NOTIFY_SOCKET=str(tmp_path / "other.sock")),
        )  # fmt: skip
        assert second.returncode == 1, second.stderr
        assert f"already running (pid {d.proc.pid})" in second.stderr
        assert "loading models" not in second.stderr

        # SIGTERM mid-turn: STOPPING=1, the turn finishes, exit 0
        start = d.events.count()
        d.feeder.say(request_audio)
        d.event("wake", start)
        stop_from = d.notify.notes.count()
        d.signal(signal.SIGTERM)
        stopping = d.notify.wait("STOPPING", "1", stop_from)
        assert d.proc.wait(timeout=120) == 0, d.stderr()
        assert [e["event"] for e in d.events.items[start:]][-1] == "turn_done"
        d.log.wait_closed()

        pings = [n.t for n in d.notify.notes.items[ready:stopping] if "WATCHDOG" in n.fields]
        log = d.stderr()

    # the pings kept coming, through turns and reloads, within the watchdog period
    gaps = np.diff(pings)
    print(f"{len(pings)} pings over {pings[-1] - pings[0]:.1f} s, longest gap {gaps.max():.3f} s")
    assert len(pings) >= (pings[-1] - pings[0]) / (USEC / 2e6) - 1
    assert gaps.max() < USEC / 1e6, f"longest gap between pings {gaps.max():.2f} s"

    # telemetry was flushed at the stop: every turn the daemon printed is recorded
    assert _telemetry_turns() == 4

    # the journal got priorities, no timestamps, one line per state change, never a word said
    lines = [ln for ln in log.splitlines() if ln.strip()]
    assert all(re.match(r"<[0-7]>", ln) for ln in lines), lines
    for state in ("loading models", "checking health", "ready: listening"):
        assert sum(ln.startswith(f"<5>hearthvox: {state}") for ln in lines) == 1, (state, lines)
    assert "<3>hearthvox: reload failed" in log and "<5>hearthvox: stopping (SIGTERM)" in log
    assert "time is it" not in log.lower() and "reloaded fallback" not in log.lower()
    assert not re.search(r"\d\d:\d\d:\d\d", log)


@pytest.mark.parametrize(
    ("stage", "silent"),
    [("asr", "engine: asr: "), ("wake", "engine: wake: "), ("loop", "pipeline: ")],
)
def test_a_hung_stage_stops_the_watchdog_pings(
    tmp_path: Path, request_audio: npt.NDArray[np.int16], stage: str, silent: str
) -> None:
    cfg = _config(tmp_path / "config.toml", "[service]\ndrain_s = 1.0\n")
    env = {"HEARTHVOX_DEBUG_HANG": stage}
    with daemon(tmp_path, "--config", str(cfg), watchdog_usec=1_000_000, env=env) as d:
        ready = d.notify.wait("READY", "1")
        pinging = d.notify.wait("WATCHDOG", "1", ready)
        d.feeder.say(request_audio)
        stalled = d.notify.notes.wait_for(
            lambda n: n.fields.get("STATUS", "").startswith("stalled: "), pinging
        )
        # no ping for two watchdog periods after the stall was reported
        with pytest.raises(AssertionError, match="no match"):
            d.notify.wait("WATCHDOG", "1", stalled + 1, timeout=2.0)
        line = d.log.items[d.log_line("<3>hearthvox: stalled")]
        assert silent in line and "watchdog pings stopped" in line
        if stage == "asr":  # the loop still runs: SIGTERM gives up on the stuck call, exits 0
            d.signal(signal.SIGTERM)
            assert d.proc.wait(timeout=60) == 0
            assert "cancelled" in d.stderr()
            return
        # what systemd does once WatchdogSec passed without a ping: SIGABRT, then a restart
        d.signal(signal.SIGABRT)
        assert d.proc.wait(timeout=60) == -signal.SIGABRT
    with daemon(tmp_path, "--config", str(cfg), watchdog_usec=1_000_000) as again:
        ready = again.notify.wait("READY", "1")  # the lock died with the hung one
        again.notify.wait("WATCHDOG", "1", ready)
