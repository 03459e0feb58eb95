"""Guards for lean Whisper decoding: a token budget, a repetition cut, a sanity check.

Whisper was trained on 30-second windows. Fed only the real audio (plus a short
margin of silence) it is ~4x faster, but greedy decoding sometimes repeats the
sentence until the token limit. These pure functions decide what to keep and
when to fall back to the full-window decode. All of them are plain text logic,
tested without a model.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_SENTENCE_END = (".", "?", "!")
_KEY = re.compile(r"[^a-z0-9']+")


@dataclass(frozen=True)
class LeanOptions:
    """How lean decoding runs and when it gives up for the full window."""

    margin_s: float = 4.0
    """Silence appended after the audio: with it the model hears the end and stops
    (2 s is faster, but 4 s matched the full window's words on every corpus file)."""
    tokens_per_s: float = 6.0
    """Token budget per second of audio (people say ~3-4 tokens a second)."""
    min_tokens: int = 8
    """Token budget floor, for very short commands."""
    min_avg_logprob: float = -1.0
    """A decode less confident than this falls back to the full window."""
    max_words_per_s: float = 7.0
    """More words a second than anyone speaks: a hallucination, fall back."""
    max_audio_s: float = 25.0
    """Longer audio goes straight to the full-window decode."""


def token_budget(duration_s: float, opts: LeanOptions) -> int:
    """The most tokens a lean decode of ``duration_s`` of audio may produce."""
    return opts.min_tokens + math.ceil(opts.tokens_per_s * max(0.0, duration_s))


def _keys(words: list[str]) -> list[str]:
    return [_KEY.sub("", w.lower()) for w in words]


@dataclass(frozen=True)
class LoopCut:
    text: str
    """The text with the loop removed (one copy kept)."""
    clean: bool
    """The loop restarts a whole sentence (``A. A. A`` ...): the first copy is trustworthy."""


def cut_loop(text: str, min_repeat_words: int = 3) -> LoopCut | None:
    """Find a tail that repeats itself (period ``p`` words, at least ``min_repeat_words``
    words repeated, the last copy possibly truncated) and cut it to one copy.

    Returns None when the text has no such loop.
    """
    words = text.split()
    keys = _keys(words)
    n = len(keys)
    for end in range(1, n):  # "S. <a prefix of S>": Whisper restarting the sentence
        if words[end - 1].endswith(_SENTENCE_END) and keys[end:] == keys[: n - end]:
            return LoopCut(" ".join(words[:end]), clean=True)
    for start in range(n):
        for period in range(1, n - start - min_repeat_words + 1):
            if all(keys[j] == keys[j - period] for j in range(start + period, n)):
                kept = words[: start + period]
                last = kept[-1]
                clean = start == 0 and last.endswith(_SENTENCE_END)
                return LoopCut(" ".join(kept), clean)
    return None


@dataclass(frozen=True)
class Verdict:
    text: str
    fallback: str | None
    """Why the full window is needed (None: keep ``text``)."""
    loop_cut: bool = False


def judge(
    text: str,
    n_tokens: int,
    budget: int,
    avg_logprob: float,
    duration_s: float,
    opts: LeanOptions,
) -> Verdict:
    """Keep a lean decode, cut its loop, or ask for the full-window decode."""
    text = text.strip()
    loop = cut_loop(text)
    if loop is not None:
        if loop.clean:
            return Verdict(loop.text, None, loop_cut=True)
        return Verdict(text, "repetition")
    if n_tokens >= budget:
        return Verdict(text, "token_budget")
    if not text:
        return Verdict(text, "empty")
    if avg_logprob < opts.min_avg_logprob:
        return Verdict(text, "low_confidence")
    if len(text.split()) > opts.max_words_per_s * max(duration_s, 1.0):
        return Verdict(text, "too_many_words")
    return Verdict(text, None)
