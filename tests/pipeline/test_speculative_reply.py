"""Answers ready at the end of speech: the reply to a pause's guess, prepared ahead."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from hearthvox.audio.sources import array_source
from hearthvox.bench.audio import room_tone
from hearthvox.config import Config
from hearthvox.engines import Engines
from hearthvox.engines.executor import EngineExecutor
from hearthvox.engines.tts_chunks import Prefetch
from hearthvox.events import AudioChunk, Event, Int16Array, Reply, TtsFirstAudio, TurnDone
from hearthvox.pipeline.clock import StreamClock
from hearthvox.pipeline.control import ControlLane
from hearthvox.pipeline.listener import Listener
from hearthvox.pipeline.speculate import SpeculativeAsr, SpeculativeReply
from hearthvox.pipeline.stages import answer_stage, speak_stage, transcribe_stage
from hearthvox.pipeline.turns import track_turns
from hearthvox.skills.base import SkillContext, SkillResult
from hearthvox.skills.registry import SkillRouter, load_skills
from tests.conftest import speak16


class FakeVoice:
    rate_hz = 16000

    def __init__(self) -> None:
        self.executor = EngineExecutor("test-tts")
        self.spoken: list[str] = []

    def stream(self, text: str) -> Prefetch[Int16Array]:
        self.spoken.append(text)
        return Prefetch(lambda item: np.full(160, 7, np.int16), [[text]], self.executor)


class Clock:
    def preview(self, utterance: str) -> tuple[str, SkillResult] | None:
        return "time", SkillResult(f"It is {utterance}.")


def test_a_prepared_reply_is_used_only_for_the_same_words() -> None:
    voice = FakeVoice()
    replies = SpeculativeReply(Clock(), voice)  # type: ignore[arg-type]
    replies.prepare(100.0, "noon")
    prepared = replies.take("It is noon.")
    assert prepared is not None
    stream, first = prepared.result(10)
    assert first is not None and int(first.result(10)[0]) == 7
    replies.prepare(200.0, "one")
    assert replies.take("It is two.") is None  # the committed turn says something else
    replies.prepare(300.0, "three")
    replies.prepare(400.0, "four")  # speech went on: a new pause replaces the old
    assert replies.take("It is three.") is None
    assert replies.take("It is four.") is None  # taken once at most: dropped above
    assert (replies.prepared, replies.used) == (4, 1)
    voice.executor.shutdown()


async def _in_time(
    chunks: AsyncIterator[AudioChunk], spec: SpeculativeAsr, replies: SpeculativeReply
) -> AsyncIterator[AudioChunk]:
    """Each chunk once the guess and the prepared reply are done (the engines keeping up
    with real time, without a clock)."""
    async for chunk in chunks:
        pending = spec._pending
        if pending is not None:
            await asyncio.wait_for(asyncio.wrap_future(pending.future), 60)
        prepared = replies._prepared
        if prepared is not None:
            await asyncio.wait_for(asyncio.wrap_future(prepared.future), 60)
        yield chunk


class FixedClock:
    def now(self) -> float:
        return 1_700_000_000.0


class Sink:
    def __init__(self) -> None:
        self.samples: list[Int16Array] = []

    def write(self, samples: Int16Array, rate_hz: int) -> None:
        self.samples.append(samples)

    def stop(self) -> None:
        pass


def test_the_answer_to_a_command_is_ready_when_its_speech_ends(
    engines: Engines, tmp_path: Path
) -> None:
    cfg = Config()
    cfg = replace(cfg, endpoint=replace(cfg.endpoint, adaptive=True, follow_up=False))
    ctx = SkillContext(clock=FixedClock(), state_dir=tmp_path)  # the minute cannot turn
    router = SkillRouter(load_skills(), ctx, cfg.skills.fallback_reply)
    audio = np.concatenate(
        [
            room_tone(0.5),
            speak16(engines, "Hey Jarvis."),
            room_tone(0.3, seed=1),
            speak16(engines, "What time is it?"),
            room_tone(2.5, seed=2),
        ]
    )
    engines.wake.reset()
    engines.vad.reset()
    clock = StreamClock()
    spec = SpeculativeAsr(engines.asr)
    replies = SpeculativeReply(router, engines.tts)
    listener = Listener(
        engines.wake,
        engines.vad,
        cfg,
        clock,
        speculator=spec,
        replies=replies,
        complete=router.complete,
    )
    sink = Sink()

    async def run() -> list[Event]:
        source = array_source(audio, 16000, cfg.audio.chunk_ms, realtime=False)
        events = listener.run(_in_time(source, spec, replies))
        events = transcribe_stage(events, spec, clock)
        events = answer_stage(events, router, cfg.skills.apology, clock)
        events = speak_stage(events, engines.tts, sink, clock, replies)
        return [e async for e in track_turns(events, ControlLane(), clock)]

    events = asyncio.run(run())
    reply = next(e for e in events if isinstance(e, Reply))
    assert reply.skill == "time" and reply.text.startswith("It is")
    assert replies.prepared >= 1 and replies.used == 1  # spoken from what the pause prepared
    assert any(isinstance(e, TtsFirstAudio) for e in events)
    done = [e for e in events if isinstance(e, TurnDone)]
    assert [d.outcome for d in done] == ["answered"]
    assert sum(len(s) for s in sink.samples) > engines.tts.rate_hz  # the whole reply played
