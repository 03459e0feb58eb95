"""A bounded client for an OpenAI-compatible server's streamed chat completions.

One request per reply: ``POST …/chat/completions`` with ``"stream": true``, HTTP/1.1
with ``Connection: close`` on a socket of its own (TLS where the URL is https), read as
server-sent events. Nothing is read from the server without a bound: the status line
and headers (:data:`MAX_HEADER_BYTES`), a line of the stream (:data:`MAX_LINE_BYTES`,
which also bounds one event's JSON), the whole body (:data:`MAX_BODY_BYTES`) and the
number of events (the caller's ``max_events``); a stream that breaks one raises
:class:`StreamError` naming the bound, never the text.

Every wait is sliced (:data:`POLL_S`): between slices the cancel event and the caller's
deadline are read, so a cancelled request is closed within one slice, whatever the
server does, and a silent server is given up on at the deadline (:class:`Timeout`).
"""

from __future__ import annotations

import errno
import json
import os
import select
import socket
import ssl
import time
from collections.abc import Iterator
from typing import Any

from hearthvox.config import ServerUrl

POLL_S = 0.05
"""The longest a read or a connect waits before the cancel event and deadline are read."""
MAX_HEADER_BYTES = 16 * 1024
MAX_LINE_BYTES = 64 * 1024
"""One line of the event stream (an event's JSON is one ``data:`` line)."""
MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_ERROR_BYTES = 4096
"""What is read of an error reply's body (for its message)."""
RECV_BYTES = 16 * 1024
_JSON_DEPTH = 32
"""Nesting deeper than this in an event is refused before it is parsed."""


class Cancelled(Exception):
    """The cancel event was set: the connection is closed."""


class Timeout(Exception):
    """The caller's deadline passed with nothing (or not enough) from the server."""


class StreamError(Exception):
    """The server refused the request or sent what is not a bounded event stream. Its
    message says which, in one line (no text of the reply)."""


