"""The voice loop in process, on real models: turns, follow-ups, failures, timers."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from hearthvox.audio.sources import array_source
from hearthvox.bundles.default import default_model_paths
from hearthvox.config import Config
from hearthvox.engines import Engines
from hearthvox.engines.asr import BiasOptions, WhisperAsr
from hearthvox.errors import SkillError
from hearthvox.evaluation.synth import Synthesiser
from hearthvox.events import (
    Event,
    NoSpeech,
    Reply,
    SpeechEnded,
    SpeechStarted,
    StageError,
    Transcript,
    TurnDone,
    WakeDetected,
)
from hearthvox.pipeline.runner import Pipeline
from hearthvox.skills.base import SkillContext, SkillResult
from hearthvox.skills.registry import SkillRouter, load_skills
from hearthvox.vocabulary import parse_vocabulary
from tests.conftest import silence, speak16


class ListSink:
    def __init__(self) -> None:
        self.chunks: list[npt.NDArray[np.int16]] = []
        self.stops = 0

    def write(self, samples: npt.NDArray[np.int16], rate_hz: int) -> None:
        self.chunks.append(samples)

    def stop(self) -> None:
        self.stops += 1


@dataclass
class FakeClock:
    t: float = 1_790_000_000.0

    def now(self) -> float:
        return self.t


def run_pipeline(
    engines: Engines,
    router: object,
    audio: npt.NDArray[np.int16],
    sink: ListSink,
    announcements: object = list,
) -> list[Event]:
    cfg = Config()
    pipeline = Pipeline(engines, router, cfg, announcements)  # type: ignore[arg-type]

    async def collect() -> list[Event]:
        source: AsyncIterator = array_source(audio, 16000, cfg.audio.chunk_ms, realtime=False)  # type: ignore[type-arg]
        return [e async for e in pipeline.run(source, sink)]

    return asyncio.run(collect())


def router_for(tmp_path: Path, clock: FakeClock | None = None) -> SkillRouter:
    ctx = SkillContext(clock=clock or FakeClock(), state_dir=tmp_path / "state")
    return SkillRouter(load_skills(), ctx, "Sorry, I can't do that yet.")


def test_follow_up_is_heard_without_the_wake_word(engines: Engines, tmp_path: Path) -> None:
    audio = np.concatenate(
        [
            silence(1.0),
            speak16(engines, "Hey Jarvis. What time is it?"),
            silence(1.0),
            speak16(engines, "What is the date today?"),
            silence(5.0),
        ]
    )
    events = run_pipeline(engines, router_for(tmp_path), audio, ListSink())
    assert sum(isinstance(e, WakeDetected) for e in events) == 1
    starts = [e for e in events if isinstance(e, SpeechStarted)]
    assert [s.follow_up for s in starts] == [False, True]
    replies = [e.skill for e in events if isinstance(e, Reply)]
    assert replies == ["time", "date"]
    turns = [e for e in events if isinstance(e, TurnDone)]
    assert [(t.turn_id, t.outcome) for t in turns] == [(1, "answered"), (2, "answered")]
    # the follow-up window closes quietly: no third turn, a no_speech event
    assert isinstance([e for e in events if isinstance(e, NoSpeech)][-1], NoSpeech)


def test_wake_then_silence_is_a_no_speech_turn(engines: Engines, tmp_path: Path) -> None:
    audio = np.concatenate([silence(1.0), speak16(engines, "Hey Jarvis."), silence(7.0)])
    events = run_pipeline(engines, router_for(tmp_path), audio, ListSink())
    turns = [e for e in events if isinstance(e, TurnDone)]
    assert [t.outcome for t in turns] == ["no_speech"]
    assert not any(isinstance(e, Transcript) for e in events)


def test_input_that_ends_mid_speech_still_gets_its_turn(engines: Engines, tmp_path: Path) -> None:
    # a file cut right after the last word: no silence for the endpoint to hear
    request = speak16(engines, "Hey Jarvis. What time is it?")
    voiced = np.nonzero(np.abs(request) > 300)[0]
    audio = np.concatenate([silence(1.0), request[: voiced[-1] + 1]])
    events = run_pipeline(engines, router_for(tmp_path), audio, ListSink())
    ends = [e for e in events if isinstance(e, SpeechEnded)]
    assert [e.reason for e in ends] == ["end_of_input"]
    assert [e.skill for e in events if isinstance(e, Reply)] == ["time"]
    assert [t.outcome for t in events if isinstance(t, TurnDone)] == ["answered"]


def test_input_that_ends_right_after_the_wake_word_closes_the_turn(
    engines: Engines, tmp_path: Path
) -> None:
    audio = np.concatenate([silence(1.0), speak16(engines, "Hey Jarvis."), silence(0.8)])
    events = run_pipeline(engines, router_for(tmp_path), audio, ListSink())
    assert sum(isinstance(e, WakeDetected) for e in events) == 1
    assert [t.outcome for t in events if isinstance(t, TurnDone)] == ["no_speech"]
    assert not any(isinstance(e, Transcript) for e in events)


class FailingOnce:
    def __init__(self, inner: SkillRouter) -> None:
        self.inner = inner
        self.calls = 0

    def answer(self, utterance: str) -> tuple[str, SkillResult]:
        self.calls += 1
        if self.calls == 1:
            raise SkillError("skill time failed: clock exploded")
        return self.inner.answer(utterance)


def test_a_failing_skill_becomes_an_apology_and_the_loop_goes_on(
    engines: Engines, tmp_path: Path
) -> None:
    turn = np.concatenate([speak16(engines, "Hey Jarvis. What time is it?"), silence(5.0)])
    audio = np.concatenate([silence(1.0), turn, turn])
    sink = ListSink()
    events = run_pipeline(engines, FailingOnce(router_for(tmp_path)), audio, sink)
    errors = [e for e in events if isinstance(e, StageError)]
    assert [(e.stage, e.kind) for e in errors] == [("skill", "skill_error")]
    replies = [e for e in events if isinstance(e, Reply)]
    assert [r.skill for r in replies] == ["error", "time"]
    assert replies[0].text == Config().skills.apology
    turns = [e.outcome for e in events if isinstance(e, TurnDone)]
    assert turns == ["error", "answered"]
    assert len(sink.chunks) >= 2  # the apology was spoken, then the answer


def test_timer_survives_a_restart_and_announces_itself(engines: Engines, tmp_path: Path) -> None:
    clock = FakeClock()
    request = np.concatenate(
        [silence(1.0), speak16(engines, "Hey Jarvis. Set a timer for ten seconds."), silence(2.0)]
    )
    first = router_for(tmp_path, clock)
    events = run_pipeline(engines, first, request, ListSink())
    replies = [e for e in events if isinstance(e, Reply)]
    assert replies and replies[0].skill == "timer", [e for e in events if isinstance(e, Transcript)]
    assert first.ctx.timers.remaining()

    # the daemon restarts: a new router and store on the same state dir, 11 s later
    clock.t += 11.0
    second = router_for(tmp_path, clock)
    timers = second.ctx.timers

    def announcements() -> list[str]:
        return [timers.announcement(t) for t in timers.due()]

    sink = ListSink()
    events = run_pipeline(engines, second, silence(2.0), sink, announcements)
    announced = [e for e in events if isinstance(e, Reply) and e.announcement]
    assert len(announced) == 1 and "timer is done" in announced[0].text
    assert sink.chunks, "the announcement was spoken"
    assert not timers.remaining()


def test_a_vocabulary_turn_records_its_prompted_decode(engines: Engines, tmp_path: Path) -> None:
    """With a user list, the turn's transcript has the listed name, and the telemetry's
    stage times say that a prompted second decode ran (never the text)."""
    listed = WhisperAsr(
        default_model_paths().asr_dir,
        threads=1,
        bias=BiasOptions(vocabulary=parse_vocabulary("Zbigniew\nXJ-4471\n", "test")),
    )
    audio = np.concatenate(
        [
            silence(0.5),
            speak16(engines, "Hey Jarvis."),
            silence(0.4),
            # the noiseless voice: the same audio on every run (heard as listed under both
            # CT2_FORCE_CPU_ISA=AVX512 and GENERIC; a noisy render is not always)
            Synthesiser(tmp_path / "voice").speak("Set a timer called Zbigniew."),
            silence(2.0),
        ]
    )
    events = run_pipeline(
        dataclasses.replace(engines, asr=listed), router_for(tmp_path), audio, ListSink()
    )
    texts = [e.text for e in events if isinstance(e, Transcript)]
    assert any("Zbigniew" in t for t in texts), texts
    done = [e for e in events if isinstance(e, TurnDone)]
    assert done and "asr_prompted" in done[0].stages_ms
    assert done[0].stages_ms["asr_prompted"] <= done[0].stages_ms["asr"]
