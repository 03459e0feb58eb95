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

import asyncio
import threading
import time
from collections.abc import AsyncIterator
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
    stood_down: bool = False
    """Not for want of speech: the turn was dropped because another satellite heard the
    wake word better (a hub's arbitration)."""


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
class LlmFigures:
    """One language-model reply in counts and times, never its text."""

    prompt_tokens: int
    """The whole prompt: system prompt, kept history, question."""
    evaluated_tokens: int
    """Of those, computed for this reply (the rest were in the KV cache)."""
    new_tokens: int
    first_token_ms: float | None
    tokens_per_s: float | None
    stop: str
    """``end``, ``max_tokens``, ``wall_time``, ``cancelled``, or ``error`` (the server
    failed: mid-reply, or with no local model to answer)."""
    dropped_turns: int
    """Oldest turns dropped from the history to make room."""
    question_cut: bool
    tokens_after_cancel: int = 0
    """Pieces written after the reply was cancelled (a barge-in): at most the one token
    whose computation had begun."""
    backend: str = "local"
    """Who answered: ``local`` (the model on the device), ``openai`` (the server of
    ``[llm] url``) or ``none`` (the server failed and no local model runs: the fallback
    skill's reply is said)."""


class TextStream:
    """The text of a reply while it is still being written (a language model's tokens).

    The writer, on its own thread, calls :meth:`put` and then :meth:`end`; the speak
    stage reads :meth:`pieces` on the event loop; :meth:`cancel` asks the writer to stop
    (it reads :attr:`cancelled` before each token). Made on the event loop."""

    def __init__(self) -> None:
        self.cancelled = threading.Event()
        self.error: str | None = None
        """Why the writer stopped early (its failure), once it has ended."""
        self.text = ""
        """The pieces read so far."""
        self.figures: LlmFigures | None = None
        """The writer's counts and times, set before it ends."""
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.ended = asyncio.Event()
        """Set once the writer has ended (read or not)."""

    def put(self, piece: str) -> None:
        self._send(piece)

    def end(self, error: str | None = None) -> None:
        self.error = error
        self._send(None)

    def cancel(self) -> None:
        self.cancelled.set()

    def _send(self, item: str | None) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
            if item is None:
                self._loop.call_soon_threadsafe(self.ended.set)
        except RuntimeError:  # the loop has closed: nobody reads any more
            self.cancelled.set()

    async def pieces(self) -> AsyncIterator[str]:
        while (piece := await self._queue.get()) is not None:
            self.text += piece
            yield piece


@dataclass(frozen=True)
class Reply:
    t_audio_ms: int
    t_wall_ms: int
    text: str
    """The reply; for a streamed one (:attr:`stream`), empty: its words are still coming."""
    skill: str
    skill_ms: float
    interrupt: bool = False
    announcement: bool = False
    queue_ms: float = 0.0
    """From the transcript to the skill starting."""
    t_created_s: float = _created()
    stream: TextStream | None = field(default=None, compare=False, repr=False)
    """A reply written as it is spoken (the language model's), read by the speak stage."""
    shed: bool = False
    """The turn waited past its maximum queue age: this is the short busy reply
    (:mod:`hearthvox.pipeline.shedding`)."""
    voiced: Int16Array | None = field(default=None, compare=False, repr=False)
    """The reply already synthesised, at the voice's rate: played as it is."""


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
    streamed_text: str | None = None
    """A streamed reply's words as far as they were written (all of them unless
    interrupted); None for a reply whose text came whole."""
    llm: LlmFigures | None = None
    """A language-model reply's counts and times."""


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
    outcome: Literal["answered", "no_speech", "error", "interrupted", "stood_down", "shed"]
    skill: str | None
    stages_ms: dict[str, float] = field(default_factory=dict)
    queue_ms: dict[str, float] = field(default_factory=dict)
    """Per stage, the time waited before it started (``stages_ms`` is its own work)."""
    llm: LlmFigures | None = None
    """A turn the language model answered: its reply's counts and times."""


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
