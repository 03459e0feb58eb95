"""The hub with real wyoming-satellite 1.0.0 processes: three at once, each its own
reply; one killed and restarted while the others go on; the same wake word heard by
three satellites answered once, by the loudest."""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import dataclasses
import re
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from hearthvox.audio.resample import resample_int16
from hearthvox.bundles.default import default_model_paths
from hearthvox.bundles.lock import load_lock, resolve_source
from hearthvox.bundles.optional import LLM_MODEL
from hearthvox.config import Config, HubConfig, SatelliteEntry
from hearthvox.engines import Engines
from hearthvox.engines.llm import LlamaLlm, LlmOptions
from hearthvox.events import TurnDone
from hearthvox.hub.hub import Hub
from hearthvox.protocol.options import ServerOptions
from hearthvox.protocol.services import make_services
from hearthvox.skills.base import SkillContext, SystemClock
from hearthvox.skills.registry import SkillRouter, load_skills
from tests.conftest import silence, speak16
from tests.hub.conftest import Satellite, make_satellite, write_raw
from tests.protocol.wyclient import ServerThread

ARTIFACT = load_lock().artifact(LLM_MODEL)
GGUF = resolve_source(ARTIFACT) / ARTIFACT.files[0].name
SAYS_A_TIME = re.compile(r"\bit(?:'s| is)\b|\d\W{0,2}\d\d\b")
"""The time skill's reply ("It is 2:15 PM.") as tiny.en hears the voice: it says "it is"
however the numbers come out ("it is to 15pm", "12, 42 p."); the date's and the timer's
replies ("Today is ...", "Timer set for ...") do not."""
MONTHS = [calendar.month_name[i].lower() for i in range(1, 13)]
CFG = dataclasses.replace(Config(), hub=HubConfig(reconnect_max_s=1.0))


def router(tmp_path: Path) -> SkillRouter:
    ctx = SkillContext(clock=SystemClock(), state_dir=tmp_path / "state")
    return SkillRouter(load_skills(), ctx, "Sorry, I can't do that yet.")


