"""Property-based fuzzing of Wyoming framing and event decoding.

:func:`read_event` on any bytes returns an event, ``None`` at a clean end, or a
:class:`ProtocolError` with a documented code. A real server on 127.0.0.1 port 0 (the
real engines) answers any sequence of events with documented event types and error
codes only, never ``internal``, stays within a bounded memory, and keeps serving.
Failing examples are kept as ``@example`` regression cases.
"""

from __future__ import annotations

import asyncio
import json
import resource
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from wyoming.event import Event, async_read_event

from hearthvox.bundles.default import default_model_paths
from hearthvox.config import Config
from hearthvox.engines import Engines
from hearthvox.protocol.framing import FrameLimits, ProtocolError, read_event
from hearthvox.protocol.options import ServerOptions
from hearthvox.protocol.services import make_services
from tests.protocol.wyclient import ServerThread

LIMITS = FrameLimits(
    max_header_bytes=4096,
    max_data_bytes=4096,
    max_payload_bytes=64 * 1024,
    frame_timeout_s=0.3,
    idle_timeout_s=5.0,
    handshake_timeout_s=2.0,
    write_timeout_s=5.0,
)
ERROR_CODES = {
    "bad-frame", "frame-too-large", "unknown-event", "bad-event", "timeout",
    "too-long", "unsupported", "engine-failed", "busy",
}  # fmt: skip
ANSWERS = {
    "info", "pong", "error", "transcript", "transcript-start", "transcript-chunk",
    "transcript-stop", "audio-start", "audio-chunk", "audio-stop", "synthesize-stopped",
    "detection", "not-detected",
}  # fmt: skip
TYPES = [
    "describe", "ping", "transcribe", "detect", "audio-start", "audio-chunk", "audio-stop",
    "synthesize", "synthesize-start", "synthesize-chunk", "synthesize-stop", "select-program",
]  # fmt: skip
RSS_LIMIT_MB = 2500  # the test process holds every model (~600 MiB) and the test tooling


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- framing on its own ------------------------------------------------------


def _decode(raw: bytes) -> list[Event] | ProtocolError:
    async def run() -> list[Event] | ProtocolError:
        reader = asyncio.StreamReader(limit=LIMITS.max_header_bytes)
        reader.feed_data(raw)
        reader.feed_eof()
        events: list[Event] = []
        try:
            for _ in range(100):
                event = await read_event(reader, LIMITS, first=not events)
                if event is None:
                    return events
                events.append(event)
        except ProtocolError as exc:
            return exc
        return events

    return asyncio.run(run())


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    header: dict[str, Any] = {"type": draw(st.sampled_from(TYPES) | st.text(max_size=12))}
    if draw(st.booleans()):
        header["data"] = draw(_json_values)
    extra = draw(st.binary(max_size=64) | st.builds(lambda v: json.dumps(v).encode(), _json_values))
    payload = draw(st.binary(max_size=256))
    for key, body in (("data_length", extra), ("payload_length", payload)):
        if draw(st.booleans()):
            header[key] = draw(st.sampled_from([len(body), len(body) + 1, -1, 2**40, "5", None]))
    line = json.dumps(header).encode() if draw(st.booleans()) else draw(st.binary(max_size=80))
    return line + b"\n" + extra + payload


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(frames(), min_size=1, max_size=3).map(b"".join) | st.binary(max_size=600))
@example(b'{"type": "audio-chunk", "payload_length": 1099511627776}\n')
@example(b'{"type": "x", "data_length": 3}\n[1]')
@example(b"[" * 3000 + b"\n")
@example(b"x" * 5000)
def test_any_bytes_decode_to_events_or_a_documented_error(raw: bytes) -> None:
    result = _decode(raw)
    if isinstance(result, ProtocolError):
        assert result.code in ERROR_CODES and "\n" not in result.text
    else:
        assert all(isinstance(e.type, str) and isinstance(e.data, dict) for e in result)


# -- a real server -----------------------------------------------------------


@pytest.fixture(scope="module")
def server(engines: Engines) -> Iterator[ServerThread]:
    services = make_services(engines, default_model_paths(), Config())
    with ServerThread(services, ServerOptions(limits=LIMITS, max_audio_s=5.0)) as thread:
        yield thread


_fmt = st.fixed_dictionaries(
    {
        "rate": st.sampled_from([1, 10, 7999, 8000, 16000, 48000, 384_001]) | st.integers(),
        "width": st.sampled_from([1, 2, 3, 4, 0, 7]),
        "channels": st.sampled_from([1, 2, 0, 17]),
    }
)


@st.composite
def events(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(TYPES))
    data: Any = draw(_json_values)
    payload = b""
    if kind in ("audio-start", "audio-chunk"):
        data = draw(_fmt)
        if kind == "audio-chunk":
            payload = draw(st.binary(max_size=2048))
    elif kind in ("synthesize", "synthesize-chunk"):
        data = {"text": draw(st.text(max_size=20) | st.integers())}
    elif kind in ("transcribe", "detect"):
        data = draw(
            st.fixed_dictionaries({}, optional={"language": _json_values, "names": _json_values})
        )
    header: dict[str, Any] = {"type": kind, "data": data}
    if payload:
        header["payload_length"] = len(payload)
    return json.dumps(header).encode() + b"\n" + payload


async def _session(server: ServerThread, raw: bytes) -> list[Event]:
    reader, writer = await asyncio.open_connection(server.tcp.host, server.tcp.port)
    got: list[Event] = []
    try:
        writer.write(raw)
        await writer.drain()
        writer.write_eof()
        async with asyncio.timeout(60):
            while (event := await async_read_event(reader)) is not None:
                got.append(event)
    except ConnectionError:
        pass  # the server closed after an error while we still wrote
    finally:
        writer.close()
    return got


def _ping(server: ServerThread) -> str | None:
    async def run() -> str | None:
        got = await _session(server, b'{"type": "ping", "data": {}}\n')
        return got[0].type if got else None

    return asyncio.run(run())


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(events(), min_size=1, max_size=4).map(b"".join))
@example(
    b'{"type": "transcribe", "data": {}}\n'
    b'{"type": "audio-chunk", "data": {"rate": 10, "width": 2, "channels": 1}, '
    b'"payload_length": 65536}\n' + bytes(65536)
)  # a chunk declaring rate 10 took 10.7 GB and blocked every client for 22 s
@example(
    b'{"type": "audio-chunk", "data": {"rate": 8000, "width": 1, "channels": 1}, '
    b'"payload_length": 60000}\n' + bytes(60000)
)  # 7.5 s declared: over this server's 5 s budget before any conversion
def test_any_events_get_documented_answers(server: ServerThread, raw: bytes) -> None:
    got = asyncio.run(_session(server, raw))
    assert {e.type for e in got} <= ANSWERS, [e.type for e in got]
    codes = [e.data.get("code") for e in got if e.type == "error"]
    assert set(codes) <= ERROR_CODES, codes
    assert _ping(server) == "pong"
    assert _rss_mb() < RSS_LIMIT_MB
