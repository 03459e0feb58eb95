"""Malformed frames, limits, slow and stalled clients, many clients at once."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from pathlib import Path

from wyoming.audio import AudioStop
from wyoming.event import Event, async_read_event, async_write_event
from wyoming.info import Describe
from wyoming.tts import Synthesize
from wyoming.wake import Detect

from hearthvox.audio.wavio import load_wav
from hearthvox.engines import Engines
from hearthvox.evaluation.wer import normalize
from hearthvox.protocol.framing import FrameLimits
from hearthvox.protocol.options import ServerOptions

from .conftest import LIMITS, ServicesMaker
from .fuzz_frames import GENERATORS, Case, cases
from .test_wake import _wake_request, detect
from .wyclient import (
    TIMEOUT_S,
    ServerThread,
    client,
    read_until,
    synthesize,
    transcribe,
    transcript_text,
    wav_pcm,
)

ERROR_CODES = {"bad-frame", "frame-too-large", "unknown-event", "bad-event", "timeout"}


async def _raw(server: ServerThread, case: Case) -> list[Event]:
    """Send a case's bytes on a raw connection; every event until the server closes it."""
    reader, writer = await asyncio.open_connection(server.tcp.host, server.tcp.port)
    try:
        with contextlib.suppress(ConnectionError):
            writer.write(case.data)
            await writer.drain()
            if case.eof:
                writer.write_eof()
        events: list[Event] = []
        async with asyncio.timeout(TIMEOUT_S):
            while (event := await async_read_event(reader)) is not None:
                events.append(event)
        return events
    finally:
        writer.close()


async def _fuzz(server: ServerThread, batch: list[Case]) -> list[tuple[Case, list[Event]]]:
    results = await asyncio.gather(*(_raw(server, case) for case in batch))
    return list(zip(batch, results, strict=True))


def test_malformed_frames_get_an_error_and_the_server_keeps_serving(
    wyoming_server: ServerThread, corpus_dir: Path, engines: Engines
) -> None:
    all_cases = cases(seed=20240610, n=320, limits=LIMITS)
    assert {c.kind for c in all_cases} == set(GENERATORS)
    assert sum(not c.eof for c in all_cases) >= 3  # some stall until the frame timeout
    for start in range(0, len(all_cases), 32):
        for case, events in asyncio.run(_fuzz(wyoming_server, all_cases[start : start + 32])):
            assert events, f"{case.kind}: no answer to {case.data[:80]!r}"
            last = events[-1]
            assert last.type == "error", (case.kind, [e.type for e in events])
            assert last.data["code"] in ERROR_CODES, (case.kind, last.data)
            assert [e.type for e in events].count("error") == 1
    # still serving: a normal request works, and no connection was left behind
    path = corpus_dir / "spk2_snt4.wav"
    expected = engines.asr.transcribe(load_wav(path).samples).text
    assert transcript_text(asyncio.run(transcribe(wyoming_server.tcp, wav_pcm(path)))) == expected
    assert wyoming_server.wait_connections(0) == 0


def test_an_over_size_payload_is_named_in_the_error(wyoming_server: ServerThread) -> None:
    limit = LIMITS.max_payload_bytes
    header = b'{"type": "audio-chunk", "data": {"rate": 16000, "width": 2, "channels": 1}, '
    events = asyncio.run(
        _raw(wyoming_server, Case("x", header + b'"payload_length": %d}\n' % (limit + 2)))
    )
    assert [e.type for e in events] == ["error"]
    assert events[0].data["code"] == "frame-too-large"
    assert str(limit) in events[0].data["text"]


def test_too_much_audio_is_refused(new_services: ServicesMaker, corpus_dir: Path) -> None:
    options = ServerOptions(limits=LIMITS, max_audio_s=1.0)
    with ServerThread(new_services(), options) as server:

        async def run() -> list[Event]:
            c = client(server.tcp)
            await c.connect()
            try:
                from .wyclient import send_audio

                await send_audio(c, wav_pcm(corpus_dir / "spk1_snt1.wav"))
                return await read_until(c, "error")
            finally:
                await c.disconnect()

        events = asyncio.run(run())
    assert events[-1].data["code"] == "too-long"


