"""The satellite's listening socket: Home Assistant or a hearthvox hub connects to it.

One server connection at a time: a connection that sends anything but
``describe`` becomes the server connection and *replaces* the previous one,
which is closed (a server that restarted reconnects at once, without waiting
for its old connection to time out). ``describe`` is answered on any
connection without taking over. Every frame is read with the protocol
server's bounds (:mod:`hearthvox.protocol.framing`): a connection that sends a
malformed or over-size frame gets an ``error`` event, is closed with one log
line, and the satellite goes on serving. It listens on TCP only (Home Assistant
adopts a satellite by host and port), with ``serve``'s binding rules: loopback
unless remote access is asked for (the protocol has no authentication).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from dataclasses import dataclass, field, replace

from wyoming.error import Error
from wyoming.event import Event

from hearthvox.errors import ConfigError
from hearthvox.protocol.framing import ClientGone, ProtocolError, read_event, write_event
from hearthvox.protocol.server import TcpAddress, stop_serving
from hearthvox.satellite.options import SatelliteOptions
from hearthvox.satellite.session import Satellite

log = logging.getLogger(__name__)


class Connection:
    """One peer: sends are serialised and bounded (a peer that takes nothing is dropped)."""

    def __init__(self, writer: asyncio.StreamWriter, peer: str, timeout_s: float) -> None:
        self.writer = writer
        self.peer = peer
        self.timeout_s = timeout_s
        self.gone = False
        self._lock = asyncio.Lock()

    async def send(self, event: Event) -> None:
        if self.gone:
            return
        async with self._lock:
            try:
                await write_event(self.writer, event, self.timeout_s)
            except ClientGone as exc:
                if not self.gone:
                    log.warning("server connection from %s lost: %s", self.peer, exc)
                self.close()

    def close(self) -> None:
        self.gone = True
        self.writer.close()


@dataclass
class SatelliteServer:
    satellite: Satellite
    address: TcpAddress
    info: Event
    options: SatelliteOptions = field(default_factory=SatelliteOptions)
    bound: TcpAddress | None = None
    _server: asyncio.AbstractServer | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _active: Connection | None = None

    async def start(self) -> TcpAddress:
        limit = self.options.limits.max_header_bytes
        try:
            self._server = await asyncio.start_server(
                self._accept, self.address.host, self.address.port, limit=limit
            )
        except OSError as exc:
            raise ConfigError(f"cannot listen on {self.address.uri()}: {exc.strerror}") from exc
        port = self._server.sockets[0].getsockname()[1]
        self.bound = TcpAddress(self.address.host, port)
        return self.bound

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = str(writer.get_extra_info("peername") or "unix socket")
        sock = writer.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)  # a vanished peer
        conn = Connection(writer, peer, self.options.limits.write_timeout_s)
        task = asyncio.create_task(self._serve(reader, conn), name=f"satellite {peer}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _take_over(self, conn: Connection) -> None:
        old, self._active = self._active, conn
        if old is not None and old is not conn:
            log.info("server connection from %s replaces the one from %s", conn.peer, old.peer)
            self.satellite.detach(old)
            old.close()
        else:
            log.info("server connection from %s", conn.peer)
        self.satellite.attach(conn)

    async def _serve(self, reader: asyncio.StreamReader, conn: Connection) -> None:
        limits = self.options.limits
        server_limits = replace(limits, idle_timeout_s=self.options.server_idle_s)
        first = True
        try:
            while not conn.gone:
                active = self._active is conn
                event = await read_event(reader, server_limits if active else limits, first=first)
                first = False
                if event is None:
                    break
                if event.type == "describe":
                    await conn.send(self.info)
                    continue
                if self._active is not conn:
                    self._take_over(conn)
                await self.satellite.on_event(event)
        except ProtocolError as exc:
            log.warning("dropping the connection from %s: %s (%s)", conn.peer, exc.text, exc.code)
            with contextlib.suppress(ClientGone):
                await write_event(conn.writer, Error(exc.text, exc.code).event(), 1.0)
        except (ConnectionError, ClientGone) as exc:
            log.info("connection from %s ended: %s", conn.peer, exc)
        except Exception:  # a bug in one connection must not stop the satellite
            log.exception("connection from %s failed", conn.peer)
        finally:
            if self._active is conn:
                self._active = None
                self.satellite.detach(conn)
                log.info("server connection from %s closed", conn.peer)
            conn.close()

    async def close(self) -> None:
        await stop_serving(self._server, self._tasks)
        self._server = None
