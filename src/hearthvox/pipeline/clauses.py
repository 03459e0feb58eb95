"""A streamed reply's text cut into what the voice can say while the rest is written.

A language model writes a reply a few characters at a time; the voice needs whole
phrases. :func:`clauses` hands on the first clause as soon as it is complete (a comma,
semicolon or colon after a few words, the end of a sentence, or else the first four
words, as Piper's own first-clause chunking cuts a long sentence at a word gap), then
one sentence at a time, and whatever is left when the writer ends. A run with no break is cut at a
word gap once it is :data:`MAX_CLAUSE_CHARS` long (the voice's working memory grows
with its longest chunk).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

FIRST_MIN_WORDS = 3
"""The first clause is cut at a comma only after this many words."""
FIRST_MAX_WORDS = 4
"""... and, with no break yet, at the word gap after this many (the voice starts
while the model writes the rest of the sentence)."""
MAX_CLAUSE_CHARS = 240

_SENTENCE_END = re.compile(r"[.!?…]+[\"')\]]*(?=\s)")
_CLAUSE_END = re.compile(r"[,;:—–]+(?=\s)")


def take_clause(text: str, first: bool) -> tuple[str | None, str]:
    """``(clause, rest)`` when ``text`` (the words written so far) starts with one that is
    complete, else ``(None, text)``. ``first``: nothing of the reply was said yet."""
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    if first:
        for m in _CLAUSE_END.finditer(text):
            if len(text[: m.end()].split()) >= FIRST_MIN_WORDS:
                ends.append(m.end())
                break
    if first and not ends:
        gaps = [m.start() for m in re.finditer(r"\s+", text.strip())]
        if len(gaps) >= FIRST_MAX_WORDS:  # four whole words, and the fifth begun
            ends.append(len(text) - len(text.lstrip()) + gaps[FIRST_MAX_WORDS - 1])
    cut = min(ends) if ends else None
    if cut is None and len(text) > MAX_CLAUSE_CHARS:
        gap = text.rfind(" ", 0, MAX_CLAUSE_CHARS)
        cut = gap if gap > 0 else MAX_CLAUSE_CHARS
    if cut is None:
        return None, text
    clause, rest = text[:cut].strip(), text[cut:].lstrip()
    return (clause or None), rest


async def clauses(pieces: AsyncIterator[str]) -> AsyncIterator[str]:
    """The clauses of the text ``pieces`` make up, each as soon as it is complete."""
    text = ""
    first = True
    async for piece in pieces:
        text += piece
        while True:
            clause, text = take_clause(text, first)
            if clause is None:
                break
            first = False
            yield clause
    if text.strip():
        yield text.strip()