async def until(what: Callable[[], bool], timeout_s: float, why: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not what():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {why}")
        await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def streaming(hub: Hub) -> AsyncIterator[None]:
    """The hub running, with every satellite streaming to it; stopped after."""
    task = asyncio.create_task(hub.run())
    try:
        await until(lambda: all(s.streaming.is_set() for s in hub.sessions), 20, "streaming")
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def heard(engines: Engines, sat: Satellite) -> str:
    """What the satellite's speaker played, transcribed."""
    audio = np.frombuffer(sat.played.read_bytes(), dtype="<i2").astype(np.int16)
    return engines.asr.transcribe(resample_int16(audio, 22050, 16000)).text.lower()


def test_three_satellites_each_answered_and_one_killed_reconnects(
    engines: Engines,
    satellites: list[Satellite],
    request_audio: dict[str, np.ndarray],
    tmp_path: Path,
) -> None:
    sats = [
        make_satellite(satellites, tmp_path, name, write_raw(tmp_path / f"{name}.raw", audio))
        for name, audio in request_audio.items()
    ]
    entries = [SatelliteEntry(s.uri, s.name) for s in sats]
    # a short window: these wake words come a second apart, never one heard thrice
    cfg = dataclasses.replace(CFG, hub=HubConfig(arbitration_window_ms=100, reconnect_max_s=1.0))
    hub = Hub(entries, engines, router(tmp_path), cfg)
    sessions = {s.area: s for s in hub.sessions}

    def replies(name: str) -> int:
        return sessions[name].stats.replies

    async def scenario() -> None:
        task = asyncio.create_task(hub.run())
        try:
            await until(lambda: all(s.streaming.is_set() for s in hub.sessions), 20, "streaming")
            for s in sats:  # a second apart: three wake words at once, each its own
                s.say()
                await asyncio.sleep(1.0)
            await until(lambda: all(replies(s.name) == 1 for s in sats), 40, "three replies")
            # one satellite dies while its reply plays; the others, asked meanwhile, answer
            time_sat, date_sat, timer_sat = sats
            before_s = date_sat.played_s()
            date_sat.say()
            await asyncio.sleep(1.0)
            time_sat.say()
            await until(lambda: date_sat.played_s() > before_s + 0.3, 30, "date's 2nd reply")
            date_sat.kill()
            await until(lambda: not sessions["date"].streaming.is_set(), 10, "the loss seen")
            timer_sat.say()
            await until(lambda: replies("time") == 2 and replies("timer") == 2, 30, "answers")
            # it comes back on the same port: the hub reconnects by itself
            date_sat.played.unlink()
            date_sat.start()
            await until(lambda: sessions["date"].streaming.is_set(), 20, "the reconnection")
            date_sat.say()
            await until(lambda: replies("date") == 2, 30, "the reply after reconnecting")
            assert sessions["time"].stats.connects == sessions["timer"].stats.connects == 1
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    assert sessions["date"].stats.connects == 2
    assert sessions["time"].stats.connects == sessions["timer"].stats.connects == 1
    assert sum(n["stood_down"] for n in hub.arbiter.summary().values()) == 0
    # each its own reply (the words of the reply, as tiny.en hears the voice)
    time_said, date_said, timer_said = (heard(engines, s) for s in sats)
    assert SAYS_A_TIME.search(time_said), time_said
    assert "minutes" not in time_said and "minutes" in timer_said, (time_said, timer_said)
    assert any(w in date_said for w in ("today", *MONTHS)), date_said


def test_same_wake_word_on_three_satellites_answered_once_by_the_loudest(
    engines: Engines,
    satellites: list[Satellite],
    request_audio: dict[str, np.ndarray],
    tmp_path: Path,
) -> None:
    audio = request_audio["time"]
    gains = {"near": 1.0, "middle": 0.5, "far": 0.3}
    sats = {
        name: make_satellite(
            satellites, tmp_path, name, write_raw(tmp_path / f"{name}.raw", audio, gain)
        )
        for name, gain in gains.items()
    }
    hub = Hub([SatelliteEntry(s.uri, n) for n, s in sats.items()], engines, router(tmp_path), CFG)
    sessions = {s.area: s for s in hub.sessions}

    async def scenario() -> None:
        task = asyncio.create_task(hub.run())
        try:
            await until(lambda: all(s.streaming.is_set() for s in hub.sessions), 20, "streaming")
            for s in sats.values():
                s.say()
            await until(lambda: sessions["near"].stats.replies == 1, 40, "the reply")
            await asyncio.sleep(1.0)  # any other reply would have begun by now
            assert sessions["middle"].stats.stood_down + sessions["far"].stats.stood_down >= 1
            # a satellite that stood down went back to waiting: asked alone, it answers
            sats["middle"].say()
            await until(lambda: sessions["middle"].stats.replies == 1, 30, "middle's own turn")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    played_first = {n: s.played_s() for n, s in sats.items()}
    assert played_first["near"] > 0.5
    assert played_first["far"] == 0.0
    outcomes = hub.arbiter.summary()
    assert outcomes["near"]["won"] == 1 and outcomes["near"]["stood_down"] == 0
    stood = sum(outcomes.get(n, {"stood_down": 0})["stood_down"] for n in ("middle", "far"))
    assert stood >= 1


def test_rooms_that_do_not_hear_each_other_are_both_answered(
    engines: Engines,
    satellites: list[Satellite],
    request_audio: dict[str, np.ndarray],
    tmp_path: Path,
) -> None:
    """Two people in two rooms that do not hear each other ask at the same instant:
    the wake words are not taken for one, and each room gets its own answer."""
    sats = [
        make_satellite(satellites, tmp_path, k, write_raw(tmp_path / f"{k}.raw", a))
        for k, a in request_audio.items()
        if k in ("time", "timer")
    ]
    entries = [SatelliteEntry(s.uri, s.name, hears=()) for s in sats]
    # never shed: two turns at once on two busy cores may queue past the default age
    cfg = dataclasses.replace(CFG, hub=HubConfig(reconnect_max_s=1.0, max_queue_age_ms=0))
    hub = Hub(entries, engines, router(tmp_path), cfg)

    async def scenario() -> None:
        async with streaming(hub):
            for s in sats:
                s.say()
            await until(lambda: all(x.stats.replies == 1 for x in hub.sessions), 40, "replies")

    asyncio.run(scenario())
    assert sum(n["stood_down"] for n in hub.arbiter.summary().values()) == 0
    time_said, timer_said = (heard(engines, s) for s in sats)
    assert "minutes" not in time_said and "minutes" in timer_said, (time_said, timer_said)


def test_what_no_skill_answers_the_language_model_answers_in_each_room(
    engines: Engines, satellites: list[Satellite], tmp_path: Path
) -> None:
    """Two rooms ask the model a question at once: one model, each room its own
    conversation, each answered (the reply's audio transcribed)."""
    ask = np.concatenate(
        [silence(0.3), speak16(engines, "Hey Jarvis. What is the capital of France?"), silence(1.5)]
    )
    sats = [
        make_satellite(satellites, tmp_path, n, write_raw(tmp_path / f"{n}.raw", ask))
        for n in ("kitchen", "den")
    ]
    llm = LlamaLlm(GGUF, LlmOptions(context_tokens=1024, max_new_tokens=24, threads=2))
    cfg = dataclasses.replace(CFG, hub=HubConfig(reconnect_max_s=1.0, max_queue_age_ms=0))
    entries = [SatelliteEntry(s.uri, s.name, hears=()) for s in sats]
    hub = Hub(entries, engines, router(tmp_path), cfg, llm=llm)

    async def scenario() -> None:
        async with streaming(hub):
            for s in sats:
                s.say()
            await until(lambda: all(x.stats.replies == 1 for x in hub.sessions), 60, "replies")

    asyncio.run(scenario())
    for s in sats:
        said = heard(engines, s)
        assert "paris" in said, said


def test_a_turn_past_the_queue_age_gets_the_busy_reply_and_telemetry_sees_it(
    engines: Engines,
    satellites: list[Satellite],
    request_audio: dict[str, np.ndarray],
    tmp_path: Path,
) -> None:
    """``[hub] max_queue_age_ms`` so small that every turn is past it: the winner of the
    arbitration is told it is busy (and counted shed), the other stood down; each
    satellite's observer saw its turn's outcome and its arbitration."""
    audio = request_audio["time"]
    sats = [
        make_satellite(satellites, tmp_path, n, write_raw(tmp_path / f"{n}.raw", audio, g))
        for n, g in (("near", 1.0), ("far", 0.3))
    ]
    seen: dict[str, list[object]] = {"near": [], "far": []}

    class Observer:
        def __init__(self, area: str) -> None:
            self.area = area

        def __call__(self, event: object) -> None:
            if isinstance(event, TurnDone):
                seen[self.area].append(event.outcome)

        def arbitrated(self, outcome: str, claims: int) -> None:
            seen[self.area].append((outcome, claims))

    cfg = dataclasses.replace(CFG, hub=HubConfig(reconnect_max_s=1.0, max_queue_age_ms=0.001))
    entries = [SatelliteEntry(s.uri, s.name) for s in sats]
    hub = Hub(entries, engines, router(tmp_path), cfg, observer_for=Observer)
    sessions = {s.area: s for s in hub.sessions}

    async def scenario() -> None:
        async with streaming(hub):
            for s in sats:
                s.say()
            await until(lambda: sessions["near"].stats.replies == 1, 40, "the busy reply")
            await until(lambda: len(seen["far"]) == 2, 10, "the far one's turn")

    asyncio.run(scenario())
    assert sessions["near"].stats.shed == 1 and sessions["far"].stats.stood_down == 1
    assert seen == {"near": [("won", 2), "shed"], "far": [("stood_down", 2), "stood_down"]}
    said = heard(engines, sats[0])
    assert "busy" in said, said
    assert not SAYS_A_TIME.search(said), said  # not the time


@pytest.fixture(scope="module")
def wake_service(engines: Engines) -> Iterator[ServerThread]:
    """hearthvox's Wyoming wake service (as `hearthvox serve` runs it), for satellites
    that hear the wake word themselves."""
    services = make_services(engines, default_model_paths(), Config())
    with ServerThread(services, ServerOptions()) as server:
        yield server


def test_satellites_that_hear_the_wake_word_themselves_are_answered(
    engines: Engines,
    satellites: list[Satellite],
    request_audio: dict[str, np.ndarray],
    wake_service: ServerThread,
    tmp_path: Path,
) -> None:
    """wyoming-satellite with --wake-uri: it streams only the command, after its own
    run-pipeline (start at asr); the hub listens from there and answers, and the
    satellite goes back to its wake word (asked again, it is answered again)."""
    uri = wake_service.tcp.uri()
    time_sat, date_sat = (
        make_satellite(satellites, tmp_path, k, write_raw(tmp_path / f"{k}.raw", a), uri)
        for k, a in request_audio.items()
        if k in ("time", "date")
    )
    hub = Hub(
        [SatelliteEntry(s.uri, s.name) for s in (time_sat, date_sat)],
        engines,
        router(tmp_path),
        dataclasses.replace(CFG, hub=HubConfig(arbitration_window_ms=100, reconnect_max_s=1.0)),
    )
    sessions = {s.area: s for s in hub.sessions}

    async def scenario() -> None:
        task = asyncio.create_task(hub.run())
        try:
            await until(lambda: all(s.stats.connects for s in hub.sessions), 20, "adopted")
            await asyncio.sleep(1.0)  # run-satellite: each listens for its wake word
            time_sat.say()
            await until(lambda: sessions["time"].stats.replies == 1, 40, "time's reply")
            date_sat.say()
            await until(lambda: sessions["date"].stats.replies == 1, 40, "date's reply")
            time_sat.say()
            await until(lambda: sessions["time"].stats.replies == 2, 40, "time's second reply")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    time_said, date_said = heard(engines, time_sat), heard(engines, date_sat)
    assert SAYS_A_TIME.search(time_said), time_said
    assert any(w in date_said for w in ("today", *MONTHS)), date_said


def test_a_satellite_that_hears_the_wake_word_itself_rings_its_timer_unasked(
    engines: Engines,
    satellites: list[Satellite],
    wake_service: ServerThread,
    tmp_path: Path,
) -> None:
    """It sends nothing while it waits for its wake word, yet the timer set there rings
    there when it falls due, without another command (the listener is given silence)."""
    ask = np.concatenate(
        [silence(0.3), speak16(engines, "Hey Jarvis. Set a timer for four seconds."), silence(1.5)]
    )
    sat = make_satellite(
        satellites, tmp_path, "kitchen", write_raw(tmp_path / "k.raw", ask), wake_service.tcp.uri()
    )
    hub = Hub([SatelliteEntry(sat.uri, sat.name)], engines, router(tmp_path), CFG)
    session = hub.sessions[0]

    async def scenario() -> None:
        task = asyncio.create_task(hub.run())
        try:
            await until(lambda: session.stats.connects == 1, 20, "adopted")
            await asyncio.sleep(1.0)  # run-satellite: it listens for its wake word
            sat.say()
            await until(lambda: session.stats.replies == 1, 40, "the timer's reply")
            set_s = sat.played_s()
            await until(lambda: sat.played_s() > set_s + 0.5, 20, "the timer ringing")
            await asyncio.sleep(1.0)  # the announcement's rest
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    said = heard(engines, sat)
    assert "timer" in said and "done" in said, said
