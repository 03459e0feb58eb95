"""First-clause chunking of Piper phonemes, and a synthesise-ahead iterator.

Piper synthesises one chunk per sentence, so the first audio waits for the
whole first sentence. :func:`speech_chunks` cuts the first sentence after its
first clause (a comma, semicolon or colon) or, in a long sentence without one,
at a word gap about a third in, and any chunk longer than ``max_chunk``
phonemes at a clause break or word gap; :class:`Prefetch` synthesises the next chunk
while the caller plays the current one.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, wait
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


class Prefetch(Generic[T]):
    """``make(item)`` over ``items``, each run on ``executor`` (the voice's own thread),
    up to ``ahead`` results in front of the one the caller waits for.

    :meth:`next_future` hands out the next result's future (an async caller awaits it);
    iterating waits for each in turn (from any thread but the executor's own).
    ``close()``/``cancel()`` (or dropping the iterator) cancels what has not started.
    """

    def __init__(
        self,
        make: Callable[[list[str]], T],
        items: list[list[str]],
        executor: Executor,
        ahead: int = 2,
    ) -> None:
        self._make = make
        self._items = items
        self._executor = executor
        self._ahead = max(1, ahead)
        self._futures: collections.deque[Future[T]] = collections.deque()
        self._submitted = 0
        self._stopped = False

    def __iter__(self) -> Iterator[T]:
        return self

    def _fill(self) -> None:
        while (
            not self._stopped
            and len(self._futures) <= self._ahead
            and self._submitted < len(self._items)
        ):
            item = self._items[self._submitted]
            self._futures.append(self._executor.submit(self._make, item))
            self._submitted += 1

    def next_future(self) -> Future[T] | None:
        """The future of the next result (the ones after it start as it is handed out);
        None at the end, or once stopped."""
        self._fill()
        if self._stopped or not self._futures:
            return None
        future = self._futures.popleft()
        self._fill()
        return future

    def __next__(self) -> T:
        future = self.next_future()
        if future is None:
            raise StopIteration
        return result_of(future, self)

    def close(self) -> None:
        """Stop: what has not started is cancelled; waits for the chunk in progress (a
        fraction of a second) unless called from the executor's own thread."""
        running = [f for f in self._futures if not f.cancel()]
        self.cancel()
        for future in running:
            wait([future], timeout=_CLOSE_WAIT_S)

    def cancel(self) -> None:
        """Stop without waiting: a consumer that drops the rest (after a barge-in)."""
        self._stopped = True
        while self._futures:
            self._futures.popleft().cancel()

    def __del__(self) -> None:
        for future in list(getattr(self, "_futures", ())):
            future.cancel()


_CLOSE_WAIT_S = 5.0


def result_of(future: Future[T], stream: Prefetch[T]) -> T:
    """A finished chunk's audio; a failure stops the stream and is an :class:`EngineError`."""
    try:
        return future.result()
    except EngineError:
        stream.cancel()
        raise
    except Exception as exc:
        stream.cancel()
        raise EngineError(f"speech synthesis failed: {exc}") from exc
