"""Control lanes: messages between stages that do not wait behind the audio.

Events flow downstream, stage to stage, on bounded queues
(:mod:`hearthvox.pipeline.runner`). Control messages travel on lanes of their
own, one lane per receiving stage, and may flow against the events: the turn
tracker tells the listener a turn is over, the speak stage tells it a reply
plays on a speaker the microphone hears, and the listener tells the speak stage
to stop (barge-in). So no stage holds another to call it back.

The listener reads its lane before it takes each chunk of audio, and while a
turn is open it waits on the lane alone (unless a reply it can barge in on is
playing): that is the rule that keeps a file's turns in order with nothing
skipped. The speak stage reads its lane before each chunk it plays and while
one plays.
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


ToListener = TurnOver | ReplyPlaying | StandDown | ListenNow
ToSpeaker = StopReply
M = TypeVar("M")


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
