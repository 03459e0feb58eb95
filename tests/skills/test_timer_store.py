from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from hearthvox.errors import SkillError
from hearthvox.skills.base import SkillContext
from hearthvox.skills.timer_store import Timer, TimerStore

from .conftest import T0, FakeClock


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "timers.json"


def test_add_persists_atomically(path: Path, clock: FakeClock) -> None:
    store = TimerStore(path, clock)
    timer = store.add(300, "pasta")
    assert timer == Timer(1, "pasta", 300.0, T0 + 300, T0)
    raw = json.loads(path.read_text())
    assert raw["timers"] == [
        {"id": 1, "label": "pasta", "duration_s": 300.0, "due_at": T0 + 300, "created_at": T0}
    ]
    assert [p.name for p in path.parent.iterdir()] == ["timers.json"]  # no temp file left
    assert path.stat().st_mode & 0o777 == 0o600


def test_ids_keep_increasing(path: Path, clock: FakeClock) -> None:
    store = TimerStore(path, clock)
    first = store.add(10)
    store.cancel()
    assert TimerStore(path, clock).add(10).id == first.id + 1


def test_remaining_and_due(path: Path, clock: FakeClock) -> None:
    store = TimerStore(path, clock)
    long = store.add(600)
    short = store.add(60, "tea")
    clock.advance(30)
    assert store.remaining() == [(short, 30.0), (long, 570.0)]
    assert store.next_due_at() == T0 + 60
    assert store.due() == []
    clock.advance(30)
    assert store.due() == [short]
    assert store.due() == []
    assert store.remaining() == [(long, 540.0)]
    clock.advance(10_000)
    assert store.due() == [long]
    assert store.remaining() == [] and store.next_due_at() is None


def test_timer_survives_restart(path: Path, clock: FakeClock) -> None:
    TimerStore(path, clock).add(5)  # store A, then the daemon stops
    restarted = TimerStore(path, clock)  # store B on the same file
    assert [t.duration_s for t in restarted.timers()] == [5.0]
    clock.t = T0 + 6
    fired = restarted.due()
    assert [(t.duration_s, t.due_at) for t in fired] == [(5.0, T0 + 5)]
    assert restarted.due() == []
    again = TimerStore(path, clock)  # another restart: it must not ring twice
    assert again.due() == []
    assert again.timers() == []


def test_timer_that_fell_due_while_down_fires_at_next_check(path: Path, clock: FakeClock) -> None:
    TimerStore(path, clock).add(60, "pasta")
    clock.advance(3600)  # the daemon was down for an hour
    store = TimerStore(path, clock)
    fired = store.due()
    assert [t.label for t in fired] == ["pasta"]
    assert store.announcement(fired[0]) == "Your pasta timer is done."


def test_cancel_by_label_duration_or_all(path: Path, clock: FakeClock) -> None:
    store = TimerStore(path, clock)
    pasta = store.add(600, "pasta")
    five = store.add(300)
    tea = store.add(180, "tea")
    assert store.cancel("rice") == []
    assert store.cancel("pasta") == [pasta]
    assert store.cancel(duration_s=300) == [five]
    assert store.cancel() == [tea]
    assert store.cancel() == []
    assert TimerStore(path, clock).timers() == []


def test_announcement() -> None:
    assert TimerStore.announcement(Timer(1, None, 300, 0, 0)) == "Your 5 minute timer is done."
    assert TimerStore.announcement(Timer(1, "pasta", 300, 0, 0)) == "Your pasta timer is done."


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"\xff\xfe\x00garbage",
        b"[]",
        b'{"timers": [{"id": 1}]}',
        b'{"timers": [{"id": 1, "label": null, "duration_s": 5, "due_at": NaN, "created_at": 0}]}',
        b"",
    ],
)
def test_corrupt_file_is_moved_aside(
    content: bytes, path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="hearthvox.skills.timer_store"):
        store = TimerStore(path, clock)
    assert store.timers() == []
    assert "corrupt" in caplog.text
    aside = path.with_name(f"timers.json.corrupt-{int(T0)}")
    assert aside.read_bytes() == content
    assert not path.exists()
    store.add(5)  # and the store keeps working
    assert len(TimerStore(path, clock).timers()) == 1


def test_missing_state_dir_is_created(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "a" / "b" / "timers.json"
    TimerStore(path, clock).add(1)
    assert path.exists()


def test_failed_save_undoes_and_raises(
    path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = TimerStore(path, clock)
    store.add(60)

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("hearthvox.skills.timer_store.os.replace", refuse)
    with pytest.raises(SkillError, match="No space left"):
        store.add(120)
    assert [t.duration_s for t in store.timers()] == [60.0]
    assert [p.name for p in path.parent.iterdir()] == ["timers.json"]
    clock.advance(61)
    assert len(store.due()) == 1  # rings although the file could not be updated


@pytest.mark.parametrize("bad", [0, -5, float("nan"), float("inf")])
def test_add_rejects_bad_durations(bad: float, path: Path, clock: FakeClock) -> None:
    with pytest.raises(ValueError):
        TimerStore(path, clock).add(bad)


def test_context_creates_one_shared_store(ctx: SkillContext) -> None:
    store = ctx.timers
    assert store is ctx.timers
    assert store.path == ctx.state_dir / "timers.json"
