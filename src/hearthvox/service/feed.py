"""The input, read ahead of the pipeline by a task of its own.

The pipeline pulls audio only between turns (while a turn is answered the
listener is not pulled), so a reader that waited to be pulled could not tell a
stuck input from a busy pipeline. The :class:`Feed` reads the source as it
comes, beating the ``audio`` heartbeat per chunk, into a queue (bounded: at
most ``max_chunks``, 5 minutes, then the reader waits for the pipeline). The pipeline
takes chunks through :meth:`Feed.chunks`, one *generation* at a time: a
generation ends at the end of the input, or, after :meth:`Feed.stop_when_idle`,
at the first chunk outside a turn, so a reload or a shutdown lets the current
turn finish. A failure of the source (a microphone that stalled) is raised to
the pipeline when it reaches that point of the input.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from hearthvox.events import AudioChunk, Event, NoSpeech, SpeechStarted, TurnDone, WakeDetected
from hearthvox.service.heartbeat import AUDIO, PIPELINE, Heartbeats, mark_unwatched

DEFAULT_MAX_CHUNKS = 3750
"""5 min of 80 ms chunks (about 9 MiB): more than any turn takes on a loaded device.
While a turn is answered the listener takes nothing until its reply plays (then it
listens for a barge-in), and a reader that waited would stop pulling the source: a turn
slower than the bound (30 s, once) made the microphone drop what was said meanwhile."""


@dataclass(frozen=True)
class _End:
    error: Exception | None


class _Wake:
    """Put in the queue to wake a waiting generation so it can see a stop request."""


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
        self._queue: asyncio.Queue[AudioChunk | _End | _Wake] = asyncio.Queue()
        self._space = asyncio.Event()
        self._stop = False
        self.in_turn = False
        """Between a wake word (or follow-up speech) and the end of its turn."""
        self.ended = False
        """The input has ended (or failed) and the pipeline has reached that point."""
        self.waiting = False
        """The reader is waiting for the pipeline to take chunks (the queue is full)."""

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
        return self._queue.qsize()

    def stop_when_idle(self) -> None:
        """End the current generation at the first chunk outside a turn."""
        self._stop = True
        self._queue.put_nowait(_Wake())

    def resume(self) -> None:
        """Let the next generation run (after a reload)."""
        self._stop = False

    def observe(self, event: Event) -> None:
        """Follow the turns in the pipeline's events."""
        match event:
            case WakeDetected() | SpeechStarted(follow_up=True):
                self.in_turn = True
            case TurnDone() | NoSpeech():
                self.in_turn = False

    async def chunks(self) -> AsyncIterator[AudioChunk]:
        """One generation of the input for one run of the pipeline."""
        while not (self._stop and not self.in_turn):
            item = await self._queue.get()
            if isinstance(item, _Wake):
                continue
            if isinstance(item, _End):
                self.ended = True
                if item.error is not None:
                    raise item.error
                return
            self._space.set()
            self._beats.beat(PIPELINE)
            yield item
