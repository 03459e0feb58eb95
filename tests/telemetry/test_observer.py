"""The observer on the real pipeline: queue time apart from work, outcomes, no text."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from hearthvox.audio.sources import array_source
from hearthvox.config import Config, TelemetryConfig
from hearthvox.engines import Engines
from hearthvox.events import Event, SpeechStarted, Transcript, TurnDone, WakeDetected
from hearthvox.pipeline.runner import Pipeline
from hearthvox.skills.base import SkillContext, SystemClock
from hearthvox.skills.registry import SkillRouter, load_skills
from hearthvox.telemetry.observer import TurnObserver, turn_log_line
from hearthvox.telemetry.session import keep_text_until
from tests.conftest import silence, speak16

SLOW_S = 0.05


class Sink:
    def write(self, samples: npt.NDArray[np.int16], rate_hz: int) -> None:
        pass

    def stop(self) -> None:
        pass


def run(
    engines: Engines, audio: npt.NDArray[np.int16], tmp_path: Path, observers: list[Any]
) -> list[Event]:
    cfg = Config()
    ctx = SkillContext(clock=SystemClock(), state_dir=tmp_path / "state")
    router = SkillRouter(load_skills(), ctx, cfg.skills.fallback_reply)
    pipeline = Pipeline(engines, router, cfg, observers=observers)

    async def collect() -> list[Event]:
        source = array_source(audio, 16000, cfg.audio.chunk_ms, realtime=False)
        return [e async for e in pipeline.run(source, Sink())]

    return asyncio.run(collect())


def slow_consumer(event: Event) -> None:
    """Stands for a consumer that takes its time over the transcript: every stage is a
    task of its own, so the skill does not wait for it."""
    if isinstance(event, Transcript):
        time.sleep(SLOW_S)


def broken_observer(event: Event) -> None:
    raise RuntimeError("a bug in an observer")


def test_a_turn_record_splits_queue_time_from_work(
    engines: Engines, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    records: list[dict[str, Any]] = []
    kept: list[dict[str, Any]] = []
    plain = TurnObserver(lambda kind, r: records.append(r))
    keeping = TurnObserver(lambda kind, r: kept.append(r), keep_text=lambda: True)
    speech = speak16(engines, "Hey Jarvis. What time is it?")
    audio = np.concatenate([silence(1.0), speech, silence(2.0)])
    with caplog.at_level(logging.WARNING, logger="hearthvox.pipeline"):
        events = run(engines, audio, tmp_path, [broken_observer, slow_consumer, plain, keeping])
    assert any("detached" in r.getMessage() for r in caplog.records)  # and the loop went on
    (done,) = [e for e in events if isinstance(e, TurnDone)]
    assert done.outcome == "answered"
    parts = {"wake", "endpoint", "asr", "skill", "tts_first_audio", "playback"}
    assert parts <= set(done.queue_ms) and parts <= set(done.stages_ms)
    # queue time is kept apart from work, and the skill did not wait for the consumer
    assert 0.0 <= done.queue_ms["skill"] < SLOW_S * 1000
    (record,) = records
    assert record["stages"]["skill"] == (done.stages_ms["skill"], done.queue_ms["skill"])
    assert record["stages"]["tts_total"] == (done.stages_ms["tts_total"], None)
    assert record["outcome"] == "answered" and record["skill"] == "time"
    assert record["woke"] is True and record["error"] is None
    assert record["audio_s"] > 0.5 and record["rss_mb"] > 50 and record["cpu_ms"] > 0
    heard = next(e.text for e in events if isinstance(e, Transcript))
    assert "time" in heard.lower()
    for text in (json.dumps(record), turn_log_line(done)):
        assert heard not in text and "It is" not in text and "time is" not in text.lower()
    assert kept[0]["transcript"] == heard and kept[0]["reply_text"].startswith("It is")


def test_wake_then_silence_counts_as_a_false_wake(engines: Engines, tmp_path: Path) -> None:
    records: list[dict[str, Any]] = []
    audio = np.concatenate([silence(1.0), speak16(engines, "Hey Jarvis."), silence(6.5)])
    run(engines, audio, tmp_path, [TurnObserver(lambda kind, r: records.append(r))])
    (record,) = records
    assert record["outcome"] == "no_speech" and record["woke"] is True
    assert record["audio_s"] is None and "asr" not in record["stages"]


def test_keeping_transcripts_ends_with_its_date(caplog: pytest.LogCaptureFixture) -> None:
    today = dt.date(2025, 6, 1)
    cfg = TelemetryConfig(keep_transcripts=True, keep_transcripts_until="2025-06-10")
    until = keep_text_until(cfg, now=today)
    assert until == dt.datetime(2025, 6, 11).timestamp()  # through the whole last day
    with caplog.at_level(logging.WARNING):
        assert keep_text_until(cfg, now=dt.date(2025, 6, 11)) is None
    assert "has passed" in caplog.text
    assert keep_text_until(TelemetryConfig(), now=today) is None


def test_a_language_model_turn_records_counts_and_never_its_words(
    engines: Engines, tmp_path: Path
) -> None:
    pytest.importorskip("llama_cpp")
    from hearthvox.bundles.optional import load_llm
    from hearthvox.pipeline.jsonl import event_record
    from hearthvox.telemetry.privacy import TURN_FIELDS, screen

    cfg = Config()
    ctx = SkillContext(clock=SystemClock(), state_dir=tmp_path / "state")
    router = SkillRouter(load_skills(), ctx, cfg.skills.fallback_reply)
    records: list[dict[str, Any]] = []
    llm = load_llm(cfg)
    pipeline = Pipeline(
        engines, router, cfg, observers=[TurnObserver(lambda k, r: records.append(r))], llm=llm
    )
    audio = np.concatenate(
        [silence(1.0), speak16(engines, "Hey Jarvis. Why is the sky blue?"), silence(3.0)]
    )

    async def collect() -> list[Event]:
        source = array_source(audio, 16000, cfg.audio.chunk_ms, realtime=False)
        return [e async for e in pipeline.run(source, Sink())]

    events = asyncio.run(collect())
    llm.close()
    (done,) = [e for e in events if isinstance(e, TurnDone)]
    assert done.skill == "llm" and done.llm is not None and "llm_first_token" in done.stages_ms
    (record,) = records
    assert record["llm_new_tokens"] == done.llm.new_tokens > 0
    assert record["llm_stop"] in {"end", "max_tokens", "wall_time"}
    assert record["stages"]["llm_first_token"][0] == done.stages_ms["llm_first_token"]
    screen(record, TURN_FIELDS, keep_text=False)  # every field on the allow-list
    words = [w for w in ctx.last_reply.split() if len(w) >= 5]  # the model's reply
    assert words and not any(w in json.dumps(record) for w in words)
    line = event_record(done)  # `run --json`'s turn_done: counts and times, no words
    assert line is not None and line["llm"]["new_tokens"] == done.llm.new_tokens
    assert not any(w in json.dumps(line) for w in words)


def _wake() -> WakeDetected:
    return WakeDetected(t_audio_ms=1000, t_wall_ms=1000, model="hey_jarvis", score=0.9)


def _done(turn_id: int, outcome: Any = "answered") -> TurnDone:
    return TurnDone(
        t_audio_ms=4000,
        t_wall_ms=4000,
        turn_id=turn_id,
        outcome=outcome,
        skill="time" if outcome == "answered" else None,
        stages_ms={"asr": 300.0},
        queue_ms={"asr": 1.5},
    )


def test_an_area_observer_puts_the_area_and_the_arbitration_on_its_turns() -> None:
    from hearthvox.telemetry.privacy import TURN_FIELDS, screen

    records: list[dict[str, Any]] = []
    observer = TurnObserver(lambda kind, r: records.append(r), area="living room")
    observer.arbitrated("won", 2)  # no turn open: nothing to put it on, no error
    observer(_wake())
    observer.arbitrated("won", 2)
    observer(_done(1))
    observer(_wake())  # the next wake word: it stood down
    observer.arbitrated("stood_down", 3)
    observer(_done(2, "stood_down"))
    observer.arbitrated("won", 4)  # after the turn ended: nothing open again
    observer(SpeechStarted(t_audio_ms=9000, t_wall_ms=9000, follow_up=True))  # a follow-up
    observer(_done(3))
    observer(_done(4, "shed"))  # a turn the observer never saw open
    assert [r["area"] for r in records] == ["living_room"] * 4
    assert [(r.get("arbitration"), r.get("arbitration_claims")) for r in records] == [
        ("won", 2),
        ("stood_down", 3),
        (None, None),  # a follow-up has no wake word to arbitrate
        (None, None),
    ]
    assert [r["outcome"] for r in records] == ["answered", "stood_down", "answered", "shed"]
    assert records[0]["stages"]["asr"] == (300.0, 1.5)
    for record in records:
        screen(record, TURN_FIELDS, keep_text=False)  # every field on the allow-list


def test_an_observer_without_an_area_records_none_of_the_hub() -> None:
    records: list[dict[str, Any]] = []
    observer = TurnObserver(lambda kind, r: records.append(r))
    observer.arbitrated("won", 1)
    observer(_wake())
    observer(_done(1))
    (record,) = records
    assert observer.area is None
    assert not {"area", "arbitration", "arbitration_claims"} & set(record)


def test_the_hub_session_gives_each_area_an_observer_on_one_writer(
    engines: Engines, tmp_path: Path
) -> None:
    from hearthvox.bundles.default import default_model_paths
    from hearthvox.paths import user_paths
    from hearthvox.runtime import Runtime
    from hearthvox.telemetry.session import open_session
    from hearthvox.telemetry.store import TelemetryStore, default_path

    paths = user_paths()
    ctx = SkillContext(clock=SystemClock(), state_dir=paths.state_dir)
    router = SkillRouter(load_skills(), ctx, "Sorry.")
    runtime = Runtime(Config(), paths, default_model_paths(), engines, ctx, router, 1234.0)
    session = open_session(runtime, "hub")
    assert session is not None
    try:
        kitchen, den = session.observer_for("kitchen"), session.observer_for("den")
        assert runtime.observers == [session.observer]  # the satellites' own are not in it
        assert kitchen.area == "kitchen" and session.observer.area is None
        assert kitchen.process is den.process is session.observer.process
        for observer, outcome in ((kitchen, "won"), (den, "stood_down")):
            observer(_wake())
            observer.arbitrated(outcome, 2)
            observer(_done(1, "answered" if outcome == "won" else "stood_down"))
    finally:
        session.close()
    assert runtime.observers == []
    store = TelemetryStore(default_path(paths.state_dir))
    (start,) = store.starts()
    assert start["command"] == "hub" and start["models_ms"] == 1234.0
    turns = {t["area"]: t for t in store.turns()}
    assert set(turns) == {"kitchen", "den"}
    assert (turns["kitchen"]["arbitration"], turns["kitchen"]["outcome"]) == ("won", "answered")
    assert (turns["den"]["arbitration"], turns["den"]["outcome"]) == ("stood_down", "stood_down")
    assert turns["den"]["arbitration_claims"] == 2
    assert turns["kitchen"]["stages"]["asr"] == (300.0, 1.5)
    assert turns["kitchen"]["bundle"] == engines.bundle_id
