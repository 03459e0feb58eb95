"""Speech recognition: Whisper tiny.en on CTranslate2.

Two ways to decode, same model loaded once:

- ``lean`` (default): faster-whisper's feature extractor on only the real audio
  plus a short margin of silence, then ``ctranslate2.models.Whisper.generate``
  (encode + greedy decode) under the guards of :mod:`hearthvox.engines.asr_guard`;
  when a guard trips (a loop, the token budget, low confidence, no text) it
  falls back to the full window.
- ``full``: faster-whisper's ``WhisperModel.transcribe`` on the 30-second
  zero-padded window (the reference, and the fallback).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from hearthvox.engines.asr_guard import LeanOptions, judge, token_budget
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
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer

        self.beam_size = beam_size
        self.language = language
        self.device = device
        self.compute_type = compute_type
        self.decode = decode
        self.lean = lean or LeanOptions()
        try:
            self._model: Any = WhisperModel(
                str(model_dir),
                device=device,
                compute_type=compute_type,
                cpu_threads=threads,
                num_workers=1,
            )
        except Exception as exc:  # CTranslate2 raises RuntimeError/ValueError variously
            raise ModelError(f"cannot load the ASR model from {model_dir}: {exc}") from exc
        multilingual = bool(self._model.model.is_multilingual)
        tokenizer = Tokenizer(
            self._model.hf_tokenizer,
            multilingual,
            task="transcribe" if multilingual else None,
            language=language if multilingual else None,
        )
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
        budget = token_budget(duration_s, opts)
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
        verdict = judge(text, len(tokens), budget, avg_logprob, duration_s, opts)
        return verdict.text, verdict.fallback, verdict.loop_cut

    def _full_decode(self, x: Float32Array) -> str:
        segments, _info = self._model.transcribe(
            x,
            language=self.language,
            beam_size=self.beam_size,
            without_timestamps=True,
            condition_on_previous_text=False,
            vad_filter=False,
        )
        return " ".join(seg.text.strip() for seg in segments).strip()
