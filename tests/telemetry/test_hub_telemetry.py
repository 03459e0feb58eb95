"""``hearthvox hub`` records its turns by area: the real command, two real
wyoming-satellite processes that hear the same wake word, then ``telemetry summary``."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from hearthvox.engines import Engines
from hearthvox.paths import user_paths
from hearthvox.telemetry.store import default_path
from tests.conftest import REPO, hearthvox_cli, silence, speak16
from tests.hub.conftest import SATELLITE_PYTHON, Satellite, make_satellite, write_raw


@pytest.fixture
def satellites(tmp_path: Path) -> Iterator[list[Satellite]]:
    if not SATELLITE_PYTHON.exists():
        pytest.skip(f"wyoming-satellite is not installed at {SATELLITE_PYTHON}")
    made: list[Satellite] = []
    yield made
    for s in made:
        s.kill()


def wait_for(what: Callable[[], bool], timeout_s: float, why: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not what():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {why}")
        time.sleep(0.1)


def stored_turns(db: Path) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM turns").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0
    finally:
        conn.close()


def test_the_hub_records_each_satellites_turn_by_area(
    engines: Engines, satellites: list[Satellite], tmp_path: Path
) -> None:
    request = np.concatenate(
        [silence(0.3), speak16(engines, "Hey Jarvis. What time is it?"), silence(1.5)]
    )
    near, far = (
        make_satellite(satellites, tmp_path, name, write_raw(tmp_path / f"{name}.raw", request, g))
        for name, g in (("near", 1.0), ("far", 0.3))
    )
    config = tmp_path / "config.toml"
    config.write_text(
        "[hub]\nreconnect_max_s = 1.0\n"
        f'[[hub.satellites]]\nuri = "{near.uri}"\narea = "kitchen"\n'
        f'[[hub.satellites]]\nuri = "{far.uri}"\narea = "living room"\n'
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "hearthvox", "-v", "hub", "--config", str(config)],
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    stream = proc.stderr
    log: list[str] = []
    reader = threading.Thread(target=lambda: log.extend(stream), daemon=True)
    reader.start()
    db = default_path(user_paths().state_dir)
    try:

        def streaming() -> bool:
            text = "".join(log)
            return (
                "satellite kitchen: pipeline" in text and "satellite living room: pipeline" in text
            )

        wait_for(streaming, 120, "both satellites streaming")
        near.say()
        far.say()
        wait_for(lambda: stored_turns(db) >= 2, 60, "two turns recorded")
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    reader.join(10)
    text = "".join(log)
    assert proc.returncode == 0, text
    assert near.played_s() > 0.5 and far.played_s() == 0.0, text

    data = json.loads(hearthvox_cli("telemetry", "summary", "--since", "all", "--json").stdout)
    assert data["starts"] == 1 and data["turns"] == 2
    assert set(data["areas"]) == {"kitchen", "living_room"}
    kitchen, living = data["areas"]["kitchen"], data["areas"]["living_room"]
    assert kitchen["outcomes"] == {"answered": 1}, data
    assert kitchen["arbitration"] == {"won": 1, "stood_down": 0}
    assert living["outcomes"] == {"stood_down": 1}, data
    assert living["arbitration"] == {"won": 0, "stood_down": 1}
    assert {"asr", "skill", "end_of_speech_to_first_audio"} <= set(kitchen["stages"])
    assert kitchen["stages"]["asr"]["queue"]["n"] == 1
    conn = sqlite3.connect(db)
    (command,) = conn.execute("SELECT command FROM starts").fetchone()
    claims = conn.execute("SELECT area, arbitration_claims FROM turns ORDER BY area").fetchall()
    conn.close()
    assert command == "hub" and claims == [("kitchen", 2), ("living_room", 2)]
    summary = hearthvox_cli("telemetry", "summary", "--since", "all").stdout
    assert "per area (hub): 2 areas" in summary
    assert "kitchen: 1 turns · answered 1 · arbitration: won 1, stood down 0" in summary
