"""A reply's audio, chunk by chunk, from the voice's own thread.

:class:`VoicedStream` voices a streamed reply (the language model's) while it is
written: each clause (:mod:`hearthvox.pipeline.clauses`) is phonemised and its first
chunk started on the voice's thread as soon as it is complete, also while the clause
before it plays (at most :data:`CLAUSES_AHEAD` clauses ahead of the one playing).
It starts when it is made, so one made at a pause
(:class:`hearthvox.pipeline.speculate.SpeculativeReply`) has the first clause's audio
ready, or on the way, when the endpoint confirms the command.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from concurrent.futures import Future

from hearthvox.engines.tts import PiperTts
from hearthvox.engines.tts_chunks import Prefetch, result_of
from hearthvox.events import Int16Array, TextStream
from hearthvox.pipeline.clauses import clauses

Voiced = tuple[Prefetch[Int16Array], Future[Int16Array] | None]
"""A clause's chunks and the future of its first one."""
CLAUSES_AHEAD = 2
"""Clauses voiced ahead of the one playing out (the one playing included): the voice
synthesises far faster than it speaks, and a long reply voiced all at once would take
the cores from the wake word that may stop it."""


async def next_chunk(stream: Prefetch[Int16Array]) -> Int16Array | None:
    """The reply's next chunk of audio, synthesised on the voice's thread; None at the end."""
    future = stream.next_future()
    return None if future is None else await chunk_of(future, stream)


async def chunk_of(future: Future[Int16Array], stream: Prefetch[Int16Array]) -> Int16Array:
    with contextlib.suppress(Exception):  # result_of says what went wrong, as EngineError
        await asyncio.wrap_future(future)
    return result_of(future, stream)


class VoicedStream:
    """The audio of a streamed reply, voiced clause by clause as it is written (made on
    the event loop; it starts at once). :meth:`chunks` is read once; :meth:`cancel`
    stops the writer (within a token) and the voice."""

    def __init__(self, stream: TextStream, tts: PiperTts) -> None:
        self.stream = stream
        self.tts = tts
        self.playing: list[Prefetch[Int16Array]] = []
        """Every clause started (to cancel them)."""
        self._ahead: asyncio.Queue[Voiced | None] = asyncio.Queue()
        self._room = asyncio.Semaphore(CLAUSES_AHEAD)
        self._writer = asyncio.ensure_future(self._write())
        self._writer.add_done_callback(_retrieved)

    async def _write(self) -> None:
        try:
            async for clause in clauses(self.stream.pieces()):
                if self.stream.cancelled.is_set():
                    break
                await self._room.acquire()  # until a clause ahead has played out
                sentences = await self.tts.executor.run(self.tts.stream, clause)
                self.playing.append(sentences)
                self._ahead.put_nowait((sentences, sentences.next_future()))
        finally:
            self._ahead.put_nowait(None)

    async def chunks(self) -> AsyncGenerator[Int16Array, None]:
        try:
            while (item := await self._ahead.get()) is not None:
                sentences, first = item
                if first is not None:
                    yield await chunk_of(first, sentences)
                while (samples := await next_chunk(sentences)) is not None:
                    yield samples
                self._room.release()
            await self._writer  # its error, if it failed
        finally:
            self._writer.cancel()

    def cancel(self) -> None:
        self.stream.cancel()
        self._writer.cancel()
        for sentences in self.playing:
            sentences.cancel()


def _retrieved(task: asyncio.Task[None]) -> None:
    """A writer nobody awaits (a reply dropped at its pause): its failure is not news."""
    if not task.cancelled():
        task.exception()
