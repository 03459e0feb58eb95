"""Who may use the engines when ``hearthvox run --serve`` shares them with the assistant.

The rule: the device's own turn goes first; Wyoming requests go in arrival order
(per engine, behind :class:`~hearthvox.protocol.services.Services`'s locks); a
request waits at most ``wait_s`` for its turn, then fails with
:class:`EngineBusy` (the client gets an ``error`` event with code ``busy``,
never a hang).

The assistant *claims* the gate when its turn starts (a wake word, speech, a
reply) and *releases* it when the turn is done. A claim waits until the Wyoming
engine call in progress, if any, has finished (one transcription or one
sentence of speech): two calls never run on one engine at once. While the gate
is claimed, a Wyoming request waits before its next engine call.
"""

from __future__ import annotations

import asyncio

from hearthvox.errors import EngineError


class EngineBusy(EngineError):
    """A Wyoming request waited its limit for the device's own turn (or the requests ahead)."""

    code = "busy"


class EngineGate:
    """Priority gate in front of the shared engines (one event loop; not thread-safe)."""

    def __init__(self, wait_s: float) -> None:
        self.wait_s = wait_s
        self._local = False
        self._no_local = asyncio.Event()
        self._no_local.set()
        self._remote = 0
        self._no_remote = asyncio.Event()
        self._no_remote.set()
        self.claims = 0
        """Turns of the assistant that claimed the gate."""
        self.waited = 0
        """Wyoming engine calls that had to wait for the assistant's turn."""
        self.refused = 0
        """Wyoming engine calls that waited ``wait_s`` in vain (:class:`EngineBusy`)."""

    @property
    def claimed(self) -> bool:
        return self._local

    # -- the assistant's side --------------------------------------------------------

    async def claim(self) -> None:
        """The assistant's turn starts: new Wyoming calls wait; the running one finishes."""
        if not self._local:
            self._local = True
            self._no_local.clear()
            self.claims += 1
        await self._no_remote.wait()

    def release(self) -> None:
        """The assistant's turn is done: waiting Wyoming calls go on, in arrival order."""
        if self._local:
            self._local = False
            self._no_local.set()

    # -- a Wyoming request's side ----------------------------------------------------

    async def enter(self, lock: asyncio.Lock) -> None:
        """Take ``lock`` (the engine's) once no assistant turn is on; at most ``wait_s``."""
        try:
            async with asyncio.timeout(self.wait_s):
                await lock.acquire()
                try:
                    if self._local:
                        self.waited += 1
                    while self._local:  # a new claim may come before this call runs
                        await self._no_local.wait()
                except BaseException:
                    lock.release()
                    raise
        except TimeoutError:
            self.refused += 1
            raise EngineBusy(
                f"busy: the device's own voice turn (or the requests ahead) took longer than "
                f"{self.wait_s:g} s; try again"
            ) from None
        self._remote += 1
        self._no_remote.clear()

    def leave(self, lock: asyncio.Lock) -> None:
        """The engine call of :meth:`enter` is done."""
        self._remote -= 1
        if self._remote == 0:
            self._no_remote.set()
        lock.release()
