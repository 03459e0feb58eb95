"""The reply's audio, from the server's ``audio-chunk`` events to the sink.

One task plays what the connection hands it, in order, off the event loop (a
speaker's ``write`` blocks while it plays). :meth:`Player.stop` (barge-in, a
lost server) empties the sink at once and drops what was queued. A reply is
bounded: at most ``max_s`` seconds of audio are queued, the rest is dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np

from hearthvox.audio.sinks import Sink
from hearthvox.events import Int16Array
from hearthvox.protocol.framing import ProtocolError
from hearthvox.protocol.pcm import PcmFormat

log = logging.getLogger(__name__)

_QUEUE = 64  # chunks waiting to be played; a full queue holds the connection's reader back


@dataclass(frozen=True)
class _Block:
    samples: Int16Array
    rate_hz: int
    turn: int


@dataclass(frozen=True)
class _End:
    turn: int


class Player:
    def __init__(self, sink: Sink, max_s: float, on_played: Callable[[int], Awaitable[None]]):
        self.sink = sink
        self.max_s = max_s
        self.on_played = on_played
        self._queue: asyncio.Queue[_Block | _End] = asyncio.Queue(_QUEUE)
        self._format: PcmFormat | None = None
        self._queued_s = 0.0
        self._turn = 0
        self._dropped = 0
        self._truncated = False

    def begin(self, turn: int, data: dict[str, object]) -> None:
        """A reply starts (``audio-start``): its format; raises ProtocolError if it is bad."""
        fmt = PcmFormat.from_data(data)
        if fmt.width != 2:
            raise ProtocolError(
                "unsupported",
                f"reply audio of {fmt.width} bytes a sample (16-bit only)",
                close=False,
            )
        self._format, self._turn, self._queued_s, self._truncated = fmt, turn, 0.0, False

    async def chunk(self, data: dict[str, object], payload: bytes | None) -> None:
        """One ``audio-chunk`` of the reply (a chunk's own format wins over audio-start's)."""
        if self._format is None:
            self.begin(self._turn, data)
        fmt = PcmFormat.from_data(data) if "rate" in data else self._format
        assert fmt is not None
        if fmt.width != 2 or not payload:
            return
        whole = len(payload) - len(payload) % fmt.frame_bytes
        x = np.frombuffer(payload[:whole], dtype="<i2")
        if fmt.channels > 1:
            x = x.reshape(-1, fmt.channels).mean(axis=1)
        samples: Int16Array = x.astype(np.int16)
        seconds = len(samples) / fmt.rate
        if self._queued_s + seconds > self.max_s:
            if not self._truncated:
                log.warning("reply longer than %.0f s: the rest is not played", self.max_s)
                self._truncated = True
            return
        self._queued_s += seconds
        await self._queue.put(_Block(samples, fmt.rate, self._turn))

    async def end(self) -> None:
        """``audio-stop``: once all of it has played, ``on_played`` is called."""
        self._format = None
        await self._queue.put(_End(self._turn))

    def stop(self) -> None:
        """Silence the sink now and drop the queued audio (a barge-in)."""
        self._turn = -1
        while not self._queue.empty():
            self._queue.get_nowait()
        self.sink.stop()
        self._format = None

    async def run(self) -> None:
        """The playing task (runs until cancelled)."""
        while True:
            item = await self._queue.get()
            if item.turn != self._turn:
                continue  # stopped meanwhile
            if isinstance(item, _End):
                await self.on_played(item.turn)
                continue
            await asyncio.to_thread(self.sink.write, item.samples, item.rate_hz)
