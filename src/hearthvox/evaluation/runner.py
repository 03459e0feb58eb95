"""Run a bundle's engines over the eval set, clip by clip, as the daemon would hear it.

A command clip goes through the daemon's own :class:`~hearthvox.pipeline.runner.Pipeline`
(hearing only: listener, speculative decode and transcribe stage, with nothing answered
or said), woken at the clip's first chunk as after a wake word, with the bundle's own
settings: at each pause the utterance so far is decoded and the hangover follows what it
says (``[endpoint] adaptive``). The clip is read as a file, so the listener waits for
each guess before the next frame and the result does not depend on timing; the endpoint
lands at the end of the 80 ms chunk where the listener decided, as live. The words
handed to the recogniser are exactly what the endpointer kept: words cut off by an
early endpoint are missing from the transcript, as they would be for a user. The wake
engine hears every clip (ungated: every 80 ms frame is scored); a detection in a wake
clip is a hit, in any other clip a false accept.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from hearthvox.audio.sinks import NullSink
from hearthvox.audio.sources import array_source
from hearthvox.config import Config
from hearthvox.engines.asr import AsrResult
from hearthvox.engines.executor import EngineExecutor
from hearthvox.engines.vad import SileroVad
from hearthvox.engines.wake import FRAME_SAMPLES, WakeEngine
from hearthvox.errors import EngineError
from hearthvox.evaluation.evalset import Clip
from hearthvox.evaluation.wer import (
    entity_found,
    false_insertions,
    letters_digits,
    term_said,
    word_errors,
)
from hearthvox.events import Int16Array, NoSpeech, SpeechEnded, StageError, Transcript
from hearthvox.pipeline.runner import Ears, Pipeline

RATE_HZ = 16000
CUTOFF_MS = 300.0
"""An utterance that ends this long before the speech does has dropped a word: cut off."""
LATE_MS = 1500.0
"""An endpoint this long after the speech ended (or none at all) is late."""
WAKE_WINDOW_S = 1.0
"""A wake hit counts up to this long after the end of the wake phrase."""


class Transcriber(Protocol):
    """What the eval asks of the recogniser (:class:`WhisperAsr`, or a memo of one)."""

    @property
    def executor(self) -> EngineExecutor: ...

    def transcribe(self, audio: Int16Array, *, fallback: bool = True) -> AsrResult: ...


@dataclass
class EvalEngines:
    """What the eval runs: a bundle's wake, VAD and ASR engines and its effective config."""

    bundle: str
    wake: WakeEngine
    vad: SileroVad
    asr: Transcriber
    cfg: Config
    fingerprint: dict[str, Any] = field(default_factory=dict)
    """Everything that decides the results (model sha256s, settings, runtime versions)."""
    listed: tuple[str, ...] = ()
    """The user's vocabulary (written forms): its terms heard where not said are counted."""
    commands: Callable[[str], bool] | None = None
    """Whether a skill takes a transcript as a whole request (the command hangover, as
    the live listener; :meth:`hearthvox.skills.SkillRouter.complete`); None: never."""


@dataclass(frozen=True)
class ClipOutcome:
    id: str
    slice: str
    role: str
    audio_s: float
    words: int = 0
    edits: int = 0
    entity_ok: bool | None = None
    cutoff: bool | None = None
    late: bool | None = None
    endpoint_ms: float | None = None
    """Endpoint decision after the end of the speech (commands that ended)."""
    wake_hit: bool | None = None
    false_accepts: int = 0
    vad: tuple[int, int, int] | None = None
    """(true positive, false positive, false negative) 32 ms frames of a VAD clip."""
    speaker: str = ""
    tags: tuple[str, ...] = ()
    exact_ok: bool | None = None
    """An alphanumeric recording: its letters and digits exactly right."""
    listed_said: bool | None = None
    """The reference holds a term of the vocabulary (then the clip does not count for
    insertions); None: the eval ran without a vocabulary."""
    inserted: int = 0
    """Terms of the vocabulary heard that the reference does not hold."""
    hypothesis: str = field(default="", compare=False)
    """The transcript: kept in memory only (``eval --clips``), never written to disk."""

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in vars(self).items() if k != "hypothesis"}
        d["vad"] = list(self.vad) if self.vad is not None else None
        d["tags"] = list(self.tags)
        return d

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ClipOutcome:
        vad = raw.get("vad")
        known = {f for f in cls.__dataclass_fields__ if f != "hypothesis"}
        kept = {k: v for k, v in raw.items() if k in known}
        vad_t = tuple(int(v) for v in vad) if vad is not None else None
        return cls(**{**kept, "vad": vad_t, "tags": tuple(raw.get("tags") or ())})


@dataclass
class _Utterance:
    text: str
    start_ms: float | None
    end_ms: float | None  # last voiced frame's end; None: no endpoint in the clip
    decided_ms: float | None


def _never(_: str) -> bool:
    return False


def _listen(engines: EvalEngines, audio: Int16Array) -> _Utterance:
    """The first utterance the daemon's listener finds in ``audio``, and its transcript."""
    return asyncio.run(_hear(engines, audio))


