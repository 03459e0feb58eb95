"""Batched Whisper decoding over CTranslate2, across chunks of many files at once.

faster-whisper's ``transcribe()`` (and its ``BatchedInferencePipeline``) pad every
chunk to a 30 s window, so a 3 s command costs the encoder a full 30 s. Here each
batch is encoded only as long as its longest chunk plus ``pad_s`` of silence
(rounded up to whole seconds, at most 30 s), chunks of similar length are batched
together, and decoding runs with timestamps. Whisper decoding on a short window
tends to start the sentence over once the speech ends, so three guards keep the
text honest: segments that start after the chunk's speech ended are dropped, the
token budget follows the chunk's duration, and a segment that repeats the one
before it word for word is dropped.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hearthvox.errors import EngineError, ModelError
from hearthvox.evaluation.wer import normalize
from hearthvox.events import Int16Array

RATE_HZ = 16000
WINDOW_S = 30
_MAX_LENGTH = 448  # Whisper's decoder positions
# punctuation joined to the word it follows or leads (faster-whisper's defaults)
_PREPEND = "\"'“¿([{-"
_APPEND = "\"'.。,，!！?？:：”)]}、"


@dataclass(frozen=True)
class DecodeOptions:
    beam_size: int = 1
    language: str = "en"
    batch_size: int = 8
    pad_s: float = 3.0
    """Silence after each chunk inside its window: the model hears the speech end."""
    tokens_per_s: float = 10.0
    """Token budget per second of audio (speech is 3-5 tokens a second, plus timestamps)."""
    bucket_s: int = 2
    """Chunks batched together have windows at most this many seconds apart."""
    word_timestamps: bool = False
    """Time every word (cross-attention alignment: one more decoder pass per batch)."""


@dataclass(frozen=True)
class Word:
    start_s: float
    end_s: float
    word: str
    probability: float


@dataclass(frozen=True)
class Segment:
    start_s: float
    end_s: float
    text: str
    words: tuple[Word, ...] = ()

    def shifted(self, offset_s: float) -> Segment:
        def at(t: float) -> float:
            return round(t + offset_s, 3)

        words = tuple(Word(at(w.start_s), at(w.end_s), w.word, w.probability) for w in self.words)
        return Segment(at(self.start_s), at(self.end_s), self.text, words)


@dataclass(frozen=True)
class ChunkText:
    segments: tuple[Segment, ...]
    avg_logprob: float


@dataclass(frozen=True)
class ModelSettings:
    device: str = "cpu"
    compute_type: str = "int8"
    threads: int = 2
    """The thread budget, shared by the jobs."""
    jobs: int = 1
    """Batches decoded in parallel (CTranslate2 workers)."""

    @property
    def threads_per_job(self) -> int:
        return max(1, self.threads // max(1, self.jobs))


class BatchAsr:
    """Whisper on CTranslate2 with ``jobs`` parallel workers of ``threads`` threads each."""

    def __init__(self, model_dir: Path, model: ModelSettings, opts: DecodeOptions) -> None:
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        self.opts = opts
        self.model_settings = model
        try:
            self._model: Any = WhisperModel(
                str(model_dir),
                device=model.device,
                compute_type=model.compute_type,
                cpu_threads=model.threads_per_job,
                num_workers=model.jobs,
            )
        except Exception as exc:  # CTranslate2 raises RuntimeError/ValueError variously
            raise ModelError(f"cannot load the ASR model from {model_dir}: {exc}") from exc
        multilingual = bool(self._model.model.is_multilingual)
        language = opts.language if multilingual else "en"
        self._tok: Any = Tokenizer(
            self._model.hf_tokenizer, multilingual, task="transcribe", language=language
        )
        self._prompt: list[int] = self._model.get_prompt(self._tok, [], without_timestamps=False)
        self._suppress = list(get_suppressed_tokens(self._tok, [-1]))

    def transcribe(self, pieces: Sequence[Int16Array]) -> list[ChunkText]:
        """Transcribe every piece (mono 16 kHz, at most ``30 - pad_s`` s); results in order."""
        batches = self._batches(pieces)
        results: list[ChunkText | None] = [None] * len(pieces)
        jobs = max(1, self.model_settings.jobs)

        def run(batch: list[int]) -> None:
            for i, text in zip(batch, self._batch([pieces[i] for i in batch]), strict=True):
                results[i] = text

        if jobs == 1 or len(batches) == 1:
            for batch in batches:
                run(batch)
        else:
            with ThreadPoolExecutor(jobs, thread_name_prefix="hv-asr") as pool:
                list(pool.map(run, batches))
        return [r if r is not None else ChunkText((), 0.0) for r in results]

    def _window_s(self, n_samples: int) -> int:
        return min(WINDOW_S, math.ceil(n_samples / RATE_HZ + self.opts.pad_s))

    def _batches(self, pieces: Sequence[Int16Array]) -> list[list[int]]:
        """Indices by length, in batches of at most ``batch_size`` whose windows differ
        by at most ``bucket_s`` (the encoder's cost grows faster than the window)."""
        order = sorted(range(len(pieces)), key=lambda i: len(pieces[i]))
        batches: list[list[int]] = []
        for i in order:
            last = batches[-1] if batches else None
            if (
                last is not None
                and len(last) < max(1, self.opts.batch_size)
                and self._window_s(len(pieces[i])) - self._window_s(len(pieces[last[0]]))
                <= self.opts.bucket_s
            ):
                last.append(i)
            else:
                batches.append([i])
        return batches

    def _batch(self, pieces: list[Int16Array]) -> list[ChunkText]:
        longest_s = max(len(p) for p in pieces) / RATE_HZ
        window_s = self._window_s(max(len(p) for p in pieces))
        n = window_s * RATE_HZ
        try:
            import ctranslate2

            feats = np.stack(
                [self._model.feature_extractor(_padded(p[:n], n))[..., :-1] for p in pieces]
            ).astype(np.float32)
            encoded = self._model.model.encode(ctranslate2.StorageView.from_array(feats))
            budget = int(longest_s * self.opts.tokens_per_s) + 16
            results = self._model.model.generate(
                encoded,
                [list(self._prompt) for _ in pieces],
                beam_size=self.opts.beam_size,
                max_length=min(_MAX_LENGTH, len(self._prompt) + budget),
                suppress_blank=True,
                suppress_tokens=self._suppress,
                return_scores=True,
            )
        except Exception as exc:  # CTranslate2 errors are untyped
            raise EngineError(f"batched transcription failed: {exc}") from exc
        found = [
            self._segments(list(r.sequences_ids[0]), len(p) / RATE_HZ)
            for p, r in zip(pieces, results, strict=True)
        ]
        if self.opts.word_timestamps:
            found = self._timed(encoded, pieces, found)
        # scores are length-normalised log probabilities
        return [
            ChunkText(tuple(seg for seg, _ in kept), float(r.scores[0]))
            for kept, r in zip(found, results, strict=True)
        ]

    def _timed(
        self, encoded: Any, pieces: list[Int16Array], found: list[list[tuple[Segment, list[int]]]]
    ) -> list[list[tuple[Segment, list[int]]]]:
        """Word times by aligning the kept text to the audio; each word goes to its segment."""
        from faster_whisper.transcribe import merge_punctuations

        tokens = [[t for _, seg_tokens in kept for t in seg_tokens] for kept in found]
        frames = [max(1, math.ceil(len(p) / 160)) for p in pieces]
        try:
            aligned = self._model.find_alignment(self._tok, tokens, encoded, frames)
        except Exception as exc:  # CTranslate2 errors are untyped
            raise EngineError(f"word alignment failed: {exc}") from exc
        out: list[list[tuple[Segment, list[int]]]] = []
        for kept, words, piece in zip(found, aligned, pieces, strict=True):
            merge_punctuations(words, _PREPEND, _APPEND)
            end = len(piece) / RATE_HZ
            bounds = np.cumsum([len(t) for _, t in kept])  # token index -> segment
            per: list[list[Word]] = [[] for _ in kept]
            position = 0
            for w in words:
                if w["word"]:
                    index = min(int(np.searchsorted(bounds, position, side="right")), len(kept) - 1)
                    start, stop = min(w["start"], end), min(w["end"], end)
                    probability = round(float(w["probability"]), 3)
                    per[index].append(Word(round(start, 3), round(stop, 3), w["word"], probability))
                position += len(w["tokens"])
            out.append(
                [
                    (dataclasses.replace(seg, words=tuple(ws)), t)
                    for (seg, t), ws in zip(kept, per, strict=True)
                ]
            )
        return out

    def _segments(self, ids: list[int], duration_s: float) -> list[tuple[Segment, list[int]]]:
        tok = self._tok
        ts_begin: int = tok.timestamp_begin
        raw: list[tuple[float, float | None, list[int]]] = []
        start: float | None = None
        text: list[int] = []
        for t in ids:
            if t < ts_begin:
                if t < tok.eot:
                    text.append(t)
                continue
            stamp = (t - ts_begin) * 0.02
            if start is None:
                start = stamp
            else:
                raw.append((start, stamp, text))
                start, text = None, []
        if text:
            raw.append((start if start is not None else 0.0, None, text))
        kept: list[tuple[Segment, list[int]]] = []
        for a, b, tokens in raw:
            words = tok.decode(tokens).strip()
            if not words or (a >= duration_s - 0.1 and kept):
                continue  # said after the speech ended: the model starting over
            if _looped([seg for seg, _ in kept], words, a, b):
                continue  # a loop repeating the previous segment in no time
            end = duration_s if b is None else min(max(b, a), duration_s)
            kept.append((Segment(round(min(a, duration_s), 3), round(end, 3), words), tokens))
        return kept


def _looped(kept: list[Segment], words: str, start: float, end: float | None) -> bool:
    """A repeat of the previous segment squeezed into far less time than it took.

    A speaker who says a sentence twice takes about as long the second time; a
    decoding loop emits the repeat with timestamps bunched up (or none at all).
    """
    if not kept or normalize(words) != normalize(kept[-1].text):
        return False
    before = kept[-1].end_s - kept[-1].start_s
    return end is None or (end - start) < 0.5 * before


def _padded(piece: Int16Array, n: int) -> Any:
    x = np.zeros(n, dtype=np.float32)
    x[: len(piece)] = piece.astype(np.float32) / 32768.0
    return x