async def _stalled_and_slow(server: ServerThread, corpus: Path, text: str) -> tuple[str, bytes]:
    # A: a frame that promises 4000 payload bytes and sends 10, then waits
    stalled_r, stalled_w = await asyncio.open_connection(server.tcp.host, server.tcp.port)
    stalled_w.write(
        b'{"type": "audio-chunk", "data": {"rate": 16000, "width": 2, '
        b'"channels": 1}, "payload_length": 4000}\n' + bytes(10)
    )
    # C: asks for a long answer and does not read it (a tiny receive buffer)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (server.tcp.host, server.tcp.port))
    slow_r, slow_w = await asyncio.open_connection(sock=sock)
    await async_write_event(Synthesize(text).event(), slow_w)
    # B: a normal client is served meanwhile
    heard = transcript_text(await transcribe(server.tcp, wav_pcm(corpus / "spk1_snt6.wav")))
    assert not stalled_r.at_eof()  # A is still waiting for its frame (timeout 30 s here)
    # the server drops C once a write has waited write_timeout_s; then C reads what it got
    await asyncio.to_thread(server.wait_connections, 1)  # only A left
    received = await asyncio.wait_for(slow_r.read(), TIMEOUT_S)
    for w in (stalled_w, slow_w):
        w.close()
    return heard, received


def test_stalled_and_non_reading_clients_do_not_hold_up_others(
    new_services: ServicesMaker, corpus_dir: Path
) -> None:
    limits = FrameLimits(frame_timeout_s=30.0, idle_timeout_s=30.0, write_timeout_s=1.0)
    long_text = " ".join(f"This is sentence number {i} of a long answer." for i in range(12))
    with ServerThread(new_services(), ServerOptions(limits=limits)) as server:
        heard, received = asyncio.run(_stalled_and_slow(server, corpus_dir, long_text))
    assert normalize(heard) == normalize("the pencils have all been used")
    assert b'"audio-start"' in received and b'"audio-stop"' not in received


# four different speakers' sentences that Whisper tiny.en gets word for word
EIGHT_FILES = ["spk1_snt1.wav", "spk1_snt3.wav", "spk2_snt1.wav", "spk2_snt4.wav"]


async def _eight(server: ServerThread, corpus: Path, engines: Engines) -> list[object]:
    wake = _wake_request(engines)
    jobs = [transcribe(server.tcp, wav_pcm(corpus / f)) for f in EIGHT_FILES]
    jobs += [
        synthesize(server.tcp, "The oven timer is done."),
        synthesize(server.tcp, "Good night."),
    ]
    jobs += [detect(server, wake, ["hey_jarvis"]), detect(server, wake, None)]
    return list(await asyncio.gather(*jobs))


def test_eight_clients_at_once(
    wyoming_server: ServerThread,
    corpus_dir: Path,
    corpus_rows: list[dict[str, str]],
    engines: Engines,
) -> None:
    reference = {r["file"]: r["transcript"] for r in corpus_rows}
    results = asyncio.run(_eight(wyoming_server, corpus_dir, engines))
    for events, name in zip(results[:4], EIGHT_FILES, strict=True):
        text = transcript_text(events)
        assert normalize(text) == normalize(reference[name])
    for _events, pcm in results[4:6]:
        assert pcm.duration_s > 0.5
    assert results[6] == results[7] == [("detection", "hey_jarvis")]


def test_a_busy_server_says_so(new_services: ServicesMaker) -> None:
    with ServerThread(new_services(), ServerOptions(limits=LIMITS, max_connections=1)) as server:

        async def run() -> tuple[list[str], Event | None]:
            first = client(server.tcp)
            await first.connect()
            await first.write_event(Describe().event())
            got = [e.type for e in await read_until(first, "info")]
            r, w = await asyncio.open_connection(server.tcp.host, server.tcp.port)
            refused = await asyncio.wait_for(async_read_event(r), TIMEOUT_S)
            w.close()
            await first.write_event(Detect().event())
            await first.write_event(AudioStop().event())
            got += [e.type for e in await read_until(first, "not-detected")]
            await first.disconnect()
            return got, refused

        got, refused = asyncio.run(run())
    assert got == ["info", "not-detected"]
    assert refused is not None and refused.data["code"] == "busy"
