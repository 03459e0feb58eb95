"""Word error rate with a normaliser for case, punctuation, numbers and product codes.

``normalize`` turns a text into the words that are compared: lower case, no
punctuation, digits spelled out (``5`` -> ``five``, ``4,471`` -> ``four four seven
one``, ``3rd`` -> ``third``), common abbreviations expanded, and product codes spelled character by
character, however they were written (``XJ-4471``, ``XJ4471``, ``XJ 4471`` and
``X J 4 4 7 1`` all become ``x j four four seven one``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen \
fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SPELLING = {"ok": "okay", "mr": "mister", "mrs": "missus", "dr": "doctor"}

# a code: letters joined to digits (XJ4471, XJ-4471, 4471-B), or upper-case letters
# before digits (XJ 4471); the letters are short, as in product or part codes
_CODE = re.compile(
    r"\b(?:[A-Za-z]{1,3}-?\d+(?:-?[A-Za-z0-9]+)*|\d+-?[A-Za-z]{1,3}\b|[A-Z]{1,3} \d+)\b"
)
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_ORDINAL = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b", re.IGNORECASE)
_ORDINAL_WORDS = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}


def _number_words(n: int) -> str:
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + ("" if ones == 0 else " " + _ONES[ones])
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return _ONES[hundreds] + " hundred" + ("" if rest == 0 else " " + _number_words(rest))
    return " ".join(_ONES[int(d)] for d in str(n))


def _ordinal(match: re.Match[str]) -> str:
    *head, last = _number_words(int(match.group(1))).split()
    if last in _ORDINAL_WORDS:
        last = _ORDINAL_WORDS[last]
    else:
        last = last[:-1] + "ieth" if last.endswith("y") else last + "th"
    return " ".join([*head, last])


def _spell_code(match: re.Match[str]) -> str:
    return " ".join(_ONES[int(c)] if c.isdigit() else c for c in match.group(0) if c.isalnum())


def normalize(text: str) -> list[str]:
    """Lower case, no punctuation, digits spelled out, common abbreviations expanded,
    product codes spelled out one character at a time."""
    text = _THOUSANDS.sub("", text)
    text = _ORDINAL.sub(_ordinal, text)
    text = _CODE.sub(_spell_code, text)
    text = text.lower().replace("'", "")
    text = re.sub(r"[^a-z0-9]+", " ", text)
    words: list[str] = []
    for word in text.split():
        if word.isdigit():
            words.extend(_number_words(int(word)).split())
        else:
            words.append(_SPELLING.get(word, word))
    return words


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
