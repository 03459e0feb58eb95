"""The writer thread: producers never wait, a full queue drops and counts, failures are survived."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from hearthvox.telemetry.store import TelemetryStore
from hearthvox.telemetry.writer import TelemetryWriter
from tests.telemetry.helpers import turn


def test_a_full_queue_drops_and_counts_without_waiting(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite3"
    release = threading.Event()

    def slow_store() -> TelemetryStore:
        release.wait(30)  # the writer is stuck (a slow disk) until the test lets it go
        return TelemetryStore(path)

    writer = TelemetryWriter(slow_store, queue_size=3).start()
    accepted = [writer.submit("turn", turn(float(i))) for i in range(10)]
    assert accepted == [True] * 3 + [False] * 7  # put_nowait: the caller never blocked
    assert writer.dropped == 7
    release.set()
    assert writer.flush(30)
    writer.close()
    store = TelemetryStore(path)
    assert [r["stages"]["end_of_speech_to_first_audio"][0] for r in store.turns()] == [0, 1, 2]
    assert store.dropped() == 7


def test_context_fields_are_added_in_the_thread(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite3"
    seen: list[str] = []

    def context() -> dict[str, object]:
        seen.append(threading.current_thread().name)
        return {"profile": "rpi5"}

    writer = TelemetryWriter(lambda: TelemetryStore(path), context=context).start()
    record = turn()
    del record["profile"]  # the observer does not know it; the writer's context does
    writer.submit("turn", record)
    writer.submit("start", {"command": "run", "cold_start_ms": 1234.0})
    writer.close()
    store = TelemetryStore(path)
    assert seen == ["hv-telemetry"]
    assert store.turns()[0]["profile"] == "rpi5"
    assert store.starts()[0]["profile"] == "rpi5"


def test_a_refused_record_is_logged_and_the_writer_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "t.sqlite3"
    writer = TelemetryWriter(lambda: TelemetryStore(path)).start()
    with caplog.at_level(logging.WARNING, logger="hearthvox.telemetry"):
        writer.submit("turn", turn(transcript="zanzibar quartz"))
        writer.submit("turn", turn(5.0))
        assert writer.flush(30)
    writer.close()
    assert writer.failed == 1 and writer.written == 1
    assert any("not stored" in r.getMessage() for r in caplog.records)
    assert "zanzibar" not in caplog.text
    assert len(TelemetryStore(path).turns()) == 1


def test_an_unwritable_state_dir_turns_telemetry_off_not_the_daemon(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the state directory should be")
    writer = TelemetryWriter(lambda: TelemetryStore(blocker / "t.sqlite3")).start()
    with caplog.at_level(logging.WARNING, logger="hearthvox.telemetry"):
        assert writer.submit("turn", turn())
        assert writer.flush(30)
    writer.close()
    assert writer.failed == 1
    assert any("telemetry is off" in r.getMessage() for r in caplog.records)
