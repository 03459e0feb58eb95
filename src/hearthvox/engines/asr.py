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

import copy
import dataclasses
import hashlib
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple, Protocol

import numpy as np

from hearthvox.config import AsrConfig
from hearthvox.engines.asr_guard import (
    LIVE_GUARD,
    GuardOptions,
    judge,
    one_unit_repeated,
    token_budget,
)
from hearthvox.engines.biasing import (
    CORRECT_THRESHOLD,
    SUSPECT,
    correct,
    prefer_second,
    prompt_text,
    prompt_tokens,
    suspect,
    whole_token_words,
)
from hearthvox.engines.executor import EngineExecutor
from hearthvox.engines.memory import bound_primitive_cache
from hearthvox.engines.openmp import passive_openmp
from hearthvox.errors import EngineError, ModelError
from hearthvox.events import Float32Array, Int16Array
from hearthvox.vocabulary import Vocabulary, load_vocabulary

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
    corrected: int = 0
    """Listed terms the vocabulary correction put in (a count: the text is not kept)."""
    prompted: str | None = None
    """A second decode with the vocabulary as prompt ran: ``taken`` or ``kept`` (the
    first text stayed); None when it did not run."""
    avg_logprob: float | None = None
    """The decode's mean token log probability (its confidence; the cascade's signal)."""
    model: str = "small"
    """Which model's text this is: ``small``, or ``large`` when the cascade took the
    second model's (:class:`CascadeOptions`)."""
    extra_ms: tuple[tuple[str, float], ...] = ()
    """Time spent beyond the first decode, by path: ``asr_prompted`` (the prompted
    second decode), ``asr_second`` (the cascade's larger model); telemetry keeps it."""
    looped: str | None = None
    """A lean decode asked not to fall back that tripped on one or two words said over
    and over (``Stop Stop Stop``, as tiny.en does on a word said alone): those words.
    Only a hint, for the endpointer's wait; the text stays empty."""


@dataclass(frozen=True)
class BiasOptions:
    """How a vocabulary biases decoding (:mod:`hearthvox.engines.biasing`)."""

    vocabulary: Vocabulary = Vocabulary()
    """The user's list (``[asr] vocabulary``)."""
    prompt: bool = True
    """Decode again with the terms as prompt when the first text holds a suspect."""
    threshold: float = CORRECT_THRESHOLD
    digits: bool = True
    """Score an unsure short text against the digit words (:data:`DIGIT_MAX_S`)."""

    @classmethod
    def from_config(cls, asr: AsrConfig) -> BiasOptions:
        """``[asr] vocabulary`` (read and checked), ``vocabulary_prompt``, ``correct_threshold``."""
        path = Path(asr.vocabulary).expanduser() if asr.vocabulary else None
        return cls(
            vocabulary=load_vocabulary(path) if path is not None else Vocabulary(),
            prompt=asr.vocabulary_prompt,
            threshold=asr.correct_threshold,
            digits=asr.digit_words,
        )

    def describe(self) -> dict[str, Any]:
        """For records and fingerprints: the list's size and digest, not its terms."""
        digest = hashlib.sha256(
            "\n".join("=".join(t.forms()) for t in self.vocabulary.terms).encode()
        ).hexdigest()
        return {
            "terms": len(self.vocabulary),
            "sha256": digest if self.vocabulary else None,
            "prompt": self.prompt,
            "threshold": self.threshold,
            "digits": self.digits,
        }


@dataclass(frozen=True)
class LeanOptions:
    """How the live decoder's lean decode runs (its guards: :class:`GuardOptions`)."""

    margin_s: float = 4.0
    """Silence appended after the audio: with it the model hears the end and stops
    (2 s is faster, but 4 s matched the full window's words on every corpus file)."""
    max_audio_s: float = 25.0
    """Longer audio goes straight to the full-window decode."""
    guard: GuardOptions = LIVE_GUARD


DIGIT_MAX_S = 1.5
"""Only utterances this short (one or two spoken words) are scored against the digit
words: a lone digit is what tiny.en most often hears as a word ("seven" as
"Kevin.", "six" as "That's it.": four of the dev split's fifteen misread
alphanumerics), and a command word scores far below its own text (dev split: every
command at least 4.6 nats below, none taken)."""
DIGIT_MARGIN = 0.0
"""A digit word replaces the text when its summed log probability is higher by this."""
_DIGIT_WORDS = "zero one two three four five six seven eight nine".split()
DIGIT_FORMS = tuple(f" {word}" for word in _DIGIT_WORDS)
"""Scored as written lower case: on speech.csv's short commands and digits this form
alone did as well as three forms together (" Seven.", " 7.", " seven": 130 vs 131 of
145 exact) and turned no command into a digit, at a third of the cost."""
_DIGIT_TEXT = re.compile(r"[\w']+")


