"""Rooms (docs/hub.md): each area its own "repeat that" and follow-up; timers set in a
room ring there (elsewhere, room named, only when that room's satellite is away);
"cancel the kitchen timer" from any room; timers survive a hub restart. The real
skills on a clock the test moves, then two real satellites end to end."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from hearthvox.config import HubConfig, SatelliteEntry
from hearthvox.engines import Engines
from hearthvox.hub.hub import Hub
from hearthvox.hub.rooms import RoomAnnouncer, area_routers
from hearthvox.pipeline.stages import Answerer
from hearthvox.skills.base import SkillContext, SkillResult
from hearthvox.skills.builtin import NOTHING_SAID_YET
from hearthvox.skills.registry import SkillRouter, load_skills
from hearthvox.skills.timer_store import TimerStore
from hearthvox.skills.timers import FOR_HOW_LONG
from tests.conftest import silence, speak16
from tests.hub.conftest import Satellite, make_satellite, write_raw
from tests.hub.test_hub import CFG, heard, router, until
from tests.skills.conftest import FakeClock

FALLBACK = "Sorry, I can't do that yet."
AREAS = ("kitchen", "den", "Living Room")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def rooms(clock: FakeClock, tmp_path: Path) -> dict[str, SkillRouter]:
    ctx = SkillContext(clock=clock, state_dir=tmp_path / "state")
    made = area_routers(SkillRouter(load_skills(), ctx, FALLBACK), AREAS)
    out = {}
    for area, r in made.items():
        assert isinstance(r, SkillRouter)
        out[area] = r
    return out


def say(r: SkillRouter, text: str) -> str:
    return r.answer(text)[1].text


def test_repeat_and_follow_up_stay_in_their_room(rooms: dict[str, SkillRouter]) -> None:
    kitchen, den = rooms["kitchen"], rooms["den"]
    assert say(kitchen, "Set a timer for five minutes.") == "Timer set for 5 minutes."
    assert say(den, "Repeat that.") == NOTHING_SAID_YET
    assert say(kitchen, "Say that again.") == "Timer set for 5 minutes."
    assert say(den, "Set a timer.") == FOR_HOW_LONG
    assert say(kitchen, "Ten minutes.") == FALLBACK  # the question was the den's
    assert say(den, "Ten minutes.") == "Timer set for 10 minutes."
    store = kitchen.ctx.timers
    assert store is den.ctx.timers  # one store for every room
    assert [(t.area, t.duration_s) for t in store.timers()] == [("kitchen", 300), ("den", 600)]


def test_timers_keep_their_room_in_the_file_and_a_restart(
    rooms: dict[str, SkillRouter], clock: FakeClock
) -> None:
    say(rooms["kitchen"], "Set a pasta timer for five minutes.")
    store = rooms["kitchen"].ctx.timers
    raw = json.loads(store.path.read_text())
    assert raw["timers"][0]["area"] == "kitchen" and raw["timers"][0]["label"] == "pasta"
    again = TimerStore(store.path, clock)  # the hub restarted
    assert [(t.label, t.area) for t in again.timers()] == [("pasta", "kitchen")]


def test_a_bad_area_in_the_file_is_refused(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "timers.json"
    timer = {"id": 1, "label": None, "duration_s": 5, "due_at": 5, "created_at": 0}
    path.write_text(json.dumps({"timers": [{**timer, "area": "x" * 261}]}))
    assert TimerStore(path, clock).timers() == []  # set aside as corrupt
    path.write_text(json.dumps({"timers": [{**timer, "area": 7}]}))
    assert TimerStore(path, clock).timers() == []


def test_cancel_a_room_timer_from_any_room(rooms: dict[str, SkillRouter]) -> None:
    kitchen, den, living = rooms["kitchen"], rooms["den"], rooms["Living Room"]
    say(kitchen, "Set a timer for five minutes.")
    say(den, "Set a timer for ten minutes.")
    say(living, "Set a timer for one minute.")
    assert say(den, "Cancel the Kitchen timer.") == "Timer in the kitchen cancelled."
    assert say(kitchen, "Cancel the timer in the living room.") == (
        "Timer in the Living Room cancelled."
    )
    assert say(den, "Cancel the kitchen timer.") == "There is no timer to cancel in the kitchen."
    assert [t.area for t in den.ctx.timers.timers()] == ["den"]
    # "cancel the timer": this room's, else the only one there is, wherever it is
    assert say(den, "Cancel the timer.") == "Timer cancelled."
    say(kitchen, "Set a timer for five minutes.")
    assert say(den, "Cancel the timer.") == "Timer in the kitchen cancelled."
    say(kitchen, "Set a timer for five minutes.")
    say(living, "Set a timer for two minutes.")
    assert say(den, "Cancel the timer.") == (
        "There is no timer here. Say which room's: the kitchen, the Living Room."
    )
    assert len(den.ctx.timers.timers()) == 2
    assert say(kitchen, "Cancel the timer.") == "Timer cancelled."
    assert [t.area for t in den.ctx.timers.timers()] == ["Living Room"]


def test_a_label_named_like_a_room_wins_and_named_timers_go_anywhere(
    rooms: dict[str, SkillRouter],
) -> None:
    kitchen, den = rooms["kitchen"], rooms["den"]
    say(den, "Set a kitchen timer for five minutes.")  # labelled "kitchen", in the den
    say(kitchen, "Set a timer for ten minutes.")
    assert say(den, "Cancel the kitchen timer.") == "Kitchen timer cancelled."
    assert [t.area for t in den.ctx.timers.timers()] == ["kitchen"]
    say(kitchen, "Set a pasta timer for three minutes.")
    assert say(den, "Cancel the pasta timer.") == "Pasta timer cancelled."
    assert say(den, "Cancel the pasta timer in the kitchen.") == (
        "There is no pasta timer in the kitchen."
    )
    assert say(den, "Cancel the 10 minute timer in the kitchen.") == (
        "Timer in the kitchen cancelled."
    )


def test_a_timer_rings_in_its_room_or_everywhere_named_when_its_room_is_away(
    rooms: dict[str, SkillRouter], clock: FakeClock
) -> None:
    kitchen, den = rooms["kitchen"], rooms["den"]
    store = kitchen.ctx.timers
    online = {"kitchen", "den", "Living Room"}
    announcer = RoomAnnouncer(store, lambda: online)
    say(kitchen, "Set a timer for five minutes.")
    say(den, "Set a pasta timer for five minutes.")
    clock.advance(301)
    assert announcer.poll("Living Room") == []
    assert announcer.poll("den") == ["Your pasta timer is done."]
    assert announcer.poll("kitchen") == ["Your 5 minute timer is done."]
    assert announcer.poll("kitchen") == []
    say(kitchen, "Set a timer for one minute.")
    online.discard("kitchen")  # its satellite is away: the others say whose it is
    clock.advance(61)
    assert announcer.poll("den") == ["Your 1 minute timer in the kitchen is done."]
    assert announcer.poll("Living Room") == ["Your 1 minute timer in the kitchen is done."]
    assert announcer.poll("kitchen") == []
    online.add("kitchen")
    say(kitchen, "Set a timer for one minute.")
    clock.advance(61)
    assert announcer.poll("den") == []  # handed to the kitchen ...
    online.discard("kitchen")  # ... which goes away before it rang: handed on, named
    assert announcer.poll("den") == ["Your 1 minute timer in the kitchen is done."]
    assert announcer.poll("den") == []


def test_a_router_of_another_kind_serves_every_room() -> None:
    class Echo:
        def answer(self, utterance: str) -> tuple[str, SkillResult]:
            return "echo", SkillResult(utterance)

    echo: Answerer = Echo()
    assert area_routers(echo, ["a", "b"]) == {"a": echo, "b": echo}


# -- two real satellites -------------------------------------------------------------

TIMER_S = 15
REQUESTS = {
    "kitchen": f"Hey Jarvis. Set a timer for {TIMER_S} seconds.",
    "den": "Hey Jarvis. Repeat that.",
}


def test_a_kitchen_timer_rings_in_the_kitchen_after_a_hub_restart(
    engines: Engines, satellites: list[Satellite], tmp_path: Path
) -> None:
    sats = {
        area: make_satellite(
            satellites,
            tmp_path,
            area,
            write_raw(
                tmp_path / f"{area}.raw",
                np.concatenate([silence(0.3), speak16(engines, text), silence(1.5)]),
            ),
        )
        for area, text in REQUESTS.items()
    }
    entries = [SatelliteEntry(s.uri, area) for area, s in sats.items()]
    cfg = dataclasses.replace(CFG, hub=HubConfig(arbitration_window_ms=100, reconnect_max_s=1.0))
    kitchen, den = sats["kitchen"], sats["den"]

    async def serve(hub: Hub) -> asyncio.Task[None]:
        task = asyncio.create_task(hub.run())
        await until(lambda: all(s.streaming.is_set() for s in hub.sessions), 20, "streaming")
        return task

    async def stop(task: asyncio.Task[None]) -> None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    played: dict[str, float] = {}

    async def scenario() -> None:
        skills = router(tmp_path)
        first = Hub(entries, engines, skills, cfg)
        task = await serve(first)
        try:
            kitchen.say()
            await asyncio.sleep(1.5)
            den.say()
            await until(
                lambda: all(s.stats.replies == 1 for s in first.sessions), 40, "both replies"
            )
        finally:
            await stop(task)
        assert [t.area for t in skills.ctx.timers.timers()] == ["kitchen"]  # still to ring
        second = Hub(entries, engines, router(tmp_path), cfg)  # the same state directory
        task = await serve(second)
        played.update({a: s.played_s() for a, s in sats.items()})
        try:
            await until(lambda: kitchen.played_s() > played["kitchen"] + 0.5, 30, "the ring")
            await asyncio.sleep(2.0)  # any ring in the den would have begun by now
        finally:
            await stop(task)

    asyncio.run(scenario())
    assert den.played_s() < played["den"] + 0.3  # nothing more played in the den
    kitchen_said, den_said = heard(engines, kitchen), heard(engines, den)
    assert "timer" in kitchen_said and "done" in kitchen_said, kitchen_said
    assert "timer" not in den_said and "said" in den_said, den_said
