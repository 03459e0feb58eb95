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
from hearthvox.events import Event, Transcript, TurnDone
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