def digit_candidate(text: str) -> bool:
    """A text (of audio no longer than :data:`DIGIT_MAX_S`) worth scoring against the
    digit words: one or two words, none a digit (or a digit word) already."""
    words = _DIGIT_TEXT.findall(text.lower())
    return (
        0 < len(words) <= 2
        and not any(c.isdigit() for c in text)
        and not any(w in _DIGIT_WORDS for w in words)
    )


class _Lean(NamedTuple):
    text: str
    fallback: str | None
    loop_cut: bool
    avg_logprob: float
    encoded: Any
    """The encoder output (a CTranslate2 ``StorageView`` on the model's device)."""
    frames: int


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
    cannot be loaded. ``workers`` decodes may run at once, ``threads`` threads each.
    Bounds oneDNN's primitive cache first (:func:`bound_primitive_cache`); CTranslate2's
    OpenMP threads sleep when they wait (:mod:`hearthvox.engines.openmp`)."""
    with passive_openmp():
        from faster_whisper import WhisperModel

    bound_primitive_cache()

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
    model: Any,
    x: Float32Array,
    *,
    beam_size: int,
    language: str,
    words: bool = False,
    hotwords: str | None = None,
) -> list[WindowSegment]:
    """The full-window decode both decoders fall back to: faster-whisper's
    ``transcribe()`` (30 s windows, timestamps) with the given beam size.

    Deterministic: faster-whisper's temperature fallback samples (CTranslate2's
    generator cannot be reseeded per call), so the same audio could give another
    text on the next run, and a paired eval would see noise as a regression. A
    window that fails faster-whisper's own thresholds is decoded once more by beam
    search (5 beams), and the more confident text wins. (The retry may repeat
    n-grams: a ban would forbid digit strings such as "five five five five".)
    ``hotwords``: a vocabulary's prompt text (:func:`hearthvox.engines.biasing.prompt_text`)."""

    def attempt(beam: int) -> list[Any]:
        segments, _info = model.transcribe(
            x,
            language=language if model.model.is_multilingual else None,
            beam_size=beam,
            temperature=0.0,
            vad_filter=False,
            word_timestamps=words,
            hotwords=hotwords,
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


@dataclass(frozen=True)
class CascadeOptions:
    """When the larger model (Whisper base) decodes an utterance again: the small
    model's own confidence says so, on utterances where the larger one is better
    (docs/evaluation.md, "The cascade"; tuned on the dev split)."""

    enabled: bool = False
    """``[asr] cascade``: a bundle setting, so ``models promote`` gates it."""
    logprob_below: float = -0.8
    """The small decode's mean token log probability under which it escalates."""
    min_words: int = 3
    """Shorter texts stay (Whisper base reads single command words worse)."""


_SPELLED = re.compile(r"^[\W\d_]*$|^(?:\w[\W_]*){1,2}$")


def escalate(first: AsrResult, text: str, opts: CascadeOptions) -> bool:
    """Whether the larger model should decode this utterance again: the small model's
    first decode fell back to the full window (a guard tripped) or was unsure, and
    its text is a sentence (``min_words`` words or more, not only digits or
    spelled letters, which the larger model reads no better)."""
    if not opts.enabled or not text:
        return False
    words = text.split()
    if len(words) < opts.min_words or all(_SPELLED.match(w) for w in words):
        return False
    unsure = first.avg_logprob is not None and first.avg_logprob < opts.logprob_below
    return first.fallback is not None or unsure


class Recogniser(Protocol):
    @property
    def executor(self) -> EngineExecutor: ...
    def transcribe(self, audio: Int16Array) -> AsrResult: ...


@dataclass(frozen=True)
class _Bias:
    """One vocabulary's prompt for both decodes, and the correction's terms."""

    vocabulary: Vocabulary
    lean_prompt: list[int]
    hotwords: str | None


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
        bias: BiasOptions | None = None,
        cascade: CascadeOptions | None = None,
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
        self.bias = bias or BiasOptions()
        self._known_word = whole_token_words(tokenizer)
        self._skill_vocabulary = Vocabulary()
        self.cascade = cascade or CascadeOptions()
        self.second: WhisperAsr | None = None
        """The larger model of the cascade, once loaded (:meth:`attach_second`)."""
        self._biases: dict[Vocabulary, _Bias] = {}
        self.executor = EngineExecutor("asr")
        """The model's own thread (a retuned copy shares it); the cascade's second model
        runs there too, inside :meth:`transcribe`."""

    def retuned(
        self,
        *,
        beam_size: int,
        decode: Decode,
        bias: BiasOptions,
        cascade: CascadeOptions,
    ) -> WhisperAsr:
        """The same loaded model (and second model, if any) with other decoding
        settings: a SIGHUP that changes only those loads nothing."""
        other = copy.copy(self)
        other.beam_size = beam_size
        other.decode = decode
        other.bias = bias
        other.cascade = cascade
        other._biases = {}
        if self.second is not None:
            other.second = self.second.retuned(
                beam_size=beam_size, decode=decode, bias=bias, cascade=CascadeOptions()
            )
        return other

    @property
    def skill_vocabulary(self) -> Vocabulary:
        """The skills' own words: they join a user's or a request's list, never alone."""
        return self._skill_vocabulary

    @skill_vocabulary.setter
    def skill_vocabulary(self, vocabulary: Vocabulary) -> None:
        self._skill_vocabulary = vocabulary
        self._biases.clear()
        if self.second is not None:
            self.second.skill_vocabulary = vocabulary

    def attach_second(self, second: WhisperAsr) -> None:
        """Use ``second`` (a larger model, loaded with the same bias options) for the
        utterances :func:`escalate` picks. Called from the thread that loaded it."""
        second.skill_vocabulary = self._skill_vocabulary
        self.second = second

    def _bias_for(self, extra: Vocabulary | None) -> _Bias | None:
        """The prompt and terms for the user's list plus ``extra`` (a request's)."""
        listed = self.bias.vocabulary.merged(extra) if extra else self.bias.vocabulary
        if not listed:
            return None
        vocabulary = listed.merged(self.skill_vocabulary)
        found = self._biases.get(vocabulary)
        if found is None:
            tokens = prompt_tokens(vocabulary, self._tokenizer) if self.bias.prompt else []
            hotwords = prompt_text(vocabulary, self._tokenizer) if self.bias.prompt else None
            found = _Bias(vocabulary, [*tokens, *self._prompt], hotwords)
            if len(self._biases) >= 8:  # a request's list is one of many: keep a few
                self._biases.pop(next(iter(self._biases)))
            self._biases[vocabulary] = found
        return found

    @property
    def model(self) -> Any:
        """The faster-whisper ``WhisperModel`` (its ``.model`` is the CTranslate2 Whisper)."""
        return self._model

    def transcribe(
        self, audio: Int16Array, *, fallback: bool = True, vocabulary: Vocabulary | None = None
    ) -> AsrResult:
        """Transcribe mono 16 kHz audio; returns the text stripped of edge spaces.

        ``fallback=False`` (a speculative decode): when a lean guard trips, give up at
        once with an empty text and ``fallback`` naming the guard, instead of
        decoding the full window. ``vocabulary``: a request's own list, added to the
        user's for this call."""
        duration_s = len(audio) / RATE_HZ
        if len(audio) == 0:
            return AsrResult("", 0.0, "lean" if self.decode == "lean" else "full")
        x = audio.astype(np.float32) / 32768.0
        bias = self._bias_for(vocabulary)
        try:
            first = self._decode(x, duration_s, fallback, None)
            result = first
            if bias is not None and first.text:
                result = self._biased(x, duration_s, fallback, first, bias)
            second = self.second
            if second is not None and escalate(first, result.text, self.cascade):
                t0 = time.perf_counter()
                larger = second.transcribe(audio, fallback=fallback, vocabulary=vocabulary)
                spent = ("asr_second", round((time.perf_counter() - t0) * 1000.0, 1))
                if larger.text or not fallback:
                    return dataclasses.replace(
                        larger, model="large", extra_ms=(*result.extra_ms, spent)
                    )
                return dataclasses.replace(result, extra_ms=(*result.extra_ms, spent))
            return result
        except EngineError:
            raise
        except Exception as exc:  # any failure in decoding is this turn's error
            raise EngineError(f"transcription failed: {exc}") from exc

    def _decode(
        self, x: Float32Array, duration_s: float, fallback: bool, bias: _Bias | None
    ) -> AsrResult:
        """One decode: lean (then the full window when a guard trips), or full."""
        if self.decode == "lean" and duration_s <= self.lean.max_audio_s:
            text, reason, cut, logprob, encoded, frames = self._lean_decode(x, duration_s, bias)
            if reason is None:
                return AsrResult(
                    text, duration_s, "lean_cut" if cut else "lean", avg_logprob=logprob
                )
            if not fallback:
                looped = one_unit_repeated(text) if reason == "repetition" else None
                return AsrResult("", duration_s, "lean", fallback=reason, looped=looped)
            log.debug("lean decode fell back to the full window: %s", reason)
            text, logprob = self._full_decode(x, bias)
            if (
                reason == "low_confidence"
                and self.bias.digits
                and duration_s <= DIGIT_MAX_S
                and digit_candidate(text)
            ):
                text = self._digit_word(encoded, frames, text)
            return AsrResult(text, duration_s, "full", fallback=reason, avg_logprob=logprob)
        text, logprob = self._full_decode(x, bias)
        return AsrResult(text, duration_s, "full", avg_logprob=logprob)

    def _biased(
        self, x: Float32Array, duration_s: float, fallback: bool, first: AsrResult, bias: _Bias
    ) -> AsrResult:
        """The correction of the plain text; a prompted decode when it holds a suspect
        (:mod:`hearthvox.engines.biasing`)."""
        threshold, known = self.bias.threshold, self._known_word
        fixed = correct(first.text, bias.vocabulary, threshold, known)
        result = dataclasses.replace(first, text=fixed.text, corrected=len(fixed.terms))
        if not self.bias.prompt or not suspect(first.text, bias.vocabulary, SUSPECT, known):
            return result
        t0 = time.perf_counter()
        second = self._decode(x, duration_s, fallback, bias)
        spent = (("asr_prompted", round((time.perf_counter() - t0) * 1000.0, 1)),)
        fixed2 = correct(second.text, bias.vocabulary, threshold, known)
        if prefer_second(result.text, fixed2.text, bias.vocabulary):
            return dataclasses.replace(
                second,
                text=fixed2.text,
                corrected=len(fixed2.terms),
                prompted="taken",
                extra_ms=spent,
            )
        return dataclasses.replace(result, prompted="kept", extra_ms=spent)

    def transcribe_full(self, audio: Int16Array) -> AsrResult:
        """The reference decode: faster-whisper ``transcribe`` on the 30 s window."""
        duration_s = len(audio) / RATE_HZ
        if len(audio) == 0:
            return AsrResult("", 0.0)
        try:
            text, _ = self._full_decode(audio.astype(np.float32) / 32768.0)
            return AsrResult(text, duration_s)
        except Exception as exc:  # any failure in decoding is this turn's error
            raise EngineError(f"transcription failed: {exc}") from exc

    def _lean_decode(self, x: Float32Array, duration_s: float, bias: _Bias | None = None) -> _Lean:
        """The text, why it must fall back (or None), whether a loop was cut, the mean log
        probability, and the encoder output it was decoded from."""
        import ctranslate2

        opts = self.lean
        prompt = bias.lean_prompt if bias is not None else self._prompt
        padded = np.concatenate([x, np.zeros(int(RATE_HZ * opts.margin_s), dtype=np.float32)])
        features = self._model.feature_extractor(padded, padding=0)
        frames = features.shape[-1] - features.shape[-1] % 2  # the encoder halves the frames
        batch = np.ascontiguousarray(features[None, :, :frames], dtype=np.float32)
        budget = token_budget(duration_s, opts.guard)
        # encoded once (and left on its device): the digit words are scored on it too
        encoded = self._model.model.encode(ctranslate2.StorageView.from_array(batch))
        result = self._model.model.generate(
            encoded,
            [prompt],
            beam_size=1,
            max_length=len(prompt) + budget,
            return_scores=True,
            suppress_blank=True,
            suppress_tokens=[-1],
        )[0]
        eot = self._tokenizer.eot
        tokens = [t for t in result.sequences_ids[0] if t < eot]
        text = self._tokenizer.decode(tokens)
        avg_logprob = float(result.scores[0]) if result.scores else 0.0
        verdict = judge(text, len(tokens), budget, avg_logprob, duration_s, opts.guard)
        return _Lean(verdict.text, verdict.fallback, verdict.loop_cut, avg_logprob, encoded, frames)

    def _digit_word(self, encoded: Any, frames: int, text: str) -> str:
        """``text``, or the digit word that Whisper's own token probabilities on this
        audio score higher (summed log probability, :data:`DIGIT_FORMS`)."""
        import ctranslate2

        if encoded.device != "cpu":  # one row per text: repeated on the host
            encoded = encoded.to_device(ctranslate2.Device.cpu)
        tok = self._tokenizer
        texts = [" " + text, *DIGIT_FORMS]
        sequences = [tok.encode(t) for t in texts]
        found = self._model.model.align(
            ctranslate2.StorageView.from_array(
                np.ascontiguousarray(np.repeat(np.asarray(encoded), len(texts), axis=0))
            ),
            self._prompt,
            sequences,
            [frames] * len(texts),
        )
        scores = [
            float(np.sum(np.log(np.maximum(np.asarray(r.text_token_probs), 1e-9)))) for r in found
        ]
        best = max(range(1, len(texts)), key=scores.__getitem__)
        return texts[best].strip() if scores[best] > scores[0] + DIGIT_MARGIN else text

    def _full_decode(self, x: Float32Array, bias: _Bias | None = None) -> tuple[str, float]:
        """(text, mean log probability of its segments)."""
        found = decode_window(
            self._model,
            x,
            beam_size=self.beam_size,
            language=self.language,
            hotwords=bias.hotwords if bias is not None else None,
        )
        logprob = sum(seg.avg_logprob for seg in found) / len(found) if found else LOG_PROB_MIN
        return " ".join(seg.text for seg in found).strip(), logprob
