"""Biasing Whisper towards a vocabulary (:mod:`hearthvox.vocabulary`).

Every decode is first the plain one (no prompt), then:

- **Correction**: a run of words of the transcript that sounds or reads like a
  listed term is replaced by the term's written form. A code (a term with a
  digit) must match its letters and digits exactly (``XJ 4 4 7 1``, ``xj4471``),
  or with one letter changed when it has at least five; a name is compared by its
  Metaphone key and its letters (``jellyfish``), over every written and spoken
  form, and must score at least ``[asr] correct_threshold``. A run of only common
  words, or only words that are one token of Whisper's vocabulary (ordinary
  words: "prank" is not "Priyanka"), never becomes a name.
- **A second, prompted decode** when the text holds a *suspect* (a run that scores
  at least :data:`SUSPECT` against a name, or a code that is not listed): the
  audio is decoded again with the listed terms as Whisper's previous-text prompt
  (``<|startofprev|> Zbigniew, XJ-4471, ...``; faster-whisper's ``hotwords`` on
  the full window), corrected the same way, and taken only when it holds more
  listed terms and about as much text (:func:`prefer_second`).

Prompting every decode was measured and not kept: on the eval's dev split it
halved the entity errors but raised clean WER by 5.6 points and wrote listed
names into single words ("six" became "Zbigniew"). The thresholds were tuned on
the dev split (docs/evaluation.md, "Names and codes").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import jellyfish

from hearthvox.vocabulary import Term, Vocabulary

PROMPT_TOKENS = 96
"""Tokens of listed terms in the prompt (Whisper allows 223; the rest is the turn's)."""
MAX_RUN = 3
"""Words of the transcript one name may replace."""
MAX_CODE_RUN = 12
"""... and one code (spelled out: "X J 4 4 7 1")."""
SUSPECT = 0.7
"""A run this close to a name (or an unlisted code) makes a suspect: decode again with
the prompt (tuned on the eval's dev split with :data:`CORRECT_THRESHOLD`)."""
CORRECT_THRESHOLD = 0.9
"""The default ``[asr] correct_threshold`` (dev split: 0.85 let 2 listed names into 117
recordings that hold none, 0.9 one)."""
SECOND_MIN_RATIO, SECOND_MAX_RATIO = 0.6, 1.6
KNOWN_SUSPECT = 0.85
"""A run of ordinary words this close to a name is a suspect too ("Analysts")."""
MIN_LENGTH_RATIO = 0.75
"""A name's letters and the run's differ in length by at most this ratio."""

_WORD = re.compile(r"\S+")
_EDGE = re.compile(r"^([^\w]*)(.*?)([^\w]*)$", re.S)
_COMMON = frozenset(
    """a an the and or but if of in on at to for from by with as is are was were be been
    it its it's this that these those there here i me my you your we our he she they them
    his her their what who how when where why which not no yes so do does did can could
    will would should may might must have has had get got go went all any some one two
    up down out off over into than then too very just now new like""".split()
)
_DIGIT_WORDS = {
    w: str(i) for i, w in enumerate("zero one two three four five six seven eight nine".split())
}
_DIGIT_WORDS["oh"] = "0"


def prompt_text(vocabulary: Vocabulary, tokenizer: Any) -> str | None:
    """The terms, comma separated, cut to at most PROMPT_TOKENS tokens (whole terms)."""
    if not vocabulary:
        return None
    kept: list[str] = []
    used = 0
    for term in vocabulary.written():
        n = len(tokenizer.encode(" " + term + ","))
        if used + n > PROMPT_TOKENS:
            break
        kept.append(term)
        used += n
    return ", ".join(kept) if kept else None


def prompt_tokens(vocabulary: Vocabulary, tokenizer: Any) -> list[int]:
    """``<|startofprev|>`` and the prompt text's tokens; empty without a vocabulary."""
    text = prompt_text(vocabulary, tokenizer)
    if text is None:
        return []
    return [tokenizer.sot_prev, *tokenizer.encode(" " + text)]


def whole_token_words(tokenizer: Any) -> Callable[[str], bool]:
    """``known_word`` for :func:`correct`: the word (with its leading space) is one
    token of the tokenizer: a frequent word of the language."""

    @cache
    def known(word: str) -> bool:
        return len(tokenizer.encode(" " + word.lower())) == 1

    return known


def _alnum(text: str) -> str:
    """Letters and digits only, lower case; digit words (``four``) become digits."""
    out = []
    for word in text.lower().replace("-", " ").split():
        word = "".join(c for c in word if c.isalnum())
        out.append(_DIGIT_WORDS.get(word, word))
    return "".join(out)


@cache
def _metaphone(text: str) -> str:
    words = re.sub(r"[^a-z ]", " ", text.lower()).split()
    return "".join(jellyfish.metaphone(w) for w in words)


def _is_code(text: str) -> bool:
    return any(c.isdigit() for c in text)


@dataclass(frozen=True)
class _Form:
    """One written or spoken form of a term, as the matcher compares it."""

    term: Term
    letters: str  # letters and digits: "xj4471", "zbigniew"
    sound: str  # Metaphone of the words (names)


@dataclass(frozen=True)
class _Keys:
    """A vocabulary's forms, computed once: codes by their letters and digits, names
    with their Metaphone keys."""

    codes: dict[str, Term]
    codes_by_length: dict[int, list[tuple[str, Term]]]
    names: tuple[_Form, ...]
    longest_code_run: int


@cache
def _keys(vocabulary: Vocabulary) -> _Keys:
    codes: dict[str, Term] = {}
    by_length: dict[int, list[tuple[str, Term]]] = {}
    names: list[_Form] = []
    longest = 0
    for term in vocabulary.terms:
        for form in term.forms():
            letters = _alnum(form)
            if not letters:
                continue
            if _is_code(term.written):
                codes.setdefault(letters, term)
                by_length.setdefault(len(letters), []).append((letters, term))
                longest = max(longest, len(form.replace("-", " ").split()), len(letters))
            elif sound := _metaphone(form):
                names.append(_Form(term, letters, sound))
    return _Keys(codes, by_length, tuple(names), min(longest, MAX_CODE_RUN))


def _code_match(got: str, keys: _Keys) -> tuple[float, Term] | None:
    """1.0 for the same letters and digits; 0.9 for one letter changed (at least 5)."""
    if got in keys.codes:
        return 1.0, keys.codes[got]
    if len(got) < 5:
        return None
    for want, term in keys.codes_by_length.get(len(got), ()):
        diff = [(a, b) for a, b in zip(got, want, strict=True) if a != b]
        if len(diff) == 1 and not diff[0][0].isdigit() and not diff[0][1].isdigit():
            return 0.9, term
    return None


def _name_match(run: str, keys: _Keys) -> tuple[float, Term] | None:
    letters = _alnum(run)
    if len(letters) < 2 or _is_code(letters):
        return None
    sound = _metaphone(run)
    if not sound:
        return None
    best: tuple[float, Term] | None = None
    for form in keys.names:
        if min(len(letters), len(form.letters)) < MIN_LENGTH_RATIO * max(
            len(letters), len(form.letters)
        ):
            continue  # "prank" is not "Priyanka"
        score = 0.6 * jellyfish.jaro_winkler_similarity(sound, form.sound) + 0.4 * (
            jellyfish.jaro_winkler_similarity(letters, form.letters)
        )
        if best is None or score > best[0]:
            best = (score, form.term)
    return best


def _split_edges(word: str) -> tuple[str, str, str]:
    """``"(Hello!"`` -> ``("(", "Hello", "!")``."""
    m = _EDGE.match(word)
    return (m.group(1), m.group(2), m.group(3)) if m else ("", word, "")


@dataclass(frozen=True)
class Correction:
    text: str
    terms: tuple[str, ...] = ()
    """The written forms put in (for counting; never logged with the text)."""


def _candidates(
    words: list[str], vocabulary: Vocabulary, known_word: Callable[[str], bool] | None
) -> list[tuple[float, int, int, Term]]:
    """(score, first word, words, term) of every run that matches a term at all; 2.0
    for a run that already is a listed term."""
    cores = [_split_edges(w)[1] for w in words]
    keys = _keys(vocabulary)
    written = {t.written for t in vocabulary.terms}
    found_all: list[tuple[float, int, int, Term]] = []
    for n in range(1, max(MAX_RUN, keys.longest_code_run) + 1):
        for i in range(len(words) - n + 1):
            run_words = cores[i : i + n]
            if not all(run_words) or all(w.lower() in _COMMON for w in run_words):
                continue
            run = " ".join(run_words)
            if run in written:
                found_all.append((2.0, i, n, Term(run)))  # already right: hold these words
                continue
            found = _code_match(_alnum(run), keys) if keys.codes else None
            if found is None and n <= MAX_RUN and keys.names:
                if known_word is None or not all(map(known_word, run_words)):
                    found = _name_match(run, keys)
            if found is not None:
                found_all.append((found[0], i, n, found[1]))
    return found_all


def suspect(
    text: str,
    vocabulary: Vocabulary,
    low: float,
    known_word: Callable[[str], bool] | None = None,
) -> bool:
    """Whether ``text`` may hold a listed term heard wrong: a run of words that scores
    at least ``low`` against a name, or a word of letters and digits (a code) that
    is not a listed one. Such a text is worth decoding again with the prompt."""
    if not vocabulary or not text:
        return False
    words = _WORD.findall(text)
    if any(low <= c[0] < 2.0 for c in _candidates(words, vocabulary, known_word)):
        return True
    if known_word is not None and any(  # ordinary words very close to a name: "Analysts"
        max(low, KNOWN_SUSPECT) <= c[0] < 2.0 for c in _candidates(words, vocabulary, None)
    ):
        return True
    keys = _keys(vocabulary)
    if not keys.codes:
        return False
    written = {_alnum(t) for t in vocabulary.written()}
    cores = [_alnum(w) for w in words]
    for i in range(len(cores)):
        joined = ""
        for core in cores[i : i + keys.longest_code_run]:
            if not core or (len(core) > 1 and not (_is_code(core) and not core.isdigit())):
                break  # a code is spelled in letters and digits, or written as one word
            joined += core
            if len(joined) >= 3 and joined not in written and _is_code(joined):
                if any(c.isalpha() for c in joined):
                    return True
    return False


def _listed(text: str, vocabulary: Vocabulary) -> int:
    """How many listed terms ``text`` holds (as whole runs of words, letters and digits)."""
    cores = [_alnum(w) for w in _WORD.findall(text)]
    keys = {_alnum(t) for t in vocabulary.written()}
    found = set()
    for i in range(len(cores)):
        joined = ""
        for core in cores[i : i + MAX_CODE_RUN]:
            joined += core
            if joined in keys:
                found.add(joined)
    return len(found)


def prefer_second(first: str, second: str, vocabulary: Vocabulary) -> bool:
    """Whether the prompted decode's text wins: it holds more listed terms and about
    as much text (its letters and digits 0.6 to 1.6 times the first's), so a prompt
    that made the model write a name where none was said, or drop half the words,
    is not taken."""
    a, b = len(_alnum(first)), len(_alnum(second))
    if not (SECOND_MIN_RATIO * a <= b <= SECOND_MAX_RATIO * a + 2):
        return False
    return _listed(second, vocabulary) > _listed(first, vocabulary)


def correct(
    text: str,
    vocabulary: Vocabulary,
    threshold: float,
    known_word: Callable[[str], bool] | None = None,
) -> Correction:
    """Replace runs of words that match a listed term (see the module docstring).

    The best-scoring replacement is made first, then the next among the words left,
    until none reaches ``threshold`` (codes score 1.0 exact, 0.9 one letter off).
    ``known_word(w)``: whether ``w`` is an ordinary word (e.g. one token of Whisper's
    vocabulary); a run of only such words never becomes a name."""
    if not vocabulary or not text or threshold <= 0:
        return Correction(text)
    words = _WORD.findall(text)
    candidates = [c for c in _candidates(words, vocabulary, known_word) if c[0] >= threshold]
    taken = [False] * len(words)
    chosen: list[tuple[int, int, Term]] = []
    for score, i, n, term in sorted(candidates, key=lambda c: (-c[0], c[2], c[1])):
        if any(taken[i : i + n]):
            continue
        taken[i : i + n] = [True] * n
        if score < 2.0:
            chosen.append((i, n, term))
    if not chosen:
        return Correction(text)
    out: list[str] = []
    starts = {i: (n, term) for i, n, term in chosen}
    i = 0
    while i < len(words):
        if i in starts:
            n, term = starts[i]
            out.append(_split_edges(words[i])[0] + term.written + _split_edges(words[i + n - 1])[2])
            i += n
        else:
            out.append(words[i])
            i += 1
    return Correction(" ".join(out), tuple(term.written for _, _, term in chosen))