class ChatStream:
    """One streamed request. :meth:`events` yields each event's JSON object; set
    :attr:`deadline` (a ``time.monotonic()`` value) before each step. Close it."""

    def __init__(
        self,
        url: ServerUrl,
        body: dict[str, Any],
        cancel: Any,
        *,
        connect_s: float,
        deadline: float,
        api_key: str = "",
        max_events: int = 1024,
    ) -> None:
        self.url = url
        self.cancel = cancel
        self.deadline = deadline
        self.max_events = max_events
        self.events_read = 0
        self.bytes_read = 0
        self._buf = bytearray()
        self._sock: socket.socket | None = None
        self._sock = _connect(url, cancel, time.monotonic() + connect_s)
        payload = json.dumps(body).encode()
        head = [
            f"POST {url.path} HTTP/1.1",
            f"Host: {_host_header(url)}",
            "User-Agent: hearthvox",
            "Accept: text/event-stream",
            "Content-Type: application/json",
            f"Content-Length: {len(payload)}",
            "Connection: close",
        ]
        if api_key:
            head.append(f"Authorization: Bearer {api_key}")
        self._send("\r\n".join(head).encode() + b"\r\n\r\n" + payload)

    def close(self) -> None:
        if self._sock is not None:
            sock, self._sock = self._sock, None
            sock.close()

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ reading

    def events(self) -> Iterator[dict[str, Any]]:
        """The events' JSON objects until ``data: [DONE]`` or the end of the body."""
        status, headers = self._head()
        body = self._body(headers)
        if status != 200:
            raise StreamError(f"HTTP {status}{_error_message(body)}")
        kind = headers.get("content-type", "")
        if not kind.startswith("text/event-stream"):
            raise StreamError(f"HTTP 200 but not an event stream (Content-Type: {kind[:60]!r})")
        data: list[bytes] = []
        size = 0
        for line in _lines(body, 4 * self.max_events + 64):
            if line.startswith(b"data:"):
                part = line[5:].removeprefix(b" ")
                size += len(part)
                if size > MAX_LINE_BYTES:
                    raise StreamError(f"an event over {MAX_LINE_BYTES} bytes")
                data.append(part)
                continue
            if line or not data:  # comments (": ping"), event:, id:, retry:
                continue
            raw, data, size = b"\n".join(data), [], 0
            if raw.strip() == b"[DONE]":
                return
            self.events_read += 1
            if self.events_read > self.max_events:
                raise StreamError(f"more than {self.max_events} events")
            yield _event(raw)

    def _send(self, data: bytes) -> None:
        sock = self._live()
        view = memoryview(data)
        while view:
            self._wait(sock, write=True)
            try:
                view = view[sock.send(view) :]
            except (TimeoutError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                continue
            except OSError as exc:
                raise StreamError(f"the request could not be sent: {_why(exc)}") from None

    def _recv(self) -> bytes:
        sock = self._live()
        while True:
            self._wait(sock)
            try:
                data = sock.recv(RECV_BYTES)
            except (TimeoutError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                continue
            except OSError as exc:
                raise StreamError(f"the connection failed: {_why(exc)}") from None
            self.bytes_read += len(data)
            if self.bytes_read > MAX_BODY_BYTES:
                raise StreamError(f"a reply over {MAX_BODY_BYTES // (1024 * 1024)} MiB")
            return data

    def _wait(self, sock: socket.socket, write: bool = False) -> None:
        """Until ``sock`` is ready (or holds decrypted bytes), reading the cancel event
        and the deadline every :data:`POLL_S`."""
        while True:
            if self.cancel.is_set():
                raise Cancelled
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise Timeout
            if not write and isinstance(sock, ssl.SSLSocket) and sock.pending():
                return
            watched = ([], [sock]) if write else ([sock], [])
            ready = select.select(*watched, [], min(left, POLL_S))
            if ready[0] or ready[1]:
                return

    def _live(self) -> socket.socket:
        if self._sock is None:
            raise StreamError("the connection is closed")
        return self._sock

    def _fill(self) -> bool:
        """Read more into the buffer; False at the end of the connection."""
        data = self._recv()
        self._buf += data
        return bool(data)

    def _line(self, limit: int) -> bytes:
        """One CRLF- or LF-ended line of the head or of the chunked framing."""
        while (end := self._buf.find(b"\n")) < 0:
            if len(self._buf) > limit:
                raise StreamError(f"a header line over {limit} bytes")
            if not self._fill():
                raise StreamError("the server closed the connection mid-reply")
        line = bytes(self._buf[:end]).rstrip(b"\r")
        del self._buf[: end + 1]
        return line

    def _head(self) -> tuple[int, dict[str, str]]:
        status_line = self._line(MAX_HEADER_BYTES)
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise StreamError("the server's reply is not HTTP/1.x")
        headers: dict[str, str] = {}
        size = len(status_line)
        while line := self._line(MAX_HEADER_BYTES):
            size += len(line)
            if size > MAX_HEADER_BYTES or len(headers) >= 100:
                raise StreamError(f"headers over {MAX_HEADER_BYTES} bytes")
            name, sep, value = line.decode("latin-1").partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        return int(parts[1]), headers

    def _body(self, headers: dict[str, str]) -> Iterator[bytes]:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return self._chunked()
        length = headers.get("content-length", "")
        return self._sized(int(length)) if length.isdigit() else self._until_closed()

    def _chunked(self) -> Iterator[bytes]:
        while True:
            size_text = self._line(256).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise StreamError("a broken chunk size in the reply") from None
            if size == 0:
                return
            if size > MAX_BODY_BYTES:
                raise StreamError(f"a chunk over {MAX_BODY_BYTES // (1024 * 1024)} MiB")
            yield from self._sized(size)
            self._line(256)  # the CRLF after the chunk

    def _sized(self, size: int) -> Iterator[bytes]:
        while size > 0:
            if not self._buf and not self._fill():
                raise StreamError("the server closed the connection mid-reply")
            piece = bytes(self._buf[:size])
            del self._buf[: len(piece)]
            size -= len(piece)
            yield piece

    def _until_closed(self) -> Iterator[bytes]:
        while self._buf or self._fill():
            piece = bytes(self._buf)
            self._buf.clear()
            yield piece


def _connect(url: ServerUrl, cancel: Any, deadline: float) -> socket.socket:
    """A connected socket (TLS done for https), within ``deadline``; cancel is read
    every :data:`POLL_S`. Raises Cancelled, Timeout or StreamError (refused, no route)."""
    try:
        infos = socket.getaddrinfo(url.host, url.port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise StreamError(f"cannot resolve {url.host}: {_why(exc)}") from None
    error = "no address"
    for family, kind, proto, _, address in infos[:4]:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            code = sock.connect_ex(address)
            while code in (errno.EINPROGRESS, errno.EALREADY, errno.EAGAIN):
                if cancel.is_set():
                    raise Cancelled
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Timeout
                if select.select([], [sock], [], min(left, POLL_S))[1]:
                    code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code != 0:
                error = os.strerror(code)
                sock.close()
                continue
            sock.setblocking(True)
            if url.scheme == "https":
                sock = _tls(sock, url.host, deadline)
            sock.settimeout(POLL_S)  # a read after select never blocks longer (TLS records)
            return sock
        except BaseException:
            sock.close()
            raise
    raise StreamError(f"cannot connect to {url.where}: {error}")


def _tls(sock: socket.socket, host: str, deadline: float) -> socket.socket:
    sock.settimeout(max(0.01, deadline - time.monotonic()))
    try:
        wrapped = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
    except (ssl.SSLError, ssl.CertificateError) as exc:
        raise StreamError(f"TLS with {host} failed: {_why(exc)}") from None
    except TimeoutError:
        raise Timeout from None
    return wrapped


def _lines(body: Iterator[bytes], max_lines: int) -> Iterator[bytes]:
    """The event stream's lines (LF or CRLF ended), each at most MAX_LINE_BYTES, at
    most ``max_lines`` of them."""
    buf = bytearray()
    n = 0
    for piece in body:
        buf += piece
        start = 0
        while (end := buf.find(b"\n", start)) >= 0:
            n += 1
            if n > max_lines:
                raise StreamError(f"more than {max_lines} lines")
            yield bytes(buf[start:end]).removesuffix(b"\r")
            start = end + 1
        del buf[:start]
        if len(buf) > MAX_LINE_BYTES:
            raise StreamError(f"a line over {MAX_LINE_BYTES} bytes")
    if buf:
        yield bytes(buf).removesuffix(b"\r")
    yield b""  # the end of the body ends an event not yet dispatched


def _event(raw: bytes) -> dict[str, Any]:
    if _depth(raw) > _JSON_DEPTH:
        raise StreamError(f"an event nested deeper than {_JSON_DEPTH}")
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        raise StreamError("an event that is not JSON") from None
    if not isinstance(value, dict):
        raise StreamError("an event that is not a JSON object")
    return value


def _depth(raw: bytes) -> int:
    """The deepest nesting of brackets outside strings (an upper bound is enough)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 92:  # backslash
                escaped = True
            elif byte == 34:
                in_string = False
        elif byte == 34:
            in_string = True
        elif byte in (91, 123):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (93, 125):
            depth -= 1
    return deepest


def _error_message(body: Iterator[bytes]) -> str:
    """``: the server's message`` from an error reply (bounded, printable, one line)."""
    raw = b""
    try:
        for piece in body:
            raw += piece
            if len(raw) >= MAX_ERROR_BYTES:
                break
    except (StreamError, Timeout):
        pass
    text = raw[:MAX_ERROR_BYTES].decode("utf-8", "replace")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        value = None
    if isinstance(value, dict):
        error = value.get("error", value.get("detail", value))
        message = error.get("message", "") if isinstance(error, dict) else error
        text = message if isinstance(message, str) else ""
    line = " ".join("".join(c for c in text if c.isprintable()).split())
    return f": {line[:160]}" if line else ""


def _host_header(url: ServerUrl) -> str:
    default = url.port == (443 if url.scheme == "https" else 80)
    return url.where.rsplit(":", 1)[0] if default else url.where


def _why(exc: BaseException) -> str:
    return " ".join(str(getattr(exc, "strerror", None) or exc).split()) or type(exc).__name__
