"""Words the device should expect: names, product codes, a skill's own keywords.

A vocabulary comes from three places, merged in this order (a later duplicate of a
written form adds its spoken forms to the first):

1. the user's list, ``[asr] vocabulary = "path"``: one term per line, with an
   optional spoken form after ``=``::

       # names and codes of this household
       Zbigniew
       SKU-4471 = s k u forty four seventy one
       Aoife = ee fa

2. a Wyoming request's list (``transcribe`` event, ``context.vocabulary``: a list
   of strings in the same ``TERM`` / ``TERM = SPOKEN`` form), for that request only;
3. the skills' own words (a skill's ``vocabulary`` attribute), which join the
   others only when the user or the request gave a list (so the default decode
   does not change).

Everything is bounded before it is used (:data:`MAX_TERMS`, :data:`MAX_TERM_CHARS`,
:data:`MAX_SPOKEN_CHARS`, :data:`MAX_FILE_BYTES`) and refused with a
:class:`~hearthvox.errors.ConfigError` naming the line: a vocabulary is user input.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hearthvox.errors import ConfigError

MAX_TERMS = 500
"""Terms in one vocabulary (user list, request list, or all merged)."""
MAX_TERM_CHARS = 64
MAX_SPOKEN_CHARS = 128
MAX_SPOKEN_FORMS = 4
"""Spoken forms one written term gathers over the merged lists."""
MAX_FILE_BYTES = 64 * 1024


@dataclass(frozen=True)
class Term:
    """A written form (what the transcript should say) and how it may be spoken."""

    written: str
    spoken: tuple[str, ...] = ()

    def forms(self) -> tuple[str, ...]:
        """Every way to match it: the written form first."""
        return (self.written, *self.spoken)


@dataclass(frozen=True)
class Vocabulary:
    terms: tuple[Term, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.terms)

    def __len__(self) -> int:
        return len(self.terms)

    def written(self) -> tuple[str, ...]:
        return tuple(t.written for t in self.terms)

    def merged(self, *others: Vocabulary) -> Vocabulary:
        """This vocabulary's terms, then the others' (bounded by :data:`MAX_TERMS`)."""
        return merge([self, *others])


def merge(vocabularies: Iterable[Vocabulary]) -> Vocabulary:
    """One vocabulary of all terms, in order; a repeated written form (compared
    without case) adds its new spoken forms to the first. Refused past MAX_TERMS."""
    order: list[str] = []
    written: dict[str, str] = {}
    spoken: dict[str, list[str]] = {}
    for vocabulary in vocabularies:
        for term in vocabulary.terms:
            key = term.written.casefold()
            if key not in spoken:
                if len(order) >= MAX_TERMS:
                    raise ConfigError(f"a vocabulary holds at most {MAX_TERMS} terms")
                order.append(key)
                written[key] = term.written
                spoken[key] = []
            for form in term.spoken:
                if form not in spoken[key] and len(spoken[key]) < MAX_SPOKEN_FORMS:
                    spoken[key].append(form)
    return Vocabulary(tuple(Term(written[k], tuple(spoken[k])) for k in order))


def _clean(text: str, what: str, limit: int, where: str) -> str:
    text = " ".join(text.split())
    if len(text) > limit:
        raise ConfigError(f"{where}: {what} is longer than {limit} characters")
    if any(unicodedata.category(c)[0] == "C" for c in text):
        raise ConfigError(f"{where}: {what} holds a control character")
    if not any(c.isalnum() for c in text):
        raise ConfigError(f"{where}: {what} {text!r} has no letter or digit")
    return text


def parse_term(line: str, where: str) -> Term:
    """``TERM`` or ``TERM = SPOKEN FORM``."""
    written, eq, spoken = line.partition("=")
    term = _clean(written, "the term", MAX_TERM_CHARS, where)
    if not eq:
        return Term(term)
    return Term(term, (_clean(spoken, "the spoken form", MAX_SPOKEN_CHARS, where),))


def parse_terms(lines: Sequence[object], source: str) -> Vocabulary:
    """A list of ``TERM`` / ``TERM = SPOKEN`` strings (e.g. a request's), checked."""
    if len(lines) > MAX_TERMS:
        raise ConfigError(f"{source}: more than {MAX_TERMS} terms")
    terms = []
    for i, line in enumerate(lines, 1):
        if not isinstance(line, str):
            raise ConfigError(f"{source}: term {i} is not a string")
        terms.append(parse_term(line, f"{source}, term {i}"))
    return merge([Vocabulary(tuple(terms))])


def parse_vocabulary(text: str, source: str) -> Vocabulary:
    """The text of a vocabulary file: one term per line; ``#`` starts a comment line."""
    terms: list[Term] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if len(terms) >= MAX_TERMS:
            raise ConfigError(f"{source}: more than {MAX_TERMS} terms (line {n})")
        terms.append(parse_term(line, f"{source}, line {n}"))
    return merge([Vocabulary(tuple(terms))])


def load_vocabulary(path: Path) -> Vocabulary:
    """Read and check a vocabulary file (a regular file of at most MAX_FILE_BYTES, UTF-8)."""
    if not path.is_file():
        what = "does not exist" if not path.exists() else "is not a regular file"
        raise ConfigError(f"vocabulary file {path} {what}")
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read vocabulary file {path}: {exc.strerror or exc}") from exc
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"vocabulary file {path} is larger than {MAX_FILE_BYTES // 1024} KiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"vocabulary file {path} is not UTF-8 text") from exc
    return parse_vocabulary(text, f"vocabulary file {path}")
