"""The last stage: groups events into turns, times each stage, closes the turn (and
says so on the control lane, :mod:`hearthvox.pipeline.control`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

from hearthvox.events import (
    Event,
    LlmFigures,
    NoSpeech,
    Reply,
    ReplyDone,
    SpeechEnded,
    SpeechStarted,
    StageError,
    Transcript,
    TtsFirstAudio,
    TurnDone,
    WakeDetected,
)
from hearthvox.pipeline.clock import StreamClock
from hearthvox.pipeline.control import ControlLane, ToListener, TurnOver

Outcome = Literal["answered", "no_speech", "error", "interrupted", "stood_down", "shed"]


@dataclass
class FeedTiming:
    """The chunk the listener is working on: when it took it and how late it was."""

    taken_s: float = 0.0
    """``time.perf_counter()`` when the listener took the chunk."""
    backlog_ms: float = 0.0
    """How far the wall clock was behind the chunk's audio then (queue time of live input)."""


class _Turn:
    def __init__(self, turn_id: int) -> None:
        self.turn_id = turn_id
        self.stages_ms: dict[str, float] = {}
        self.queue_ms: dict[str, float] = {}
        self.skill: str | None = None
        self.error = False
        self.speech_end_wall_ms: float | None = None
        self.follow_up = True
        self.llm: LlmFigures | None = None
        self.shed = False


async def track_turns(
    events: AsyncIterator[Event],
    lane: ControlLane[ToListener],
    clock: StreamClock,
    feed: FeedTiming | None = None,
    *,
    ends_at_transcript: bool = False,
) -> AsyncIterator[Event]:
    """``ends_at_transcript``: the pipeline only hears (no answer, no voice): a turn is
    over once its utterance is transcribed, or its decode failed."""
    turn_id = 0
    turn: _Turn | None = None

    def done(outcome: Outcome) -> TurnDone:
        assert turn is not None
        return TurnDone(
            *clock.stamp(),
            turn_id=turn.turn_id,
            outcome=outcome,
            skill=turn.skill,
            stages_ms=dict(turn.stages_ms),
            queue_ms=dict(turn.queue_ms),
            llm=turn.llm,
        )

    async for event in events:
        yield event
        match event:
            case WakeDetected() | SpeechStarted(follow_up=True):
                turn_id += 1
                turn = _Turn(turn_id)
                if isinstance(event, WakeDetected) and feed is not None:
                    turn.stages_ms["wake"] = round((event.t_created_s - feed.taken_s) * 1000, 1)
                    turn.queue_ms["wake"] = feed.backlog_ms
            case SpeechEnded() if turn is not None:
                turn.stages_ms["endpoint"] = round(event.endpoint_wait_ms, 1)
                if feed is not None:
                    turn.queue_ms["endpoint"] = feed.backlog_ms
                turn.speech_end_wall_ms = event.t_wall_ms - event.endpoint_wait_ms
            case Transcript() if turn is not None:
                turn.stages_ms["asr"] = event.asr_ms
                turn.queue_ms["asr"] = event.queue_ms
                turn.stages_ms.update(event.extra_ms)  # the paths the decode took
                if ends_at_transcript:
                    yield done("answered")
                    lane.send(TurnOver(follow_up=False))
                    turn = None
            case StageError() if turn is not None:
                turn.error = True
                if ends_at_transcript:
                    yield done("error")
                    lane.send(TurnOver(follow_up=False))
                    turn = None
            case Reply(announcement=False) if turn is not None:
                turn.skill = event.skill
                turn.stages_ms["skill"] = event.skill_ms
                turn.queue_ms["skill"] = event.queue_ms
                turn.follow_up = not event.interrupt and event.skill != "error"
                turn.shed = event.shed
            case TtsFirstAudio() if turn is not None and "tts_first_audio" not in turn.stages_ms:
                turn.stages_ms["tts_first_audio"] = event.tts_first_ms
                turn.queue_ms["tts_first_audio"] = event.queue_ms
                if turn.speech_end_wall_ms is not None:
                    turn.stages_ms["end_of_speech_to_first_audio"] = round(
                        event.t_wall_ms - turn.speech_end_wall_ms, 1
                    )
            case ReplyDone(announcement=False) if turn is not None:
                turn.stages_ms["tts_total"] = event.tts_total_ms
                turn.stages_ms["playback"] = event.playback_ms
                turn.queue_ms["playback"] = event.playback_queue_ms
                if event.llm is not None:
                    turn.llm = event.llm
                    if event.llm.first_token_ms is not None:
                        turn.stages_ms["llm_first_token"] = event.llm.first_token_ms
                outcome: Outcome = (
                    "interrupted"
                    if event.interrupted
                    else "shed"
                    if turn.shed
                    else "error"
                    if turn.error
                    else "answered"
                )
                yield done(outcome)
                lane.send(TurnOver(follow_up=outcome == "answered" and turn.follow_up))
                turn = None
            case NoSpeech():
                if turn is not None and not event.follow_up:
                    yield done("stood_down" if event.stood_down else "no_speech")
                turn = None
                lane.send(TurnOver(follow_up=False))
