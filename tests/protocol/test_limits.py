"""Bounds before work on the Wyoming server: audio formats and the duration budget checked
from what a chunk declares before any conversion, a deadline for the first event, idle
connections giving way when every slot is taken."""

from __future__ import annotations

import asyncio
import json

import pytest
from wyoming.event import Event, async_read_event

from hearthvox.protocol.framing import FrameLimits
from hearthvox.protocol.options import ServerOptions

from .conftest import LIMITS, ServicesMaker
from .fuzz_frames import Case
from .test_robustness import _raw
from .wyclient import TIMEOUT_S, ServerThread


def _frame(kind: str, data: dict[str, object], payload: bytes = b"") -> bytes:
    header: dict[str, object] = {"type": kind, "data": data}
    if payload:
        header["payload_length"] = len(payload)
    return json.dumps(header).encode() + b"\n" + payload


async def _exchange(server: ServerThread, data: bytes) -> list[Event]:
    """Send ``data`` (no half-close), then every event until the server closes it."""
    return await _raw(server, Case("limits", data, eof=False))


async def _ping(server: ServerThread) -> str | None:
    reader, writer = await asyncio.open_connection(server.tcp.host, server.tcp.port)
    try:
        writer.write(_frame("ping", {"text": "x"}))
        await writer.drain()
        event = await asyncio.wait_for(async_read_event(reader), TIMEOUT_S)
        return None if event is None else event.type
    finally:
        writer.close()


@pytest.mark.parametrize(
    ("fmt", "fragment"),
    [
        ({"rate": 10, "width": 2, "channels": 1}, "audio rate 10 Hz is out of range (8000 to"),
        ({"rate": 1, "width": 1, "channels": 1}, "audio rate 1 Hz is out of range"),
        ({"rate": 384_001, "width": 2, "channels": 1}, "out of range"),
        ({"rate": 16000, "width": 2, "channels": 17}, "channels 17 is out of range (1 to 16)"),
    ],
)
def test_a_chunk_declaring_a_rate_out_of_range_is_refused_before_conversion(
    wyoming_server: ServerThread, fmt: dict[str, object], fragment: str
) -> None:
    """Was 10.7 GB and 22 s of a blocked loop for 256 KiB declaring rate 10."""
    data = _frame("transcribe", {}) + _frame("audio-chunk", fmt, bytes(256 * 1024))
    events = asyncio.run(_exchange(wyoming_server, data))
    assert [e.type for e in events] == ["error"]
    assert events[0].data["code"] == "bad-event" and fragment in events[0].data["text"]
    assert asyncio.run(_ping(wyoming_server)) == "pong"


def test_the_duration_budget_is_checked_from_the_declared_size(
    new_services: ServicesMaker,
) -> None:
    fmt = {"rate": 8000, "width": 1, "channels": 1}
    with ServerThread(new_services(), ServerOptions(limits=LIMITS, max_audio_s=1.0)) as server:
        # one chunk of 2 s (16000 bytes at 8 kHz, 8-bit): refused whole, not after resampling
        one = asyncio.run(
            _exchange(server, _frame("transcribe", {}) + _frame("audio-chunk", fmt, bytes(16000)))
        )
        # 0.75 s, then 0.5 s more: the sum is over the budget
        two = asyncio.run(
            _exchange(
                server,
                _frame("transcribe", {})
                + _frame("audio-start", fmt)
                + _frame("audio-chunk", fmt, bytes(6000))
                + _frame("audio-chunk", fmt, bytes(4000)),
            )
        )
    for events in (one, two):  # transcript-start first when the server streams transcripts
        assert [e.type for e in events][-1:] == ["error"] and len(events) <= 2
        assert events[-1].data["code"] == "too-long"
        assert "limit of 1 s" in events[-1].data["text"]


def test_a_connection_must_send_its_first_event_in_time(new_services: ServicesMaker) -> None:
    limits = FrameLimits(frame_timeout_s=0.5, idle_timeout_s=30.0, handshake_timeout_s=0.3)
    with ServerThread(new_services(), ServerOptions(limits=limits)) as server:
        events = asyncio.run(_exchange(server, b""))
    assert [e.type for e in events] == ["error"]
    assert events[0].data["code"] == "timeout"
    assert "no first event for 0.3 s" in events[0].data["text"]


async def _crowd(server: ServerThread, idle_s: float) -> tuple[list[bool], str | None]:
    """Fill every slot with connections that described and then went quiet, wait, then
    connect once more: the newcomer is served and the longest-idle one is closed."""
    held = []
    for _ in range(2):
        reader, writer = await asyncio.open_connection(server.tcp.host, server.tcp.port)
        writer.write(_frame("describe", {}))
        await writer.drain()
        assert (await asyncio.wait_for(async_read_event(reader), TIMEOUT_S)) is not None
        held.append((reader, writer))
    await asyncio.sleep(idle_s)
    newcomer = await _ping(server)
    closed = []
    for reader, writer in held:
        try:
            got = await asyncio.wait_for(reader.read(1), 0.5)
            closed.append(got == b"")
        except TimeoutError:
            closed.append(False)
        writer.close()
    return closed, newcomer


def test_idle_connections_give_way_when_every_slot_is_taken(new_services: ServicesMaker) -> None:
    options = ServerOptions(limits=LIMITS, max_connections=2, evict_idle_s=0.2)
    with ServerThread(new_services(), options) as server:
        closed, newcomer = asyncio.run(_crowd(server, idle_s=0.5))
    assert newcomer == "pong"
    assert closed == [True, False]  # the first one, idle the longest, made room
