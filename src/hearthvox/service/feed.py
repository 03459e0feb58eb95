"""The input, read ahead of the pipeline by a task of its own.

The pipeline pulls audio only between turns (while a turn is answered the
listener is not pulled), so a reader that waited to be pulled could not tell a
stuck input from a busy pipeline. The :class:`Feed` reads the source as it
comes, beating the ``audio`` heartbeat per chunk, into a queue (bounded: at
most ``max_chunks``, 5 minutes, then the reader waits for the pipeline). The pipeline
takes chunks through :meth:`Feed.chunks`, one *generation* per run: a generation
ends at the end of the input, or when its run ends first (a reload or a shutdown
drains the pipeline between turns, :meth:`hearthvox.pipeline.runner.Pipeline.drain`).
The chunks that run had read and not heard are handed back with
:meth:`Feed.put_back`, so the next generation starts at exactly the next chunk:
nothing is skipped or heard twice. A failure of the source (a microphone that
stalled) is raised to the pipeline when it reaches that point of the input.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

from hearthvox.events import AudioChunk
from hearthvox.service.heartbeat import AUDIO, PIPELINE, Heartbeats, mark_unwatched

DEFAULT_MAX_CHUNKS = 3750
"""5 min of 80 ms chunks (about 9 MiB): more than any turn takes on a loaded device.
While a turn is answered the listener takes nothing until its reply plays (then it
listens for a barge-in), and a reader that waited would stop pulling the source: a turn
slower than the bound (30 s, once) made the microphone drop what was said meanwhile."""


@dataclass(frozen=True)
class _End:
    error: Exception | None


class Feed:
    def __init__(
        self,
        source: AsyncIterator[AudioChunk],
        beats: Heartbeats,
        max_chunks: int = DEFAULT_MAX_CHUNKS,
    ) -> None:
        self._source = source
        self._beats = beats
        self._max = max_chunks
        self._queue: asyncio.Queue[AudioChunk | _End] = asyncio.Queue()
        self._space = asyncio.Event()
        self._back: collections.deque[AudioChunk] = collections.deque()
        """Handed back by a run that ended before hearing them: the next run's first."""
        self._end: _End | None = None
        """The input's end, once a generation reached it."""
        self.waiting = False
        """The reader is waiting for the pipeline to take chunks (the queue is full)."""

    @property
    def ended(self) -> bool:
        """The input has ended (or failed) and the pipeline has reached that point."""
        return self._end is not None and not self._back

    async def read(self) -> None:
        """Read the source to its end (run as a task)."""
        mark_unwatched()
        self._beats.beat(AUDIO)
        try:
            async for chunk in self._source:
                self._beats.beat(AUDIO)
                while self._queue.qsize() >= self._max:
                    self.waiting = True
                    self._space.clear()
                    await self._space.wait()
                self.waiting = False
                self._queue.put_nowait(chunk)
        except Exception as exc:  # handed to the pipeline where the audio stopped
            self._queue.put_nowait(_End(exc))
        else:
            self._queue.put_nowait(_End(None))
        finally:
            self.waiting = False
            self._beats.retire(AUDIO)

    def pending(self) -> int:
        """Chunks read but not yet taken by the pipeline."""
        return self._queue.qsize() + len(self._back)

    def put_back(self, chunks: Iterable[AudioChunk]) -> None:
        """Chunks a run took and did not hear (:attr:`Pipeline.leftover`), in their order:
        the next generation starts with them."""
        self._back.extendleft(reversed(list(chunks)))

    async def chunks(self) -> AsyncIterator[AudioChunk]:
        """One generation of the input for one run of the pipeline."""
        while True:
            if self._back:
                chunk = self._back.popleft()
            elif self._end is not None:
                if self._end.error is not None:
                    raise self._end.error
                return
            else:
                item = await self._queue.get()
                if isinstance(item, _End):
                    self._end = item
                    continue
                self._space.set()
                chunk = item
            self._beats.beat(PIPELINE)
            yield chunk
