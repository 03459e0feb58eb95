"""Spoken durations: parse "a minute and a half" to 90.0, say 270 as "4 minutes and 30 seconds".

The parser works on normalized tokens (see :func:`hearthvox.skills.base.normalize`).
A duration is one or more contiguous groups of ``<quantity> <unit>``, optionally
joined by "and", where a quantity is digits ("90", "1.5"), number words ("twenty
five", "a hundred and twenty"), an article ("a minute", "an hour"), a fraction
("half an hour", "a quarter of an hour", "three quarters of an hour", "two and a
half minutes") or "a couple of". A unit may be followed by "and a half"
("an hour and a half"). A bare number right after a group takes the next smaller
unit ("one hour thirty", "a minute thirty").
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from hearthvox.skills.text import normalize

_SMALL = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fourty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_UNITS = {
    "hour": 3600.0,
    "hours": 3600.0,
    "hr": 3600.0,
    "hrs": 3600.0,
    "minute": 60.0,
    "minutes": 60.0,
    "min": 60.0,
    "mins": 60.0,
    "second": 1.0,
    "seconds": 1.0,
    "sec": 1.0,
    "secs": 1.0,
}
# single letters only count straight after digits ("5 m", from "5m")
_LETTER_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0}
_NEXT_SMALLER = {3600.0: 60.0, 60.0: 1.0}
_DIGITS = re.compile(r"\d+(?:\.\d+)?")
_FRACTIONS = {"half": 0.5, "quarter": 0.25}


@dataclass(frozen=True)
class DurationMatch:
    """A duration found in a token list: ``tokens[start:end]`` said ``seconds``."""

    seconds: float
    start: int
    end: int


@dataclass(frozen=True)
class _Quantity:
    value: float
    end: int
    numeric: bool  # written in digits (lets "5 m" use a one-letter unit)
    article: bool  # just "a" / "an"
    fraction: bool  # "half" / "quarter" / "couple": may be followed by "of a(n)"


def _word_number(tokens: list[str], i: int) -> tuple[float, int] | None:
    """Greedy number words: "twenty five", "one hundred and twenty", "ninety"."""
    total = 0
    last: str | None = None  # kind of the last token: small, tens, hundred
    j = i
    while j < len(tokens):
        word = tokens[j]
        if word in ("a", "one") and j == i and tokens[j + 1 : j + 2] == ["hundred"]:
            total = 1
            last = "small"
        elif word in _SMALL and (
            last is None or last == "hundred" or (last == "tens" and _SMALL[word] < 10)
        ):
            total += _SMALL[word]
            last = "small"
        elif word in _TENS and last in (None, "hundred"):
            total += _TENS[word]
            last = "tens"
        elif word == "hundred" and last == "small" and 0 < total < 10:
            total *= 100
            last = "hundred"
        elif (
            word == "and"
            and last == "hundred"
            and j + 1 < len(tokens)
            and (tokens[j + 1] in _SMALL or tokens[j + 1] in _TENS)
        ):
            pass
        else:
            break
        j += 1
    return (float(total), j) if j > i else None


def _quantity(tokens: list[str], i: int) -> _Quantity | None:
    n = len(tokens)
    word = tokens[i]
    after = tokens[i + 1] if i + 1 < n else ""
    if word in ("a", "an"):
        if after == "hundred":
            parsed = _word_number(tokens, i)
            if parsed is None:
                return None
            q = _Quantity(parsed[0], parsed[1], False, False, False)
        elif after == "couple":
            q = _Quantity(2.0, i + 2, False, False, True)
        elif after in _FRACTIONS:
            q = _Quantity(_FRACTIONS[after], i + 2, False, False, True)
        else:
            return _Quantity(1.0, i + 1, False, True, False)
    elif word == "couple":
        q = _Quantity(2.0, i + 1, False, False, True)
    elif word in _FRACTIONS:
        q = _Quantity(_FRACTIONS[word], i + 1, False, False, True)
    elif _DIGITS.fullmatch(word):
        q = _Quantity(float(word), i + 1, True, False, False)
    else:
        parsed = _word_number(tokens, i)
        if parsed is None:
            return None
        q = _Quantity(parsed[0], parsed[1], False, False, False)
    j = q.end
    # "three quarters (of an hour)"
    if not q.fraction and j < n and tokens[j] in ("quarter", "quarters"):
        return _Quantity(q.value * 0.25, j + 1, False, False, True)
    # "two and a half minutes" (only when a unit follows the half)
    if tokens[j : j + 3] in (["and", "a", "half"], ["and", "a", "quarter"]):
        if j + 3 < n and tokens[j + 3] in _UNITS:
            return _Quantity(q.value + _FRACTIONS[tokens[j + 2]], j + 3, False, False, False)
    return q


def _unit(tokens: list[str], j: int, q: _Quantity) -> tuple[float, int] | None:
    """The unit at ``tokens[j]`` (after "of a(n)" for fractions): (seconds, end)."""
    if q.fraction:
        if j < len(tokens) and tokens[j] == "of":
            j += 1
        if j < len(tokens) and tokens[j] in ("a", "an"):
            j += 1
    if j >= len(tokens):
        return None
    word = tokens[j]
    if word in _UNITS:
        return _UNITS[word], j + 1
    if q.numeric and word in _LETTER_UNITS:
        return _LETTER_UNITS[word], j + 1
    return None


def _group(tokens: list[str], i: int) -> tuple[float, float, int] | None:
    """One ``<quantity> <unit> [and a half]`` group at ``i``: (seconds, unit, end)."""
    q = _quantity(tokens, i)
    if q is None:
        return None
    unit = _unit(tokens, q.end, q)
    if unit is None:
        return None
    size, j = unit
    # "a second timer" is an ordinal, not one second
    if q.article and size == 1.0 and j < len(tokens) and tokens[j] in ("timer", "one"):
        return None
    seconds = q.value * size
    if tokens[j : j + 3] in (["and", "a", "half"], ["and", "a", "quarter"]):
        seconds += _FRACTIONS[tokens[j + 2]] * size
        j += 3
    return seconds, size, j


def find_duration(tokens: list[str]) -> DurationMatch | None:
    """The first spoken duration in ``tokens`` (normalized words), or ``None``."""
    for start in range(len(tokens)):
        first = _group(tokens, start)
        if first is None:
            continue
        total, size, end = first
        while end < len(tokens):
            nxt = end + 1 if tokens[end] == "and" else end
            if nxt >= len(tokens):
                break
            group = _group(tokens, nxt)
            if group is not None:
                total += group[0]
                size, end = group[1], group[2]
                continue
            # "one hour thirty": a bare number takes the next smaller unit
            smaller = _NEXT_SMALLER.get(size)
            bare = _quantity(tokens, nxt)
            if smaller is not None and bare is not None and not bare.article:
                total += bare.value * smaller
                end = bare.end
            break
        return DurationMatch(total, start, end)
    return None


def parse_duration(text: str) -> float | None:
    """Seconds in the first spoken duration in ``text``, or ``None`` when it has none."""
    match = find_duration(normalize(text).split())
    return None if match is None else match.seconds


def _parts(seconds: float) -> list[tuple[int, str]]:
    total = max(0, int(round(seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(v, u) for v, u in ((hours, "hour"), (minutes, "minute"), (secs, "second")) if v]
    return parts or [(0, "second")]


def say_duration(seconds: float) -> str:
    """``270`` -> "4 minutes and 30 seconds"; ``3900`` -> "1 hour and 5 minutes".

    Rounds to the nearest second; three parts read "1 hour, 2 minutes and 3 seconds".
    """
    words = [f"{v} {u}" if v == 1 else f"{v} {u}s" for v, u in _parts(seconds)]
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " and " + words[-1]


def duration_adjective(seconds: float) -> str:
    """The duration as a timer's name: ``300`` -> "5 minute", ``90`` -> "1 minute 30 second"."""
    return " ".join(f"{v} {u}" for v, u in _parts(seconds))


def ceil_seconds(seconds: float) -> float:
    """Round a time left up to whole seconds (a running timer never says "0 seconds")."""
    return float(max(0, math.ceil(seconds - 1e-9)))
