"""Speech recognition: Whisper tiny.en on CTranslate2.

Two ways to decode, same model loaded once:

- ``lean`` (default): faster-whisper's feature extractor on only the real audio
  plus a short margin of silence, then ``ctranslate2.models.Whisper.generate``
  (encode + greedy decode) under the guards of :mod:`hearthvox.engines.asr_guard`;
  when a guard trips (a loop, the token budget, low confidence, no text) it
  falls back to the full window.
- ``full``: faster-whisper's ``WhisperModel.transcribe`` on the 30-second
  zero-padded window (the reference, and the fallback).

:func:`load_whisper` and :func:`decode_window` are also the batch decoder's
(:mod:`hearthvox.batch.asr`): one loader, one fallback, one set of guards.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from hearthvox.engines.asr_guard import LIVE_GUARD, GuardOptions, judge, token_budget
from hearthvox.errors import EngineError, ModelError
from hearthvox.events import Float32Array, Int16Array

RATE_HZ = 16000
Decode = Literal["lean", "full"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AsrResult:
    text: str
    audio_duration_s: float
    decode: str = "full"
    """How the text was found: ``lean``, ``lean_cut`` (a loop was cut) or ``full``."""
    fallback: str | None = None
    """Why a lean decode fell back to the full window (None when it did not)."""


@dataclass(frozen=True)
class LeanOptions:
    """How the live decoder's lean decode runs (its guards: :class:`GuardOptions`)."""

    margin_s: float = 4.0
    """Silence appended after the audio: with it the model hears the end and stops
    (2 s is faster, but 4 s matched the full window's words on every corpus file)."""
    max_audio_s: float = 25.0
    """Longer audio goes straight to the full-window decode."""
    guard: GuardOptions = LIVE_GUARD


@dataclass(frozen=True)
class WindowSegment:
    start_s: float
    end_s: float
    text: str
    avg_logprob: float
    words: tuple[tuple[float, float, str, float], ...] = ()
    """(start_s, end_s, word, probability) when words were timed."""


def load_whisper(
    model_dir: Path, *, device: str, compute_type: str, threads: int, workers: int = 1
) -> Any:
    """The faster-whisper ``WhisperModel`` of *model_dir*; :class:`ModelError` when it
    cannot be loaded. ``workers`` decodes may run at once, ``threads`` threads each."""
    from faster_whisper import WhisperModel

    try:
        return WhisperModel(
            str(model_dir),
            device=device,
            compute_type=compute_type,
            cpu_threads=threads,
            num_workers=workers,
        )
    except Exception as exc:  # CTranslate2 raises RuntimeError/ValueError variously
        raise ModelError(f"cannot load the ASR model from {model_dir}: {exc}") from exc


def tokenizer_for(model: Any, language: str) -> Any:
    """faster-whisper's tokenizer for *model* (English-only models take no language)."""
    from faster_whisper.tokenizer import Tokenizer

    multilingual = bool(model.model.is_multilingual)
    return Tokenizer(
        model.hf_tokenizer,
        multilingual,
        task="transcribe" if multilingual else None,
        language=language if multilingual else None,
    )


# faster-whisper's own thresholds for a window it would decode again
COMPRESSION_RATIO_MAX = 2.4
LOG_PROB_MIN = -1.0
NO_SPEECH_MIN = 0.6
RETRY_BEAM = 5


def _failed(segments: list[Any]) -> bool:
    """A window faster-whisper's temperature fallback would decode again: a loop
    (text that compresses too well) or low confidence on something that is speech."""
    return any(
        s.compression_ratio > COMPRESSION_RATIO_MAX
        or (s.avg_logprob < LOG_PROB_MIN and s.no_speech_prob < NO_SPEECH_MIN)
        for s in segments
    )


def _mean_logprob(segments: list[Any]) -> float:
    return sum(s.avg_logprob for s in segments) / len(segments) if segments else LOG_PROB_MIN


def decode_window(
    model: Any, x: Float32Array, *, beam_size: int, language: str, words: bool = False
) -> list[WindowSegment]:
    """The full-window decode both decoders fall back to: faster-whisper's
    ``transcribe()`` (30 s windows, timestamps) with the given beam size.

    Deterministic: faster-whisper's temperature fallback samples (CTranslate2's
    generator cannot be reseeded per call), so the same audio could give another
    text on the next run, and a paired eval would see noise as a regression. A
    window that fails faster-whisper's own thresholds is decoded once more by beam
    search (5 beams), and the more confident text wins. (The retry may repeat
    n-grams: a ban would forbid digit strings such as "five five five five".)"""

    def attempt(beam: int) -> list[Any]:
        segments, _info = model.transcribe(
            x,
            language=language if model.model.is_multilingual else None,
            beam_size=beam,
            temperature=0.0,
            vad_filter=False,
            word_timestamps=words,
        )
        return list(segments)

    found = attempt(beam_size)
    if _failed(found):
        again = attempt(max(beam_size, RETRY_BEAM))
        if not _failed(again) or _mean_logprob(again) > _mean_logprob(found):
            found = again
    return [
        WindowSegment(
            float(s.start),
            float(s.end),
            s.text.strip(),
            float(s.avg_logprob),
            tuple(
                (float(w.start), float(w.end), w.word, float(w.probability)) for w in s.words or ()
            ),
        )
        for s in found
        if s.text.strip()
    ]


