"""First-clause chunking of Piper phonemes, and a synthesise-ahead iterator.

Piper synthesises one chunk per sentence, so the first audio waits for the
whole first sentence. :func:`speech_chunks` cuts the first sentence after its
first clause (a comma, semicolon or colon) or, in a long sentence without one,
at a word gap about a third in, and any chunk longer than ``max_chunk``
phonemes at a clause break or word gap; :class:`Prefetch` synthesises the next chunk
while the caller plays the current one.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from hearthvox.errors import EngineError

T = TypeVar("T")
_CLAUSE_END = frozenset(",;:—–")


@dataclass(frozen=True)
class ChunkOptions:
    first_clause: bool = True
    min_split: int = 14
    """A first sentence shorter than this (in phonemes) is not split."""
    min_first: int = 4
    """A first chunk has at least this many phonemes (one short word)."""
    max_clause_share: float = 0.55
    """A clause break counts only within this share of the sentence."""
    word_split_len: int = 14
    """A sentence this long with no clause break is split at a word gap..."""
    word_split_share: float = 0.3
    """... near this share of its length."""
    max_chunk: int = 96
    """Longer sentences are cut (at a clause break, else a word gap) into chunks of at
    most this many phonemes: the voice's working memory grows with its longest chunk."""


def split_first(phonemes: list[str], opts: ChunkOptions) -> list[list[str]]:
    """One sentence's phonemes as one chunk, or as first clause + rest."""
    n = len(phonemes)
    if not opts.first_clause or n < opts.min_split:
        return [phonemes]
    cut: int | None = None
    for i, ph in enumerate(phonemes):
        if ph in _CLAUSE_END and opts.min_first <= i + 1 <= opts.max_clause_share * n:
            cut = i + 1
            break
    if cut is None and n >= opts.word_split_len:
        gaps = [i for i, ph in enumerate(phonemes) if ph == " " and i >= opts.min_first]
        if gaps:
            target = opts.word_split_share * n
            cut = min(gaps, key=lambda i: abs(i - target))
    if cut is None:
        return [phonemes]
    head, rest = phonemes[:cut], phonemes[cut:]
    while rest and rest[0] == " ":
        rest = rest[1:]
    return [head, rest] if rest else [head]


def bounded(phonemes: list[str], max_len: int) -> list[list[str]]:
    """Cut ``phonemes`` into pieces of at most ``max_len``: after the last clause break
    that fits, else at the last word gap that fits, else hard."""
    pieces: list[list[str]] = []
    rest = phonemes
    while len(rest) > max_len:
        window = rest[: max_len + 1]
        cut = next((i + 1 for i in range(max_len - 1, 0, -1) if window[i] in _CLAUSE_END), 0)
        if cut == 0:
            cut = next((i for i in range(max_len, 0, -1) if window[i] == " "), max_len)
        pieces.append(rest[:cut])
        rest = rest[cut:]
        while rest and rest[0] == " ":
            rest = rest[1:]
    if rest:
        pieces.append(rest)
    return pieces


def speech_chunks(sentences: list[list[str]], opts: ChunkOptions) -> list[list[str]]:
    """Sentences' phonemes -> the chunks to synthesise: the first sentence split after
    its first clause, every chunk at most ``max_chunk`` phonemes."""
    sentences = [s for s in sentences if s]
    if not sentences:
        return []
    chunks = [*split_first(sentences[0], opts), *sentences[1:]]
    return [piece for chunk in chunks for piece in bounded(chunk, opts.max_chunk)]


_DONE = object()


class Prefetch(Generic[T]):
    """Iterate ``make(item)`` over ``items``: the first on the caller's thread, the
    rest on one worker thread that stays ``ahead`` results in front of the caller.

    ``close()`` (or dropping the iterator) stops the worker after its current item.
    """

    def __init__(self, make: Callable[[list[str]], T], items: list[list[str]], ahead: int = 2):
        self._make = make
        self._items = items
        self._queue: queue.Queue[object] = queue.Queue(maxsize=ahead)
        self._stop = threading.Event()
        self._next = 0
        self._worker: threading.Thread | None = None

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        if self._next == 0:
            if not self._items:
                raise StopIteration
            first = self._make(self._items[0])
            self._next = 1
            if len(self._items) > 1:
                # the worker holds no reference to self, so a dropped iterator is collected
                # and its __del__ stops the worker
                args = (self._make, self._items[1:], self._queue, self._stop)
                self._worker = threading.Thread(
                    target=_ahead, args=args, name="hv-tts", daemon=True
                )
                self._worker.start()
            return first
        if self._worker is None or self._next >= len(self._items):
            raise StopIteration
        value = self._queue.get()
        if value is _DONE:
            raise StopIteration
        if isinstance(value, EngineError):
            raise value
        if isinstance(value, Exception):
            raise EngineError(f"speech synthesis failed: {value}") from value
        self._next += 1
        return value  # type: ignore[return-value]  # only results and errors are queued

    def close(self) -> None:
        """Stop synthesising ahead; waits for the chunk in progress (a fraction of a second)."""
        self._stop.set()
        if self._worker is not None and self._worker is not threading.current_thread():
            self._worker.join()

    def cancel(self) -> None:
        """Stop synthesising ahead without waiting (the worker ends within 0.1 s of its
        current chunk); for a consumer that drops the rest, e.g. after a barge-in."""
        self._stop.set()

    def __del__(self) -> None:
        self._stop.set()


def _ahead(
    make: Callable[[list[str]], object],
    items: list[list[str]],
    out: queue.Queue[object],
    stop: threading.Event,
) -> None:
    """The worker: make each item in turn and queue it (or the error that stopped it)."""
    for item in items:
        if stop.is_set():
            return
        try:
            value: object = make(item)
        except Exception as exc:  # handed to the consumer, raised there
            value = exc
        if not _put(out, value, stop) or isinstance(value, Exception):
            return
    _put(out, _DONE, stop)


def _put(out: queue.Queue[object], value: object, stop: threading.Event) -> bool:
    """Queue ``value`` unless ``stop`` is set first (the consumer is gone: a full queue
    would otherwise hold the worker, and the voice it synthesises with, for good)."""
    while not stop.is_set():
        try:
            out.put(value, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False
