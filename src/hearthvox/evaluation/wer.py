"""Word error rate over normalised text: Whisper's English normaliser plus a rule for
codes, spelled letters and digit strings.

``normalize`` turns a text into the words that are compared:

1. Product codes and other letter-digit tokens are spelled out first, however they
   were written (``XJ-4471``, ``XJ4471``, ``XJ 4471``, ``UMNYH6``): one letter or
   one digit word at a time (``x j four four seven one``).
2. ``whisper-normalizer``'s English normaliser (the one Whisper's papers score
   with): lower case, no punctuation, British spellings and contractions made
   uniform, numbers in words and in digits brought to digits (``fifteen hundred
   dollars`` and ``1500 dollars`` both become ``$1500``, ``one zero zero`` ``100``).
3. Every token holding a digit is split into its digits, one word each
   (``$1500`` -> ``$ 1 5 0 0``, ``100`` -> ``1 0 0``, ``21st`` -> ``2 1 st``): a
   digit string is scored digit by digit, as people read phone numbers, codes and zip codes, and
   ``u m n y h six`` equals ``UMNYH6``.

A code written as one word of letters only (``UMNYH`` for ``u m n y h``) stays one
word; :func:`letters_digits` (the letters and digits joined, spaces dropped) judges
those by exact match.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

_ONES = "zero one two three four five six seven eight nine".split()
_SPELLING = {"ok": "okay"}

# a code: letters joined to digits (XJ4471, XJ-4471, 4471-B, UMNYH6), or upper-case
# letters before digits (XJ 4471); the letters are short, as in product or part codes
_CODE = re.compile(
    r"\b(?:[A-Za-z]{1,6}-?\d+(?:-?[A-Za-z0-9]+)*|\d+-?[A-Za-z]{1,3}\b|[A-Z]{1,3} \d+)\b"
)
_ORDINAL = re.compile(r"^\d+(?:st|nd|rd|th)$")
_DIGIT_RUN = re.compile(r"\b\d(?: \d)+\b")  # "4 4 7 1": one digit string
_PIECES = re.compile(r"\d|\D+")
_OCLOCK = re.compile(r"\bo['’]?clock\b", re.IGNORECASE)


@cache
def _normaliser() -> Any:
    from whisper_normalizer.english import EnglishTextNormalizer

    return EnglishTextNormalizer()


def _spell_code(match: re.Match[str]) -> str:
    text = match.group(0)
    if _ORDINAL.match(text.lower()):
        return text  # 3rd, 21st: ordinals, not codes
    return " ".join(_ONES[int(c)] if c.isdigit() else c for c in text if c.isalnum())


def normalize(text: str) -> list[str]:
    """The words that are compared (see the module's docstring)."""
    text = _OCLOCK.sub("oclock", text)  # not "o" as the digit 0
    text = _CODE.sub(_spell_code, _DIGIT_RUN.sub(lambda m: m.group(0).replace(" ", ""), text))
    words: list[str] = []
    for word in str(_normaliser()(text)).split():
        if any(c.isdigit() for c in word):
            words.extend(_PIECES.findall(word))  # "$1500" -> $ 1 5 0 0, "21st" -> 2 1 st
        else:
            words.append(_SPELLING.get(word, word))
    return words


def letters_digits(text: str) -> str:
    """The normalised letters and digits of *text*, spaces and symbols dropped: what an
    alphanumeric utterance must get exactly right (``U M N Y H SIX`` -> ``umnyh6``).

    The letter O and the digit 0 are one symbol (``o``): spoken, "oh" is either,
    and the normaliser reads a lone ``O`` as zero, so ``B O R O`` (``b0r0``) could
    never match a right ``BORO``."""
    return "".join(c for c in "".join(normalize(text)) if c.isalnum()).replace("0", "o")


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(edits, reference words) of one pair, both normalised."""
    ref = normalize(reference)
    return edit_distance(ref, normalize(hypothesis)), len(ref)


def word_error_rate(pairs: Iterable[tuple[str, str]]) -> float:
    """Corpus WER over ``(reference, hypothesis)`` pairs: total edits / total reference words."""
    edits = words = 0
    for ref, hyp in pairs:
        e, n = word_errors(ref, hyp)
        edits += e
        words += n
    return edits / words if words else 0.0


def entity_found(entity: str, hypothesis: str) -> bool:
    """Whether *entity* (a name or product code) was heard right: its normalised words
    appear in order in the normalised *hypothesis*, spaces between them ignored (so
    ``xj 4 4 7 1`` and ``X.J. 4471`` both hold ``XJ-4471``)."""
    want = "".join(normalize(entity))
    return not want or want in "".join(normalize(hypothesis))


def term_said(term: str, text: str) -> bool:
    """Whether a listed *term* is in *text*: a run of its normalised words that, joined,
    is the term's normalised words joined (whole words only: "Ann" is not in "planning")."""
    want = "".join(normalize(term))
    words = normalize(text)
    if not want:
        return False
    for i in range(len(words)):
        joined = ""
        for word in words[i:]:
            joined += word
            if joined == want:
                return True
            if not want.startswith(joined):
                break
    return False


def false_insertions(terms: Iterable[str], reference: str, hypothesis: str) -> int:
    """Listed terms the hypothesis holds and the reference does not."""
    return sum(term_said(t, hypothesis) and not term_said(t, reference) for t in terms)
