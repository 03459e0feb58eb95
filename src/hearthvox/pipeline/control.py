"""Control lanes: messages between stages that do not wait behind the audio.

Events flow downstream, stage to stage, on bounded queues
(:mod:`hearthvox.pipeline.runner`). Control messages travel on lanes of their
own, one lane per receiving stage, and may flow against the events: the turn
tracker tells the listener a turn is over, the speak stage tells it a reply
plays on a speaker the microphone hears, and the listener tells the speak stage
to stop (barge-in). So no stage holds another to call it back. Callers of
:class:`~hearthvox.pipeline.runner.Pipeline` send the listener theirs through it:
stand down, listen now, and drain (end the run between turns: the service's
reload and shutdown).

The listener reads its lane before it takes each chunk of audio (and while it
waits for one), and while a turn is open it waits on the lane alone (unless a
reply it can barge in on is playing): that is the rule that keeps a file's turns
in order with nothing skipped. The speak stage reads its lane before each chunk
it plays and while one plays.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Generic, TypeVar


@dataclass(frozen=True)
class TurnOver:
    """The turn tracker closed a turn (reply spoken, no speech, or an error)."""

    follow_up: bool
    """Whether a follow-up window may open (the turn was answered and asked for one)."""


@dataclass(frozen=True)
class ReplyPlaying:
    """The speak stage started a reply on a speaker the microphone hears: the listener
    may take audio again (to hear a barge-in) although the turn is open."""


@dataclass(frozen=True)
class StopReply:
    """The listener heard the wake word over the assistant's reply: stop playing it
    now and drop the rest."""


@dataclass(frozen=True)
class StandDown:
    """Another microphone heard the same wake word better (the hub's arbitration,
    :mod:`hearthvox.hub.arbiter`): drop the turn just woken, answer nothing, and go
    back to waiting for the wake word. A turn already past listening is not stopped."""


@dataclass(frozen=True)
class ListenNow:
    """The wake word was heard elsewhere (a satellite that detects it itself): listen
    for the command from the next chunk on, as after a wake word of our own. Ignored
    while a turn is open."""

    model: str
    """The wake word's name, as the one who heard it says (for the events)."""
    settle_ms: float | None = None
    """How long voice right at the start may be the wake phrase's tail (ignored until
    the first unvoiced frame); None: as after a wake word of our own. 0: the audio
    holds the command alone (the eval's clips)."""


@dataclass(frozen=True)
class Drain:
    """End this run at the first chunk outside a turn: a reload or a shutdown waits for
    the turn in flight (its reply is spoken), then the listener takes no more audio and
    the stages finish what they hold. What the source read and the listener did not
    take is the caller's again (:attr:`hearthvox.pipeline.runner.Pipeline.leftover`)."""

    follow_up: bool = True
    """Whether an open follow-up window counts as part of the turn (a reload: the
    conversation goes on in the next run); a shutdown does not wait for speech that
    has not started (False). Of two drains, one that does not wait wins."""


ToListener = TurnOver | ReplyPlaying | StandDown | ListenNow | Drain
ToSpeaker = StopReply
M = TypeVar("M")
T = TypeVar("T")


class ControlLane(Generic[M]):
    """A lane of control messages to one stage, in the order sent.

    Unbounded on purpose: a sender must never wait on the stage it is telling to go
    on, and there are a few messages per turn, each read before the next chunk.
    """

    def __init__(self) -> None:
        self._queue: asyncio.Queue[M] = asyncio.Queue()

    def send(self, message: M) -> None:
        self._queue.put_nowait(message)

    def pending(self) -> bool:
        return not self._queue.empty()

    def clear(self) -> None:
        """Forget what was sent and not read (stale: about a reply already over)."""
        while not self._queue.empty():
            self._queue.get_nowait()

    async def receive(self) -> M:
        return await self._queue.get()

    async def receive_or(self, other: asyncio.Queue[T]) -> tuple[list[T], M | None]:
        """Wait for the next message or the next item of ``other``, whichever comes first
        (both, when both came at once): ``([item] or [], message or None)``. Nothing is
        taken from the one that did not come (a queue's ``get`` cancelled keeps its item)."""
        got = asyncio.ensure_future(other.get())
        told = asyncio.ensure_future(self._queue.get())
        try:
            await asyncio.wait((got, told), return_when=asyncio.FIRST_COMPLETED)
            taken = [got.result()] if got.done() else []
            message = told.result() if told.done() else None
        finally:
            got.cancel()  # (one that is done stays as it is)
            told.cancel()
        return taken, message
