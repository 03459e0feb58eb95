"""How pipeline events read on a terminal (``hearthvox run`` without ``--json``)."""

from __future__ import annotations

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

STAGE_NAMES = {
    "endpoint": "endpoint wait",
    "asr": "speech recognition",
    "skill": "skill",
    "tts_first_audio": "first audio",
    "tts_total": "synthesis total",
    "end_of_speech_to_first_audio": "end of speech to first audio",
}


def stage_summary(stages_ms: dict[str, float]) -> str:
    return " · ".join(
        f"{label} {stages_ms[key]:.0f} ms" for key, label in STAGE_NAMES.items() if key in stages_ms
    )


def render(event: Event) -> str | None:
    """One human line for an event, or None when it is not worth a line."""
    stamp = f"[{event.t_audio_ms / 1000:7.2f}s]" if hasattr(event, "t_audio_ms") else ""
    match event:
        case WakeDetected():
            return f"{stamp} wake word {event.model} (score {event.score:.2f})"
        case SpeechStarted(follow_up=True):
            return f"{stamp} listening to a follow-up"
        case SpeechEnded():
            return f"{stamp} end of speech ({len(event.audio) / event.rate_hz:.1f} s of audio)"
        case NoSpeech(follow_up=False):
            return f"{stamp} no speech after the wake word"
        case Transcript():
            return f"{stamp} heard: {event.text!r}"
        case Reply(announcement=True):
            return f"{stamp} announcement: {event.text}"
        case Reply():
            return f"{stamp} reply ({event.skill}): {event.text}"
        case StageError():
            return f"{stamp} {event.stage} failed ({event.kind}): {event.message}"
        case TurnDone():
            return f"{stamp} turn {event.turn_id} {event.outcome}: {stage_summary(event.stages_ms)}"
    return None
