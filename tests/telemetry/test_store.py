"""The SQLite store: schema version, percentiles, retention, text expiry, recovery, purge."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from hearthvox.cli.telemetry import render_summary
from hearthvox.telemetry.stats import percentile, summarize
from hearthvox.telemetry.store import SCHEMA_VERSION, Retention, TelemetryError, TelemetryStore
from tests.telemetry.helpers import DAY_S, DrivenClock, turn


def test_new_store_has_a_schema_version(tmp_path: Path) -> None:
    store = TelemetryStore(tmp_path / "t.sqlite3")
    assert store.schema_version() == SCHEMA_VERSION == 4
    conn = sqlite3.connect(tmp_path / "t.sqlite3")
    assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("4",)
    assert {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")} >= {
        "turns",
        "stage_times",
        "starts",
        "content",
        "meta",
    }


LLM = {
    "llm_prompt_tokens": 60,
    "llm_evaluated_tokens": 17,
    "llm_new_tokens": 31,
    "llm_tokens_per_s": 41.5,
    "llm_stop": "cancelled",
    "llm_dropped_turns": 0,
    "llm_question_cut": False,
    "llm_tokens_after_cancel": 1,
    "llm_backend": "openai",
}
HUB = {"area": "kitchen", "arbitration": "won", "arbitration_claims": 2}


def _back_to(path: Path, version: int, drop: list[str]) -> None:
    """Make ``path`` a database of an older schema, as it was: without ``drop``'s columns."""
    conn = sqlite3.connect(path, isolation_level=None)
    for name in drop:
        conn.execute(f"ALTER TABLE turns DROP COLUMN {name}")
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))
    conn.execute(f"PRAGMA user_version = {version}")
    conn.close()


