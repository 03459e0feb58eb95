"""The hub's side of one satellite connection: connect, describe, ``run-satellite``,
then bounded reads and timed writes.

Every frame a satellite sends is read with :func:`hearthvox.protocol.framing.read_event`
under :data:`LIMITS`: a header line, data or payload over its limit, or a frame that
stops half way, ends the connection (and the hub reconnects). A satellite may stay
silent for long (one that streams only after its own wake word), so the idle limit
is long; TCP keepalive finds a peer that vanished without closing.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass

from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.satellite import RunSatellite

from hearthvox.config import satellite_address
from hearthvox.errors import HearthvoxError
from hearthvox.protocol.framing import FrameLimits, ProtocolError, read_event, write_event

LIMITS = FrameLimits(idle_timeout_s=24 * 3600.0, handshake_timeout_s=10.0)
CONNECT_TIMEOUT_S = 5.0


class SatelliteGone(HearthvoxError):
    """The satellite could not be reached, closed the connection or broke the protocol."""


@dataclass(frozen=True)
class SatelliteInfo:
    """What the satellite's ``info`` says of itself (for the log)."""

    name: str


def _keepalive(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is None:
        return
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 5)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)


class SatelliteLink:
    """One open connection to a satellite."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, uri: str) -> tuple[SatelliteLink, SatelliteInfo]:
        """Connect, ``describe`` (its ``info``), and start it with ``run-satellite``."""
        host, port = satellite_address(uri)
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, limit=LIMITS.max_header_bytes),
                CONNECT_TIMEOUT_S,
            )
        except (OSError, TimeoutError) as exc:
            raise SatelliteGone(f"cannot connect: {exc or type(exc).__name__}") from None
        _keepalive(writer)
        link = cls(reader, writer)
        try:
            await link.send(Describe().event())
            info = await link._info()
            await link.send(RunSatellite().event())
        except BaseException:
            await link.close()
            raise
        return link, info

    async def _info(self) -> SatelliteInfo:
        first = True
        for _ in range(16):  # a few stray events before the info are tolerated
            event = await self.receive(first=first)
            first = False
            if Info.is_type(event.type):
                satellite = event.data.get("satellite")
                name = satellite.get("name") if isinstance(satellite, dict) else None
                if satellite is None:
                    raise SatelliteGone("its info describes no satellite")
                return SatelliteInfo(name if isinstance(name, str) else "")
        raise SatelliteGone("no info after describe")

    async def receive(self, *, first: bool = False) -> Event:
        try:
            event = await read_event(self.reader, LIMITS, first=first)
        except ProtocolError as exc:
            raise SatelliteGone(f"{exc.code}: {exc.text}") from None
        except (ConnectionError, OSError) as exc:
            raise SatelliteGone(str(exc) or type(exc).__name__) from None
        if event is None:
            raise SatelliteGone("closed the connection")
        return event

    async def send(self, event: Event) -> None:
        try:
            await write_event(self.writer, event, LIMITS.write_timeout_s)
        except HearthvoxError as exc:  # ClientGone
            raise SatelliteGone(str(exc)) from None

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.writer.wait_closed(), 2.0)