async def _hear(engines: EvalEngines, audio: Int16Array) -> _Utterance:
    """``audio`` through a :class:`Pipeline` that hears only, woken at its first chunk
    (the clip is the command alone), read as a file: each pause's guess is decoded
    before the next frame, so the result does not depend on timing."""
    cfg = engines.cfg
    ears = Ears(engines.wake, engines.vad, engines.asr)
    pipeline = Pipeline(ears, None, cfg, complete=engines.commands or _never)
    pipeline.listen_now("eval", settle_ms=0.0)
    source = array_source(audio, RATE_HZ, cfg.audio.chunk_ms, realtime=False)
    heard = _Utterance("", None, None, None)
    async with contextlib.aclosing(pipeline.run(source, NullSink(), realtime=False)) as events:
        async for event in events:
            match event:
                case SpeechEnded(reason="end_of_input"):  # speech to the end of the clip
                    heard = _Utterance("", float(event.speech_start_ms), None, None)
                case SpeechEnded():
                    decided = event.t_audio_ms + event.endpoint_wait_ms
                    heard = _Utterance(
                        "", float(event.speech_start_ms), float(event.t_audio_ms), decided
                    )
                case Transcript():
                    return dataclasses.replace(heard, text=event.text)
                case StageError():
                    raise EngineError(f"the eval's {event.stage} failed: {event.message}")
                case NoSpeech():
                    return heard
    return heard


def _wake_hits(wake: WakeEngine, audio: Int16Array) -> list[float]:
    stream = wake.new_stream()
    hits = []
    for i in range(0, len(audio) - FRAME_SAMPLES + 1, FRAME_SAMPLES):
        end_ms = (i + FRAME_SAMPLES) * 1000 / RATE_HZ
        if stream.detect(audio[i : i + FRAME_SAMPLES], end_ms) is not None:
            hits.append(end_ms / 1000)
    return hits


def _vad_counts(
    clip: Clip, probs: list[float], threshold: float, frame_s: float
) -> tuple[int, ...]:
    tp = fp = fn = 0
    for i, prob in enumerate(probs):
        middle = (i + 0.5) * frame_s
        if middle >= clip.vad_until_s:
            break
        truth = any(a <= middle < b for a, b in clip.vad_speech_s)
        said = prob >= threshold
        tp += truth and said
        fp += said and not truth
        fn += truth and not said
    return tp, fp, fn


def clip_base(clip: Clip) -> dict[str, Any]:
    return {
        "id": clip.id,
        "slice": clip.slice,
        "role": clip.role,
        "audio_s": round(clip.duration_s, 3),
        "speaker": clip.speaker,
        "tags": clip.tags,
    }


def run_clip(engines: EvalEngines, clip: Clip) -> ClipOutcome:
    hits = _wake_hits(engines.wake, clip.audio)
    base = clip_base(clip)
    if clip.role == "wake":
        start, end = clip.span_s
        return ClipOutcome(**base, wake_hit=any(start <= t <= end + WAKE_WINDOW_S for t in hits))
    base["false_accepts"] = len(hits)
    if clip.role == "background":
        return ClipOutcome(**base)
    if clip.role == "vad":
        probs = engines.vad.new_stream().feed(clip.audio)
        counts = _vad_counts(clip, probs, engines.cfg.vad.threshold, engines.vad.frame_ms / 1000)
        return ClipOutcome(**base, vad=(counts[0], counts[1], counts[2]))
    return run_command(engines, clip, base)


def run_command(
    engines: EvalEngines, clip: Clip, base: dict[str, Any] | None = None
) -> ClipOutcome:
    """A command clip as the daemon hears it: the endpoint and what was heard.
    (:mod:`.tune` runs it with other endpoint settings.)"""
    heard = _listen(engines, clip.audio)
    edits, words = word_errors(clip.reference, heard.text)
    speech_end_ms = clip.span_s[1] * 1000
    cutoff = heard.start_ms is None  # nothing heard: every word dropped
    delay = None
    if heard.end_ms is not None and heard.decided_ms is not None:
        cutoff = heard.end_ms < speech_end_ms - CUTOFF_MS
        delay = heard.decided_ms - speech_end_ms
    return ClipOutcome(
        **(base if base is not None else clip_base(clip)),
        words=words,
        edits=edits,
        entity_ok=entity_found(clip.entity, heard.text) if clip.entity else None,
        exact_ok=(
            letters_digits(clip.reference) == letters_digits(heard.text)
            if clip.style == "alphanumeric"
            else None
        ),
        listed_said=(
            any(term_said(t, clip.reference) for t in engines.listed) if engines.listed else None
        ),
        inserted=false_insertions(engines.listed, clip.reference, heard.text),
        cutoff=cutoff,
        late=heard.start_ms is not None and (delay is None or delay > LATE_MS),
        endpoint_ms=round(delay, 1) if delay is not None else None,
        hypothesis=heard.text,
    )


def run_clips(
    engines: EvalEngines, clips: tuple[Clip, ...], progress: Callable[[int], None] | None = None
) -> list[ClipOutcome]:
    """Every clip, in order (one at a time: the engines' own threads use the cores)."""
    outcomes = []
    for clip in clips:
        outcomes.append(run_clip(engines, clip))
        if progress is not None:
            progress(1)
    return outcomes
