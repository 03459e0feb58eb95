"""Strict Wyoming framing: read one event with limits and timeouts, write one with a timeout.

A Wyoming frame is a JSON header line (``type``, optional ``data``,
``data_length``, ``payload_length``), then ``data_length`` bytes of extra JSON
data merged over ``data``, then ``payload_length`` bytes of binary payload.

The ``wyoming`` package's own reader turns every malformed frame into a silent
end of stream; a server needs to tell the client what was wrong and to bound
what one client can make it hold. :func:`read_event` checks the header's shape
and every length against :class:`FrameLimits`, and raises
:class:`ProtocolError` (with a Wyoming error code) for anything malformed.
Events are ``wyoming.event.Event`` objects, and writing uses the package's
``async_write_event``.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from wyoming.event import Event, async_write_event

from hearthvox.errors import HearthvoxError


@dataclass(frozen=True)
class FrameLimits:
    max_header_bytes: int = 64 * 1024
    """A header line longer than this is refused (the JSON of one event)."""
    max_data_bytes: int = 1 << 20
    """Largest ``data_length`` accepted."""
    max_payload_bytes: int = 4 << 20
    """Largest ``payload_length`` accepted (about 20 s of 48 kHz stereo 16-bit audio)."""
    frame_timeout_s: float = 10.0
    """Once a frame has begun, all of it must arrive within this time."""
    idle_timeout_s: float = 60.0
    """A connection that sends nothing for this long is closed."""
    handshake_timeout_s: float = 10.0
    """A new connection must send its first event within this time."""
    write_timeout_s: float = 10.0
    """A client that does not take an event's bytes within this time is dropped."""


class ProtocolError(HearthvoxError):
    """A client broke the protocol. ``close``: the connection cannot go on after it."""

    def __init__(self, code: str, text: str, *, close: bool = True) -> None:
        super().__init__(text)
        self.code = code
        self.text = text
        self.close = close


class ClientGone(HearthvoxError):
    """The client closed the connection or stopped reading (a write timed out)."""


def _length(header: dict[str, Any], key: str, limit: int) -> int:
    value = header.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProtocolError("bad-frame", f"{key} must be a non-negative integer, got {value!r}")
    if value > limit:
        raise ProtocolError(
            "frame-too-large", f"{key} {value} is over this server's limit of {limit} bytes"
        )
    return value


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise ProtocolError("bad-frame", f"{what} is not valid UTF-8 JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ProtocolError("bad-frame", f"{what} must be a JSON object")
    return value


async def _exactly(reader: asyncio.StreamReader, n: int, key: str) -> bytes:
    try:
        return await reader.readexactly(n)
    except asyncio.IncompleteReadError as exc:
        raise ProtocolError(
            "bad-frame",
            f"connection ended inside a frame: {key} is {n} but only {len(exc.partial)} bytes came",
        ) from None


async def _rest_of_frame(reader: asyncio.StreamReader, first: bytes, limits: FrameLimits) -> Event:
    try:
        line = first if first == b"\n" else first + await reader.readline()
    except ValueError:  # the StreamReader's limit: no newline within max_header_bytes
        raise ProtocolError(
            "frame-too-large",
            f"header line longer than this server's limit of {limits.max_header_bytes} bytes",
        ) from None
    if not line.endswith(b"\n"):
        raise ProtocolError("bad-frame", "connection ended inside a header line")
    if len(line) > limits.max_header_bytes:
        raise ProtocolError(
            "frame-too-large",
            f"header line longer than this server's limit of {limits.max_header_bytes} bytes",
        )
    header = _json_object(line, "the header line")
    event_type = header.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise ProtocolError("bad-frame", "the header has no event type (a non-empty string)")
    data = header.get("data")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ProtocolError("bad-frame", "the header's data must be a JSON object")
    data_length = _length(header, "data_length", limits.max_data_bytes)
    payload_length = _length(header, "payload_length", limits.max_payload_bytes)
    if data_length:
        data.update(_json_object(await _exactly(reader, data_length, "data_length"), "data"))
    payload = await _exactly(reader, payload_length, "payload_length") if payload_length else None
    return Event(type=event_type, data=data, payload=payload)


async def read_event(
    reader: asyncio.StreamReader, limits: FrameLimits, *, first: bool = False
) -> Event | None:
    """The next event, or ``None`` when the client closed the connection between frames.

    Raises :class:`ProtocolError` for a malformed or over-size frame, one that stops
    arriving half way (``frame_timeout_s``), or an idle connection (``idle_timeout_s``;
    ``handshake_timeout_s`` for the ``first`` event of a connection).
    """
    idle_s = limits.handshake_timeout_s if first else limits.idle_timeout_s
    try:
        head = await asyncio.wait_for(reader.read(1), idle_s)
    except TimeoutError:
        what = "no first event" if first else "no event"
        raise ProtocolError("timeout", f"{what} for {idle_s:g} s") from None
    if not head:
        return None
    try:
        return await asyncio.wait_for(_rest_of_frame(reader, head, limits), limits.frame_timeout_s)
    except TimeoutError:
        raise ProtocolError(
            "timeout",
            f"frame incomplete after {limits.frame_timeout_s:g} s "
            "(does a length in the header promise more bytes than were sent?)",
        ) from None


async def write_event(writer: asyncio.StreamWriter, event: Event, timeout_s: float) -> None:
    """Send one event with the wyoming package's framing; :class:`ClientGone` if it cannot."""
    if writer.is_closing():
        raise ClientGone("connection closed")
    try:
        await asyncio.wait_for(async_write_event(event, writer), timeout_s)
    except TimeoutError:
        raise ClientGone(f"client took no data for {timeout_s:g} s") from None
    except (ConnectionError, RuntimeError) as exc:  # RuntimeError: transport already closed
        raise ClientGone(str(exc)) from None
