"""The Wyoming server: binds ``tcp://HOST:PORT`` or ``unix://PATH``, one task per connection.

The protocol has no authentication, so :func:`check_bind` refuses any address
that is not loopback unless remote access is asked for explicitly.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from wyoming.error import Error

from hearthvox.errors import ConfigError
from hearthvox.protocol.connection import Connection
from hearthvox.protocol.framing import ClientGone, write_event
from hearthvox.protocol.options import ServerOptions
from hearthvox.protocol.services import Services

log = logging.getLogger(__name__)

DEFAULT_PORT = 10550
"""Clear of the Wyoming ports in common use: 10200 Piper, 10300 Whisper, 10400
openWakeWord, 10700 satellites (``hearthvox satellite`` keeps that one)."""
DEFAULT_URI = f"tcp://127.0.0.1:{DEFAULT_PORT}"


@dataclass(frozen=True)
class TcpAddress:
    host: str
    port: int

    def uri(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp://{host}:{self.port}"


@dataclass(frozen=True)
class UnixAddress:
    path: Path

    def uri(self) -> str:
        return f"unix://{self.path}"


Address = TcpAddress | UnixAddress


def parse_uri(uri: str) -> Address:
    """``tcp://HOST:PORT`` (``[::1]`` for IPv6) or ``unix://PATH``."""
    parts = urlsplit(uri)
    if parts.scheme == "unix":
        path = parts.netloc + parts.path
        if not path:
            raise ConfigError(f"{uri!r}: give a socket path, e.g. unix:///run/hearthvox.sock")
        return UnixAddress(Path(path))
    if parts.scheme != "tcp":
        raise ConfigError(f"{uri!r}: the address must start with tcp:// or unix://")
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"{uri!r}: the port must be a number from 0 to 65535") from None
    if not parts.hostname or port is None:
        raise ConfigError(f"{uri!r}: give a host and a port, e.g. {DEFAULT_URI}")
    return TcpAddress(parts.hostname, port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_bind(address: Address, allow_remote: bool, how: str = "pass --allow-remote") -> None:
    """Refuse a non-loopback TCP address unless ``allow_remote`` (``how`` says how to allow it)."""
    if isinstance(address, TcpAddress) and not allow_remote and not is_loopback(address.host):
        raise ConfigError(
            f"{address.uri()} is reachable from other machines, and the Wyoming protocol has "
            "no authentication: anyone who can reach it can use the models. Bind a loopback "
            f"address (tcp://127.0.0.1:PORT) or a unix:// socket, or {how} to accept that."
        )


def _clear_stale_socket(path: Path) -> None:
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ConfigError(f"{path} exists and is not a socket; choose another path")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(str(path))
        except OSError:
            path.unlink(missing_ok=True)  # nobody listens: left over from a previous run
            return
    raise ConfigError(f"{path}: another server is listening on this socket")


@dataclass
class WyomingServer:
    services: Services
    address: Address
    options: ServerOptions = field(default_factory=ServerOptions)
    _server: asyncio.AbstractServer | None = None
    _tasks: dict[asyncio.Task[None], Connection] = field(default_factory=dict)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    bound: Address | None = None
    """Where it listens once started (with the real port when port 0 was asked)."""

    async def start(self) -> Address:
        limit = self.options.limits.max_header_bytes
        try:
            if isinstance(self.address, UnixAddress):
                _clear_stale_socket(self.address.path)
                self._server = await asyncio.start_unix_server(
                    self._accept, path=str(self.address.path), limit=limit
                )
                self.bound = self.address
            else:
                self._server = await asyncio.start_server(
                    self._accept, self.address.host, self.address.port, limit=limit
                )
                port = self._server.sockets[0].getsockname()[1]
                self.bound = TcpAddress(self.address.host, port)
        except OSError as exc:
            raise ConfigError(f"cannot listen on {self.address.uri()}: {exc.strerror}") from exc
        log.info("serving Wyoming on %s", self.bound.uri())
        return self.bound

    def _make_room(self) -> bool:
        """When every slot is taken, end the connection that has waited longest for an
        event, if that is at least ``evict_idle_s``: idle clients cannot keep others out."""
        now = asyncio.get_running_loop().time()
        idle = [(c.idle_since, t) for t, c in self._tasks.items() if c.idle_since is not None]
        if not idle:
            return False
        since, task = min(idle, key=lambda pair: pair[0])
        if now - since < self.options.evict_idle_s:
            return False
        log.info("closing a connection idle for %.1f s to make room", now - since)
        task.cancel()
        self._ended(task)
        return True

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = str(writer.get_extra_info("peername") or "unix socket")
        if len(self._tasks) >= self.options.max_connections and not self._make_room():
            log.warning("refusing a connection from %s: %d open", peer, len(self._tasks))
            with contextlib.suppress(ClientGone):
                busy = Error("server busy: too many connections, try again", "busy")
                await write_event(writer, busy.event(), self.options.limits.write_timeout_s)
            writer.close()
            return
        sock = writer.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.options.send_buffer_bytes)
        # the connection runs in a task of its own, so that close() can cancel it
        # without cancelling the task asyncio made for this callback
        connection = Connection(self.services, self.options, reader, writer, peer)
        task = asyncio.create_task(self._run(connection, writer), name=f"wyoming {peer}")
        self._tasks[task] = connection
        task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._tasks.pop(task, None)
        self._changed.set()

    async def _run(self, connection: Connection, writer: asyncio.StreamWriter) -> None:
        try:
            await connection.run()
        except Exception:  # a bug in one connection must not take the server down
            log.exception("connection from %s failed", connection.peer)
            writer.close()

    @property
    def connections(self) -> int:
        return len(self._tasks)

    async def wait_connections(self, at_most: int) -> int:
        """Wait until at most ``at_most`` connections are open (bound it with a timeout)."""
        while len(self._tasks) > at_most:
            self._changed.clear()
            await self._changed.wait()
        return len(self._tasks)

    async def close(self) -> None:
        """Stop listening, end every connection, remove the unix socket."""
        await stop_serving(self._server, self._tasks)
        self._server = None
        if isinstance(self.address, UnixAddress):
            self.address.path.unlink(missing_ok=True)


async def stop_serving(
    server: asyncio.AbstractServer | None, tasks: Iterable[asyncio.Task[Any]]
) -> None:
    """Stop listening, cancel every connection's task and wait for them, then for the
    server to close (a Wyoming server's or a satellite's)."""
    if server is not None:
        server.close()
    pending = list(tasks)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
    if server is not None:
        await server.wait_closed()
