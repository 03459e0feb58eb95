"""Pipeline events as the JSON lines of ``hearthvox run --json`` (see DESIGN.md)."""

from __future__ import annotations

import dataclasses
from typing import Any

from hearthvox.events import (
    Event,
    Interrupt,
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


def event_record(event: Event) -> dict[str, Any] | None:
    """The JSON object for one event, or None for internal events (audio, the end of a
    reply whose text came whole)."""
    match event:
        case WakeDetected():
            body: dict[str, Any] = {"event": "wake", "model": event.model, "score": event.score}
        case SpeechStarted():
            body = {"event": "speech_start", "follow_up": event.follow_up}
        case SpeechEnded():
            body = {
                "event": "speech_end",
                "speech_start_ms": event.speech_start_ms,
                "duration_s": round(len(event.audio) / event.rate_hz, 3),
                "reason": event.reason,
            }
        case NoSpeech():
            body = {"event": "no_speech", "follow_up": event.follow_up}
            if event.stood_down:
                body["stood_down"] = True
        case Transcript():
            body = {"event": "transcript", "text": event.text, "final": event.final}
        case Reply():
            text = "" if event.stream is not None else event.text
            body = {"event": "reply", "text": text, "skill": event.skill}
            if event.announcement:
                body["announcement"] = True
            if event.shed:
                body["shed"] = True
            if event.stream is not None:  # its words follow in "reply_text"
                body["streamed"] = True
        case ReplyDone(streamed_text=str(streamed)):
            body = {"event": "reply_text", "text": streamed, "interrupted": event.interrupted}
        case TtsFirstAudio():
            body = {"event": "tts_first_audio", "tts_first_ms": event.tts_first_ms}
        case Interrupt():
            body = {"event": "interrupt", "reason": event.reason}
        case StageError():
            body = {
                "event": "error",
                "stage": event.stage,
                "kind": event.kind,
                "message": event.message,
            }
        case TurnDone():
            body = {
                "event": "turn_done",
                "turn_id": event.turn_id,
                "outcome": event.outcome,
                "skill": event.skill,
                "stages_ms": event.stages_ms,
            }
            if event.llm is not None:  # who answered: the local model or a server
                body["llm_backend"] = event.llm.backend
            if event.llm is not None:  # the language model's counts and times
                body["llm"] = dataclasses.asdict(event.llm)
        case _:
            return None
    return {
        "event": body.pop("event"),
        "t_audio_ms": event.t_audio_ms,
        "t_wall_ms": event.t_wall_ms,
        **body,
    }
