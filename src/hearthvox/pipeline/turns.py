"""The last stage: groups events into turns, times each stage, closes the turn."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal

from hearthvox.events import (
    Event,
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
from hearthvox.pipeline.listener import Listener

Outcome = Literal["answered", "no_speech", "error", "interrupted"]


class _Turn:
    def __init__(self, turn_id: int) -> None:
        self.turn_id = turn_id
        self.stages_ms: dict[str, float] = {}
        self.skill: str | None = None
        self.error = False
        self.speech_end_wall_ms: float | None = None
        self.follow_up = True


async def track_turns(
    events: AsyncIterator[Event], listener: Listener, clock: StreamClock
) -> AsyncIterator[Event]:
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
        )

    async for event in events:
        yield event
        match event:
            case WakeDetected() | SpeechStarted(follow_up=True):
                turn_id += 1
                turn = _Turn(turn_id)
            case SpeechEnded() if turn is not None:
                turn.stages_ms["endpoint"] = round(event.endpoint_wait_ms, 1)
                turn.speech_end_wall_ms = event.t_wall_ms - event.endpoint_wait_ms
            case Transcript() if turn is not None:
                turn.stages_ms["asr"] = event.asr_ms
            case StageError() if turn is not None:
                turn.error = True
            case Reply(announcement=False) if turn is not None:
                turn.skill = event.skill
                turn.stages_ms["skill"] = event.skill_ms
                turn.follow_up = not event.interrupt and event.skill != "error"
            case TtsFirstAudio() if turn is not None and "tts_first_audio" not in turn.stages_ms:
                turn.stages_ms["tts_first_audio"] = event.tts_first_ms
                if turn.speech_end_wall_ms is not None:
                    turn.stages_ms["end_of_speech_to_first_audio"] = round(
                        event.t_wall_ms - turn.speech_end_wall_ms, 1
                    )
            case ReplyDone(announcement=False) if turn is not None:
                turn.stages_ms["tts_total"] = event.tts_total_ms
                turn.stages_ms["playback"] = event.playback_ms
                outcome: Outcome = (
                    "interrupted" if event.interrupted else "error" if turn.error else "answered"
                )
                yield done(outcome)
                listener.turn_finished(follow_up=outcome == "answered" and turn.follow_up)
                turn = None
            case NoSpeech():
                if turn is not None and not event.follow_up:
                    yield done("no_speech")
                turn = None
                listener.turn_finished(follow_up=False)
