"""Decode guards shared by the live (lean) decoder and the batch decoder.

Whisper was trained on 30-second windows. Fed only the real audio (plus a short
margin of silence) it is several times faster, but greedy decoding sometimes
loops: it starts the sentence over, or repeats one short token until the token
limit (``0. 0. 0. 0. 0``). :func:`judge` decides whether a decode is kept, cut to
one copy of a restarted sentence, or handed to the full-window decode
(faster-whisper's ``transcribe()`` at temperature 0, once more with 5 beams
when the window fails: deterministic). Both decoders
call it; their thresholds differ by :class:`GuardOptions` (:data:`LIVE_GUARD`,
:data:`BATCH_GUARD`), not by code. All of it is plain text logic, tested
without a model.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_SENTENCE_END = (".", "?", "!")
_JOINERS = ("-", ",")
_KEY = re.compile(r"[^a-z0-9']+")


@dataclass(frozen=True)
class GuardOptions:
    """When a decode is kept and when it goes to the full-window decode."""

    tokens_per_s: float = 6.0
    """Token budget per second of audio (people say ~3-4 tokens a second)."""
    min_tokens: int = 8
    """Token budget floor, for very short commands."""
    min_avg_logprob: float = -1.0
    """A decode less confident than this falls back to the full window."""
    max_words_per_s: float = 7.0
    """More words a second than anyone speaks: a hallucination, fall back."""
    repeat_times: int = 3
    """A run of one to ``repeat_words`` words said this many times in a row is a loop."""
    repeat_words: int = 2
    """The longest unit :attr:`repeat_times` counts; longer units are sentence loops."""
    restart_words: int = 3
    """A restarted sentence of at least this many words is cut to one copy and kept."""


LIVE_GUARD = GuardOptions()
"""The live decoder: text tokens only (no timestamps)."""
BATCH_GUARD = GuardOptions(tokens_per_s=10.0, min_tokens=16)
"""The batch decoder: its budget also pays for timestamp tokens."""


def token_budget(duration_s: float, opts: GuardOptions) -> int:
    """The most tokens a decode of ``duration_s`` of audio may produce."""
    return opts.min_tokens + math.ceil(opts.tokens_per_s * max(0.0, duration_s))


def _keys(words: list[str]) -> list[str]:
    return [_KEY.sub("", w.lower()) for w in words]


def repeated_run(text: str, opts: GuardOptions = LIVE_GUARD) -> str | None:
    """The first unit of at most ``repeat_words`` words said ``repeat_times`` times or
    more in a row (``0. 0. 0`` -> ``0``), or None. Punctuation and case are ignored;
    ``1111`` is one word, not a repetition."""
    keys = [k for k in _keys(text.split()) if k]
    times = max(2, opts.repeat_times)
    for size in range(1, max(1, opts.repeat_words) + 1):
        for start in range(len(keys) - size * times + 1):
            unit = keys[start : start + size]
            if all(keys[start + k * size : start + (k + 1) * size] == unit for k in range(times)):
                return " ".join(unit)
    return None


def one_unit_repeated(text: str, opts: GuardOptions = LIVE_GUARD) -> str | None:
    """The words of ``text`` when it is nothing but one unit of at most ``repeat_words``
    words said twice or more (``Stop Stop Stop`` -> ``Stop``, ``Yes. Yes.`` -> ``Yes.``;
    the last copy may stop part way), else None."""
    words = text.split()
    keys = _keys(words)
    for size in range(1, max(1, opts.repeat_words) + 1):
        unit = keys[:size]
        if len(keys) < 2 * size or not all(unit):
            continue
        copies = [keys[i : i + size] for i in range(0, len(keys), size)]
        if all(c == unit for c in copies[:-1]) and _same(copies[-1], unit[: len(copies[-1])]):
            return " ".join(words[:size])
    return None


@dataclass(frozen=True)
class LoopCut:
    text: str
    """The text with the loop removed (one copy kept)."""
    clean: bool
    """The loop restarts a whole sentence (``A. A. A`` ...): the first copy is trustworthy."""


def _same(tail: list[str], head: list[str]) -> bool:
    """``tail`` repeats ``head``; its last word may stop part way (``624`` -> ``6``)."""
    if len(tail) != len(head) or not tail:
        return len(tail) == len(head)
    return tail[:-1] == head[:-1] and head[-1].startswith(tail[-1]) and tail[-1] != ""


def cut_loop(text: str, min_repeat_words: int = 3) -> LoopCut | None:
    """Find a tail that repeats itself (period ``p`` words, at least ``min_repeat_words``
    words repeated, the last copy possibly truncated, even inside its last word) and
    cut it to one copy.

    Returns None when the text has no such loop.
    """
    words = text.split()
    keys = _keys(words)
    n = len(keys)
    for end in range(1, n):  # "S. <a prefix of S>": Whisper restarting the sentence
        if words[end - 1].endswith(_SENTENCE_END) and _same(keys[end:], keys[: n - end]):
            return LoopCut(" ".join(words[:end]), clean=True)
    for start in range(n):
        for period in range(1, n - start - min_repeat_words + 1):
            if _same(keys[start + period :], keys[start : n - period]):
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
    opts: GuardOptions,
) -> Verdict:
    """Keep a decode, cut a restarted sentence to one copy, or ask for the full window.

    In order: nothing said (``empty``); a sentence of ``restart_words`` or more said
    again (cut, kept); a short unit repeated (``repetition``); any other loop
    (``repetition``); the budget used up (``token_budget``); low confidence
    (``low_confidence``); more words than anyone says in the time (``too_many_words``);
    a text that stops on a joiner, as in ``P-I-T-T-S-`` (``truncated``).
    """
    text = text.strip()
    if not text:
        return Verdict(text, "empty")
    loop = cut_loop(text)
    if loop is not None and loop.clean and len(loop.text.split()) >= opts.restart_words:
        if repeated_run(loop.text, opts) is None:
            return Verdict(loop.text, None, loop_cut=True)
    if repeated_run(text, opts) is not None or loop is not None:
        return Verdict(text, "repetition")
    if n_tokens >= budget:
        return Verdict(text, "token_budget")
    if avg_logprob < opts.min_avg_logprob:
        return Verdict(text, "low_confidence")
    if len(text.split()) > opts.max_words_per_s * max(duration_s, 1.0):
        return Verdict(text, "too_many_words")
    if text.endswith(_JOINERS):
        return Verdict(text, "truncated")
    return Verdict(text, None)
