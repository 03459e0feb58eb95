"""Typed pipeline events.

Every event is a small frozen dataclass. Units live in field names
(``t_audio_ms``, ``duration_s``, ``rate_hz``). Audio travels as numpy arrays,
never through JSON.

``t_audio_ms`` is the position in the input stream where the event happened;
``t_wall_ms`` is the wall clock since the stream started. ``t_created_s`` (a
``time.perf_counter()`` stamp taken when the event is made) and ``queue_ms`` let
telemetry split a stage's time into waiting before it started and its own work.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

Int16Array = npt.NDArray[np.int16]
Float32Array = npt.NDArray[np.float32]


def _created() -> float:
    """A field stamped with ``time.perf_counter()`` when the event is made."""
    return field(default_factory=time.perf_counter, compare=False, repr=False)


@dataclass(frozen=True, eq=False)
class AudioChunk:
    """Mono 16-bit audio from the input, already at the pipeline rate."""

    samples: Int16Array
    rate_hz: int
    t_audio_ms: int


@dataclass(frozen=True)
class WakeDetected:
    t_audio_ms: int
    t_wall_ms: int
    model: str
    score: float
    t_created_s: float = _created()


@dataclass(frozen=True)
class SpeechStarted:
    t_audio_ms: int
    t_wall_ms: int
    follow_up: bool = False


@dataclass(frozen=True, eq=False)
class SpeechEnded:
    """The endpointer closed an utterance; ``audio`` holds it at ``rate_hz``."""

    t_audio_ms: int
    t_wall_ms: int
    audio: Int16Array
    rate_hz: int
    speech_start_ms: int
    reason: Literal["silence", "max_length", "end_of_input"]
    """``end_of_input``: the input ended (a file, a closed stream) while speech went on."""
    endpoint_wait_ms: float
    t_created_s: float = _created()


@dataclass(frozen=True)
class NoSpeech:
    """The listening window closed without speech (after a wake or a follow-up)."""

    t_audio_ms: int
    t_wall_ms: int
    follow_up: bool


@dataclass(frozen=True)
class Transcript:
    t_audio_ms: int
    t_wall_ms: int
    text: str
    final: bool
    asr_ms: float
    audio_duration_s: float
    queue_ms: float = 0.0
    """From the end of speech being found to the recogniser starting."""
    extra_ms: dict[str, float] = field(default_factory=dict)
    """Part of ``asr_ms`` spent on more decodes: ``asr_prompted`` (the vocabulary's
    prompted decode), ``asr_second`` (the cascade's larger model)."""
    t_created_s: float = _created()


@dataclass(frozen=True)
class Reply:
    t_audio_ms: int
    t_wall_ms: int
    text: str
    skill: str
    skill_ms: float
    interrupt: bool = False
    announcement: bool = False
    queue_ms: float = 0.0
    """From the transcript to the skill starting."""
    t_created_s: float = _created()


@dataclass(frozen=True, eq=False)
class TtsAudio:
    """One synthesised sentence, ready for the sink."""

    samples: Int16Array
    rate_hz: int
    first: bool


@dataclass(frozen=True)
class TtsFirstAudio:
    t_audio_ms: int
    t_wall_ms: int
    tts_first_ms: float
    queue_ms: float = 0.0
    """From the reply to synthesis starting."""


@dataclass(frozen=True)
class Interrupt:
    """Stop speaking now and drop whatever is queued."""

    t_audio_ms: int
    t_wall_ms: int
    reason: str


@dataclass(frozen=True)
class ReplyDone:
    """Every sentence of a reply has been handed to the sink (or it was interrupted)."""

    t_audio_ms: int
    t_wall_ms: int
    tts_total_ms: float
    playback_ms: float
    interrupted: bool
    announcement: bool
    playback_queue_ms: float = 0.0
    """Synthesised audio waiting for the sink, summed over the reply's chunks."""


@dataclass(frozen=True)
class StageError:
    """A stage failed for one turn; the pipeline carries on."""

    t_audio_ms: int
    t_wall_ms: int
    stage: str
    kind: str
    message: str


@dataclass(frozen=True)
class TurnDone:
    t_audio_ms: int
    t_wall_ms: int
    turn_id: int
    outcome: Literal["answered", "no_speech", "error", "interrupted"]
    skill: str | None
    stages_ms: dict[str, float] = field(default_factory=dict)
    queue_ms: dict[str, float] = field(default_factory=dict)
    """Per stage, the time waited before it started (``stages_ms`` is its own work)."""


Event = (
    AudioChunk
    | WakeDetected
    | SpeechStarted
    | SpeechEnded
    | NoSpeech
    | Transcript
    | Reply
    | TtsAudio
    | TtsFirstAudio
    | ReplyDone
    | Interrupt
    | StageError
    | TurnDone
)
