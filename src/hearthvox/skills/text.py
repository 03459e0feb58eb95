"""Text normalization shared by every skill (Whisper output in, plain words out)."""

from __future__ import annotations

import re
import unicodedata

_IRREGULAR = {"won't": "will not", "can't": "can not", "cannot": "can not", "ain't": "is not"}
_IS_CONTRACTION = re.compile(r"\b(what|it|that|there|here|how|who|where|when|why|he|she|this)'s\b")
_SUFFIXES = (
    ("n't", " not"),
    ("'re", " are"),
    ("'ll", " will"),
    ("'ve", " have"),
    ("'m", " am"),
    ("'d", " would"),
)
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_NOT_WORD = re.compile(r"[^a-z0-9.]+")
_STRAY_DOT = re.compile(r"(?<!\d)\.|\.(?!\d)")
_DIGIT_LETTER = re.compile(r"(?<=\d)(?=[a-z])")


def normalize(text: str) -> str:
    """Lower-case ``text``, expand contractions, strip punctuation, collapse spaces.

    ``" What's the time?"`` -> ``"what is the time"``; ``"today's date"`` ->
    ``"today date"`` (a possessive ``'s`` is dropped); ``"10-minute"`` ->
    ``"10 minute"``; ``"5min"`` -> ``"5 min"``. Decimal points between digits
    survive (``"1.5 hours"``) and thousands separators go (``"1,000"`` -> ``"1000"``).
    """
    out = unicodedata.normalize("NFKC", text).translate(_QUOTES).lower()
    for word, full in _IRREGULAR.items():
        out = re.sub(rf"\b{re.escape(word)}", full, out)
    out = _IS_CONTRACTION.sub(r"\1 is", out)
    out = out.replace("let's", "let us")
    for suffix, full in _SUFFIXES:
        out = out.replace(suffix, full)
    out = out.replace("'s", "").replace("'", "")
    out = _THOUSANDS.sub("", out)
    out = _NOT_WORD.sub(" ", out)
    out = _STRAY_DOT.sub(" ", out)
    out = _DIGIT_LETTER.sub(" ", out)
    return " ".join(out.split())
