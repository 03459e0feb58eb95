"""Streaming synthesis: text arrives in pieces (``synthesize-chunk``), audio leaves per sentence.

Complete sentences are cut off the front of the text received so far and
spoken in order by one worker task, while more text keeps arriving; the rest
is spoken at ``synthesize-stop``. So audio starts as soon as the first
sentence is complete, not when the whole text is in.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable

from hearthvox.protocol.framing import ProtocolError

# sentence-final punctuation, closing quotes or brackets, then whitespace; or a blank line
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*\s+|\n\s*\n")
_LAST_WORD = re.compile(r"(\S+)$")
_ABBREVIATIONS = frozenset("mr mrs ms dr st mt prof sr jr vs etc no approx fig dept est".split())


def _is_abbreviation(before: str) -> bool:
    """``before`` ends just ahead of a full stop: does that stop end an abbreviation?"""
    m = _LAST_WORD.search(before)
    if m is None:
        return False
    word = m.group(1).lower().lstrip("(\"'“‘")
    # titles, initials ("J."), dotted abbreviations ("p.m.", "U.S.")
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()) or "." in word


def split_sentences(text: str) -> tuple[list[str], str]:
    """The complete sentences at the front of ``text``, and the incomplete rest."""
    sentences: list[str] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        if text[m.start()] == "." and _is_abbreviation(text[start : m.start()]):
            continue
        sentence = text[start : m.end()].strip()
        if sentence:
            sentences.append(sentence)
        start = m.end()
    return sentences, text[start:]


class TtsStream:
    """One ``synthesize-start`` .. ``synthesize-stop`` stream; ``speak`` sends one text's audio."""

    def __init__(self, speak: Callable[[str], Awaitable[None]], max_chars: int) -> None:
        self._speak = speak
        self._max_chars = max_chars
        self._text = ""
        self._queued_chars = 0
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._worker = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while (sentence := await self._queue.get()) is not None:
            await self._speak(sentence)
            self._queued_chars -= len(sentence)

    def _check_worker(self) -> None:
        if self._worker.done() and not self._worker.cancelled():
            error = self._worker.exception()
            if error is not None:
                raise error

    def add(self, text: str) -> None:
        """More text; complete sentences go to the worker at once."""
        self._check_worker()
        self._text += text
        if len(self._text) + self._queued_chars > self._max_chars:
            raise ProtocolError(
                "too-long",
                f"more text waiting than this server's limit of {self._max_chars} characters",
            )
        sentences, self._text = split_sentences(self._text)
        for sentence in sentences:
            self._queued_chars += len(sentence)
            self._queue.put_nowait(sentence)

    async def finish(self) -> None:
        """Speak what is left and wait until all of it has been sent."""
        self._check_worker()
        rest = self._text.strip()
        self._text = ""
        if rest:
            self._queue.put_nowait(rest)
        self._queue.put_nowait(None)
        await self._worker

    async def close(self) -> None:
        if not self._worker.done():
            self._worker.cancel()
        with contextlib.suppress(BaseException):
            await self._worker