class Recogniser(Protocol):
    def transcribe(self, audio: Int16Array) -> AsrResult: ...


class WhisperAsr:
    """Loaded once; ``transcribe`` is blocking: call it off the event loop."""

    def __init__(
        self,
        model_dir: Path,
        *,
        device: str = "cpu",
        compute_type: str = "int8",
        threads: int = 2,
        beam_size: int = 1,
        language: str = "en",
        decode: Decode = "lean",
        lean: LeanOptions | None = None,
    ) -> None:
        self.beam_size = beam_size
        self.language = language
        self.device = device
        self.compute_type = compute_type
        self.decode = decode
        self.lean = lean or LeanOptions()
        self._model: Any = load_whisper(
            model_dir, device=device, compute_type=compute_type, threads=threads
        )
        tokenizer = tokenizer_for(self._model, language)
        self._tokenizer: Any = tokenizer
        self._prompt: list[int] = [*tokenizer.sot_sequence, tokenizer.no_timestamps]

    @property
    def model(self) -> Any:
        """The faster-whisper ``WhisperModel`` (its ``.model`` is the CTranslate2 Whisper)."""
        return self._model

    def transcribe(self, audio: Int16Array, *, fallback: bool = True) -> AsrResult:
        """Transcribe mono 16 kHz audio; returns the text stripped of edge spaces.

        ``fallback=False`` (a speculative decode): when a lean guard trips, give up at
        once with an empty text and ``fallback`` naming the guard, instead of
        decoding the full window."""
        duration_s = len(audio) / RATE_HZ
        if len(audio) == 0:
            return AsrResult("", 0.0, "lean" if self.decode == "lean" else "full")
        x = audio.astype(np.float32) / 32768.0
        try:
            if self.decode == "lean" and duration_s <= self.lean.max_audio_s:
                text, reason, cut = self._lean_decode(x, duration_s)
                if reason is None:
                    return AsrResult(text, duration_s, "lean_cut" if cut else "lean")
                if not fallback:
                    return AsrResult("", duration_s, "lean", fallback=reason)
                log.debug("lean decode fell back to the full window: %s", reason)
                return AsrResult(self._full_decode(x), duration_s, "full", fallback=reason)
            return AsrResult(self._full_decode(x), duration_s, "full")
        except EngineError:
            raise
        except Exception as exc:  # any failure in decoding is this turn's error
            raise EngineError(f"transcription failed: {exc}") from exc

    def transcribe_full(self, audio: Int16Array) -> AsrResult:
        """The reference decode: faster-whisper ``transcribe`` on the 30 s window."""
        duration_s = len(audio) / RATE_HZ
        if len(audio) == 0:
            return AsrResult("", 0.0)
        try:
            return AsrResult(self._full_decode(audio.astype(np.float32) / 32768.0), duration_s)
        except Exception as exc:  # any failure in decoding is this turn's error
            raise EngineError(f"transcription failed: {exc}") from exc

    def _lean_decode(self, x: Float32Array, duration_s: float) -> tuple[str, str | None, bool]:
        import ctranslate2

        opts = self.lean
        padded = np.concatenate([x, np.zeros(int(RATE_HZ * opts.margin_s), dtype=np.float32)])
        features = self._model.feature_extractor(padded, padding=0)
        frames = features.shape[-1] - features.shape[-1] % 2  # the encoder halves the frames
        batch = np.ascontiguousarray(features[None, :, :frames], dtype=np.float32)
        budget = token_budget(duration_s, opts.guard)
        result = self._model.model.generate(
            ctranslate2.StorageView.from_array(batch),
            [self._prompt],
            beam_size=1,
            max_length=len(self._prompt) + budget,
            return_scores=True,
            suppress_blank=True,
            suppress_tokens=[-1],
        )[0]
        eot = self._tokenizer.eot
        tokens = [t for t in result.sequences_ids[0] if t < eot]
        text = self._tokenizer.decode(tokens)
        avg_logprob = float(result.scores[0]) if result.scores else 0.0
        verdict = judge(text, len(tokens), budget, avg_logprob, duration_s, opts.guard)
        return verdict.text, verdict.fallback, verdict.loop_cut

    def _full_decode(self, x: Float32Array) -> str:
        found = decode_window(self._model, x, beam_size=self.beam_size, language=self.language)
        return " ".join(seg.text for seg in found).strip()
