"""Batched Whisper decoding over CTranslate2, across chunks of many files at once.

faster-whisper's ``transcribe()`` (and its ``BatchedInferencePipeline``) pad every
chunk to a 30 s window, so a 3 s command costs the encoder a full 30 s. Here each
batch is encoded only as long as its longest chunk plus ``pad_s`` of silence
(rounded up to whole seconds, at most 30 s), chunks of similar length are batched
together, and decoding runs with timestamps. Whisper decoding on a short window
tends to start the sentence over once the speech ends, or to repeat one short
token (``0. 0. 0. 0. 0``), so guards keep the text honest: segments that start
after the chunk's speech ended are dropped, a segment that repeats the one before
it word for word in far less time is dropped, and then the decode guards the live
decoder uses (:func:`hearthvox.engines.asr_guard.judge`, with
:attr:`DecodeOptions.guard`'s thresholds: token budget from the chunk's duration,
repetition, confidence, words per second) judge each chunk's text. A chunk they
reject is decoded again on its own by the same full-window decode the live
decoder falls back to (faster-whisper's ``transcribe()``, deterministic:
:func:`hearthvox.engines.asr.decode_window`).
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

from hearthvox.engines.asr import BiasOptions, decode_window, load_whisper, tokenizer_for
from hearthvox.engines.asr_guard import BATCH_GUARD, GuardOptions, judge, token_budget
from hearthvox.engines.biasing import (
    SUSPECT,
    correct,
    prefer_second,
    prompt_text,
    suspect,
    whole_token_words,
)
from hearthvox.engines.openmp import passive_openmp
from hearthvox.errors import EngineError
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
    bucket_s: int = 2
    """Chunks batched together have windows at most this many seconds apart."""
    word_timestamps: bool = False
    """Time every word (cross-attention alignment: one more decoder pass per batch)."""
    guard: GuardOptions = BATCH_GUARD
    """When a chunk's text goes to the full-window decode (shared with the live decoder)."""
    bias: BiasOptions = BiasOptions()
    """The user's vocabulary (the prompt, and the correction of each segment's text)."""


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
    fallback: str | None = None
    """Why the chunk was decoded again on the full window (None: it was not)."""


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
        with passive_openmp():  # as the live decoder's (engines.openmp)
            from faster_whisper.transcribe import get_suppressed_tokens

        self.opts = opts
        self.model_settings = model
        self._model: Any = load_whisper(
            model_dir,
            device=model.device,
            compute_type=model.compute_type,
            threads=model.threads_per_job,
            workers=model.jobs,
        )
        self._tok: Any = tokenizer_for(self._model, opts.language)
        self._prompt: list[int] = self._model.get_prompt(self._tok, [], without_timestamps=False)
        self._hotwords = prompt_text(opts.bias.vocabulary, self._tok)
        self._known_word = whole_token_words(self._tok)
        self._suppress = list(get_suppressed_tokens(self._tok, [-1]))

    def transcribe(self, pieces: Sequence[Int16Array]) -> list[ChunkText]:
        """Transcribe every piece (mono 16 kHz, at most ``30 - pad_s`` s); results in order."""
        found = self._transcribe(pieces)
        if not self.opts.bias.vocabulary:
            return found
        return [self._biased(piece, chunk) for piece, chunk in zip(pieces, found, strict=True)]

    def _biased(self, piece: Int16Array, chunk: ChunkText) -> ChunkText:
        """Each segment corrected; the chunk decoded again with the vocabulary as prompt
        (the full-window decode) when its text holds a suspect, and that text taken when
        :func:`~hearthvox.engines.biasing.prefer_second` says so."""
        bias, known = self.opts.bias, self._known_word

        def corrected(segment: Segment) -> Segment:
            fixed = correct(segment.text, bias.vocabulary, bias.threshold, known)
            return dataclasses.replace(segment, text=fixed.text) if fixed.terms else segment

        first = dataclasses.replace(chunk, segments=tuple(map(corrected, chunk.segments)))
        plain = " ".join(seg.text for seg in chunk.segments)
        if not bias.prompt or not suspect(plain, bias.vocabulary, SUSPECT, known):
            return first
        again = self._window(piece, chunk.fallback or "", self._hotwords)
        second = dataclasses.replace(again, segments=tuple(map(corrected, again.segments)))
        text = " ".join(seg.text for seg in first.segments)
        if prefer_second(text, " ".join(seg.text for seg in second.segments), bias.vocabulary):
            return dataclasses.replace(second, fallback=chunk.fallback)
        return first

    def _transcribe(self, pieces: Sequence[Int16Array]) -> list[ChunkText]:
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
            budget = token_budget(longest_s, self.opts.guard)
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
        out: list[ChunkText] = []
        for piece, kept, r in zip(pieces, found, results, strict=True):
            duration_s = len(piece) / RATE_HZ
            text = " ".join(seg.text for seg, _ in kept)
            n_tokens = len(r.sequences_ids[0])
            # scores are length-normalised log probabilities
            avg_logprob = float(r.scores[0])
            budget = token_budget(duration_s, self.opts.guard)
            verdict = judge(text, n_tokens, budget, avg_logprob, duration_s, self.opts.guard)
            reason = verdict.fallback or ("repetition" if verdict.loop_cut else None)
            if reason is None:
                out.append(ChunkText(tuple(seg for seg, _ in kept), avg_logprob))
            else:
                out.append(self._window(piece, reason))
        return out

    def _window(self, piece: Int16Array, reason: str, hotwords: str | None = None) -> ChunkText:
        """The chunk decoded again on its own, on the full window (``hotwords``: with the
        vocabulary as prompt)."""
        duration_s = len(piece) / RATE_HZ
        try:
            found = decode_window(
                self._model,
                piece.astype(np.float32) / 32768.0,
                beam_size=self.opts.beam_size,
                language=self.opts.language,
                words=self.opts.word_timestamps,
                hotwords=hotwords,
            )
        except Exception as exc:  # CTranslate2 errors are untyped
            raise EngineError(f"full-window transcription failed: {exc}") from exc

        def at(t: float) -> float:
            return round(min(max(t, 0.0), duration_s), 3)

        segments = tuple(
            Segment(
                at(s.start_s),
                at(s.end_s),
                s.text,
                tuple(Word(at(a), at(b), w, round(p, 3)) for a, b, w, p in s.words),
            )
            for s in found
        )
        return ChunkText(segments, found[0].avg_logprob if found else 0.0, reason)

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