def _columns(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    names = {r[1] for r in conn.execute("PRAGMA table_info(turns)")}
    conn.close()
    return names


def test_a_schema_1_database_gains_the_language_model_columns_and_keeps_its_turns(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.sqlite3"
    TelemetryStore(path).add_turn(turn(700.0))
    _back_to(path, 1, [*LLM, *HUB])
    assert not _columns(path) & {*LLM, *HUB}

    store = TelemetryStore(path)
    assert store.schema_version() == 4 and not store.set_aside
    store.add_turn(turn(900.0, skill="llm", **LLM, **HUB))
    old, new = store.turns()
    assert old["stages"]["end_of_speech_to_first_audio"][0] == 700.0
    assert old["llm_new_tokens"] is None and old["area"] is None
    assert {k: new[k] for k in LLM} == LLM | {"llm_question_cut": 0}
    assert {k: new[k] for k in HUB} == HUB


def test_a_schema_2_database_gains_the_backend_column_and_keeps_its_turns(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.sqlite3"
    local = {k: v for k, v in LLM.items() if k != "llm_backend"}
    TelemetryStore(path).add_turn(turn(700.0, skill="llm", **local))
    _back_to(path, 2, ["llm_backend", *HUB])

    store = TelemetryStore(path)
    assert store.schema_version() == 4 and not store.set_aside
    store.add_turn(turn(900.0, skill="llm", **LLM))
    old, new = store.turns()
    assert old["llm_new_tokens"] == 31 and old["llm_backend"] is None
    assert new["llm_backend"] == "openai"
    assert summarize(store.turns(), [])["llm"]["backends"] == {"local": 1, "openai": 1}


def test_a_schema_3_database_gains_the_hub_columns_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite3"
    clock = DrivenClock()
    first = TelemetryStore(path, clock=clock)
    first.add_turn(turn(700.0, asr=(310.0, 2.5), skill="llm", **LLM))
    first.add_turn(turn(0.0, outcome="no_speech"))
    first.add_start({"command": "run", "cold_start_ms": 2100.0})
    first.close()
    _back_to(path, 3, list(HUB))
    assert not _columns(path) & set(HUB)

    store = TelemetryStore(path, clock=clock)
    assert store.schema_version() == 4 and not store.set_aside
    assert _columns(path) >= set(HUB) and not list(tmp_path.glob("*.broken-*"))
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("4",)
    conn.close()
    kept = store.turns()
    assert [t["outcome"] for t in kept] == ["answered", "no_speech"]
    assert kept[0]["stages"]["asr"] == (310.0, 2.5) and kept[0]["llm_backend"] == "openai"
    assert all(t["area"] is None and t["arbitration"] is None for t in kept)
    assert [s["cold_start_ms"] for s in store.starts()] == [2100.0]
    assert "areas" not in summarize(kept, store.starts())  # nothing of the hub's yet
    store.add_turn(turn(800.0, **HUB))
    assert {k: store.turns()[-1][k] for k in HUB} == HUB
    store.close()
    assert TelemetryStore(path).schema_version() == 4  # opened again: nothing more to do


def test_the_summary_counts_the_language_model_turns_without_text(tmp_path: Path) -> None:
    store = TelemetryStore(tmp_path / "t.sqlite3")
    store.add_turn(turn(700.0))
    store.add_turn(turn(900.0, **LLM))
    data = summarize(store.turns(), [])
    assert data["llm"] == {
        "turns": 1,
        "prompt_tokens_evaluated_p50": 17.0,
        "new_tokens_p50": 31.0,
        "tokens_per_s_p50": 41.5,
        "stops": {"cancelled": 1},
        "questions_cut": 0,
        "turns_dropped": 0,
        "backends": {"openai": 1},
    }
    assert summarize(store.turns()[:1], [])["llm"] is None
    data |= {"window": "all", "path": "t.sqlite3"}
    text = render_summary(data, recorded=True, enabled=True)
    assert "language model: 1 turns, 31.0 tokens a reply at 41.5 tokens/s" in text
    assert "  answered by: openai 1" in text


def test_percentiles_match_a_direct_computation(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    first = rng.lognormal(6.5, 0.5, 137).round(1)  # long-tailed, like real latencies
    asr = rng.gamma(3.0, 90.0, 137).round(1)
    queue = rng.exponential(4.0, 137).round(1)
    store = TelemetryStore(tmp_path / "t.sqlite3")
    for f, a, q in zip(first, asr, queue, strict=True):
        store.add_turn(turn(float(f), asr=(float(a), float(q))))
    stored = store.turns()
    assert len(stored) == 137
    stages = summarize(stored, [])["stages"]
    for name, values in (("end_of_speech_to_first_audio", first), ("asr", asr)):
        for q in (50, 95, 99):
            assert stages[name][f"p{q}_ms"] == pytest.approx(np.percentile(values, q), abs=0.051)
        assert stages[name]["n"] == 137
    for q in (50, 95, 99):
        expected = np.percentile(queue, q)
        assert stages["asr"]["queue"][f"p{q}_ms"] == pytest.approx(expected, abs=0.051)
    assert "queue" not in stages["end_of_speech_to_first_audio"]


@pytest.mark.parametrize("n", [1, 2, 5, 10])
def test_percentile_on_small_samples(n: int) -> None:
    values = [float(v) for v in range(n, 0, -1)]
    for q in (0, 50, 95, 99, 100):
        assert percentile(values, q) == pytest.approx(np.percentile(values, q))


def test_retention_by_age_follows_the_clock(tmp_path: Path) -> None:
    clock = DrivenClock()
    store = TelemetryStore(tmp_path / "t.sqlite3", retention=Retention(days=30), clock=clock)
    old = store.add_turn(turn(100.0))
    store.add_start({"command": "run", "cold_start_ms": 2000.0})
    clock.advance(29 * DAY_S)
    store.add_turn(turn(200.0))
    assert len(store.turns()) == 2
    clock.advance(2 * DAY_S)  # the first turn is now 31 days old
    store.add_turn(turn(300.0))
    rows = store.turns()
    assert [r["stages"]["end_of_speech_to_first_audio"][0] for r in rows] == [200.0, 300.0]
    assert store.starts() == []
    conn = sqlite3.connect(tmp_path / "t.sqlite3")
    assert conn.execute("SELECT count(*) FROM stage_times WHERE turn = ?", (old,)).fetchone() == (
        0,
    )


def test_retention_by_row_count_keeps_the_newest(tmp_path: Path) -> None:
    store = TelemetryStore(tmp_path / "t.sqlite3", retention=Retention(max_rows=5))
    for i in range(8):
        store.add_turn(turn(float(i)))
    kept = [r["stages"]["end_of_speech_to_first_audio"][0] for r in store.turns()]
    assert kept == [3.0, 4.0, 5.0, 6.0, 7.0]


def test_kept_text_lives_apart_and_expires(tmp_path: Path) -> None:
    clock = DrivenClock()
    path = tmp_path / "t.sqlite3"
    store = TelemetryStore(path, keep_text_until=clock.t + DAY_S, clock=clock)
    store.add_turn(turn(transcript="remind me about zanzibar quartz", reply_text="Sorry."))
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT field, text FROM content ORDER BY field").fetchall() == [
        ("reply_text", "Sorry."),
        ("transcript", "remind me about zanzibar quartz"),
    ]
    assert "zanzibar" not in repr(store.turns())  # the turns table has no text
    clock.advance(DAY_S)  # the keeping period is over: the text expires ...
    assert store.apply_retention() == 0
    assert conn.execute("SELECT count(*) FROM content").fetchone() == (0,)
    assert len(store.turns()) == 1  # ... the timings stay
    store.close()
    conn.close()
    assert b"zanzibar" not in _all_bytes(tmp_path)


def test_purge_of_text_overwrites_it_on_disk(tmp_path: Path) -> None:
    clock = DrivenClock()
    store = TelemetryStore(tmp_path / "t.sqlite3", keep_text_until=clock.t + DAY_S, clock=clock)
    for _ in range(3):
        store.add_turn(turn(transcript="zanzibar quartz " * 20))
    assert b"zanzibar" in _all_bytes(tmp_path)
    counts = store.purge(content_only=True)
    assert counts["content"] == 3
    assert len(store.turns()) == 3
    assert b"zanzibar" not in _all_bytes(tmp_path)
    counts = store.purge()
    assert counts["turns"] == 3 and store.turns() == []


def _all_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def test_a_corrupt_database_is_moved_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "telemetry.sqlite3"
    path.write_bytes(b"this is not a database, it is a broken file\n" * 200)
    with caplog.at_level(logging.WARNING, logger="hearthvox.telemetry"):
        store = TelemetryStore(path)
    assert any("moved it to" in r.getMessage() for r in caplog.records)
    (aside,) = store.set_aside
    assert aside.read_bytes().startswith(b"this is not a database")
    store.add_turn(turn())
    assert len(store.turns()) == 1


def test_a_database_of_an_unknown_schema_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE turns (x)")
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    store = TelemetryStore(path)
    assert len(store.set_aside) == 1
    assert store.schema_version() == SCHEMA_VERSION


def test_a_locked_database_is_moved_aside_by_the_daemon(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "telemetry.sqlite3"
    store = TelemetryStore(path, busy_timeout_s=0.05)
    store.add_turn(turn())
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another process holds the write lock and never lets go
    with caplog.at_level(logging.WARNING, logger="hearthvox.telemetry"):
        store.add_turn(turn(999.0))
    assert any("database is locked" in r.getMessage() for r in caplog.records)
    assert len(store.set_aside) == 1
    rows = store.turns()
    assert [r["stages"]["end_of_speech_to_first_audio"][0] for r in rows] == [999.0]
    other.execute("ROLLBACK")
    other.close()


def test_a_reader_never_moves_a_busy_database_aside(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.sqlite3"
    TelemetryStore(path).add_turn(turn())
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    reader = TelemetryStore(path, busy_timeout_s=0.05, busy_is_broken=False)
    assert len(reader.turns()) == 1  # WAL: reading is not blocked by the writer
    with pytest.raises(TelemetryError, match="locked"):
        reader.apply_retention()
    assert reader.set_aside == [] and path.exists()
    other.execute("ROLLBACK")
    other.close()


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_the_database_is_private_even_under_an_open_umask(tmp_path: Path) -> None:
    """With keep_transcripts the database holds what was said: 0600 files in a 0700 folder."""
    import os
    import time

    from hearthvox.paths import user_paths

    state = user_paths().state_dir
    old = os.umask(0o000)
    try:
        store = TelemetryStore(state / "telemetry.sqlite3", keep_text_until=time.time() + DAY_S)
        store.add_turn(turn(transcript="what time is it", reply_text="It is noon."))
        assert store.content() != []
        files = sorted(state.glob("telemetry.sqlite3*"))
        assert [f.name for f in files][:1] == ["telemetry.sqlite3"]
        assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}
        assert _mode(state) == 0o700
        store.close()
    finally:
        os.umask(old)


def test_an_old_open_database_and_state_folder_are_tightened(tmp_path: Path) -> None:
    from hearthvox.paths import user_paths

    state = user_paths().state_dir
    state.mkdir(parents=True, mode=0o755)
    state.chmod(0o755)
    TelemetryStore(state / "t.sqlite3").close()
    (state / "t.sqlite3").chmod(0o644)
    TelemetryStore(state / "t.sqlite3").close()
    assert _mode(state / "t.sqlite3") == 0o600 and _mode(state) == 0o700
    # a folder that is not hearthvox's own is left as the user made it
    elsewhere = tmp_path / "shared"
    elsewhere.mkdir(mode=0o755)
    elsewhere.chmod(0o755)
    TelemetryStore(elsewhere / "t.sqlite3").close()
    assert _mode(elsewhere) == 0o755 and _mode(elsewhere / "t.sqlite3") == 0o600


def test_the_timers_file_is_private(tmp_path: Path) -> None:
    import os

    from hearthvox.paths import user_paths
    from hearthvox.skills.base import SystemClock
    from hearthvox.skills.timer_store import TimerStore

    state = user_paths().state_dir
    old = os.umask(0o000)
    try:
        timers = TimerStore(state / "timers.json", SystemClock())
        timers.add(300.0, "pasta")
    finally:
        os.umask(old)
    assert _mode(state / "timers.json") == 0o600 and _mode(state) == 0o700
