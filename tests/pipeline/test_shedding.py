"""Shedding: a turn past its maximum queue age gets the busy reply, and its
speech-to-text and skill are not run (real models)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from hearthvox.audio.sources import array_source
from hearthvox.config import Config
from hearthvox.engines import Engines
from hearthvox.events import AudioChunk, Event, Reply, SpeechEnded, Transcript, TurnDone
from hearthvox.pipeline.clock import StreamClock
from hearthvox.pipeline.runner import Pipeline
from hearthvox.pipeline.shedding import BUSY, BUSY_SKILL, Shedding
from hearthvox.pipeline.stages import answer_stage
from hearthvox.skills.base import SkillContext, SystemClock
from hearthvox.skills.registry import SkillRouter, load_skills
from tests.conftest import silence, speak16


class Sink:
    def __init__(self) -> None:
        self.played: list[np.ndarray] = []

    def write(self, samples: np.ndarray, rate_hz: int) -> None:
        self.played.append(samples.copy())

    def stop(self) -> None: ...


def _run(engines: Engines, tmp_path: Path, shedding: Shedding | None) -> tuple[list[Event], Sink]:
    request = speak16(engines, "Hey Jarvis. What time is it?")
    audio = np.concatenate([silence(0.5), request, silence(2.0)])
    ctx = SkillContext(clock=SystemClock(), state_dir=tmp_path / "state")
    router = SkillRouter(load_skills(), ctx, "Sorry.")
    cfg = Config()
    pipeline = Pipeline(engines, router, cfg, shedding=shedding)
    sink = Sink()

    async def source() -> AsyncIterator[AudioChunk]:
        async for chunk in array_source(audio, 16000, cfg.audio.chunk_ms, realtime=False):
            yield chunk

    async def collect() -> list[Event]:
        return [e async for e in pipeline.run(source(), sink)]

    return asyncio.run(collect()), sink


def test_a_turn_past_its_queue_age_gets_the_busy_reply(engines: Engines, tmp_path: Path) -> None:
    voiced = np.full(engines.tts.rate_hz // 2, 1000, dtype=np.int16)  # stands for BUSY
    events, sink = _run(engines, tmp_path, Shedding(1e-6, voiced))
    replies = [e for e in events if isinstance(e, Reply)]
    assert [(r.text, r.skill, r.shed) for r in replies] == [(BUSY, BUSY_SKILL, True)]
    assert not any(isinstance(e, Transcript) for e in events)  # no speech-to-text ran
    done = [e for e in events if isinstance(e, TurnDone)]
    assert [d.outcome for d in done] == ["shed"]
    assert "asr" not in done[0].stages_ms
    # the voiced reply is played as it is, in pieces, and nothing else
    assert np.array_equal(np.concatenate(sink.played), voiced)


@pytest.mark.parametrize("shedding", [None, Shedding(0.0), Shedding(30.0)])
def test_a_turn_in_time_is_answered(
    engines: Engines, tmp_path: Path, shedding: Shedding | None
) -> None:
    events, sink = _run(engines, tmp_path, shedding)
    replies = [e for e in events if isinstance(e, Reply)]
    assert [(r.skill, r.shed) for r in replies] == [("time", False)]
    assert [e.outcome for e in events if isinstance(e, TurnDone)] == ["answered"]
    assert sink.played


def test_a_transcript_that_comes_late_is_not_answered() -> None:
    """The second check: the transcript reaches the skills past the age (speech-to-text
    itself queued long): the busy reply, and the skill is never asked."""

    class Router:
        asked: list[str] = []

        def answer(self, text: str) -> tuple[str, object]:
            self.asked.append(text)
            raise AssertionError("a shed turn reached the skills")

    clock = StreamClock()
    ended = SpeechEnded(
        0, 0, np.zeros(1600, np.int16), 16000, 0, "silence", 0.0, t_created_s=time.perf_counter()
    )

    async def events() -> AsyncIterator[Event]:
        yield ended
        await asyncio.sleep(0.05)  # older than the 10 ms limit when the transcript comes
        yield Transcript(0, 0, "what time is it", final=True, asr_ms=1.0, audio_duration_s=0.1)

    async def collect() -> list[Event]:
        router = Router()
        stage = answer_stage(events(), router, "Sorry.", clock, None, Shedding(0.01))
        out = [e async for e in stage]
        assert router.asked == []
        return out

    replies = [e for e in asyncio.run(collect()) if isinstance(e, Reply)]
    assert len(replies) == 1 and replies[0].shed and replies[0].queue_ms >= 50.0
