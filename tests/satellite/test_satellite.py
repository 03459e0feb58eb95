"""``hearthvox satellite`` as a real subprocess, driven by a Wyoming server side written here
(as Home Assistant or a hearthvox hub drives it), on a recorded request."""

from __future__ import annotations

import asyncio
import signal
import socket
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from wyoming.event import async_read_event

from hearthvox.audio.wavio import write_wav

from .fakeserver import REPLY_RATE, REPLY_S, Session, run_turn
from .proc import LISTENING, Proc, hearthvox_satellite

HV_SEQUENCE = ["run-pipeline", "audio-start", "audio-chunk*", "audio-stop", "played"]
"""What hearthvox satellite sends in one turn, after run-satellite."""


@pytest.fixture(scope="module")
def satellite(
    time_request_wav: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Proc, int, Path]]:
    """One satellite for the module: the request file as its microphone, replies to a WAV."""
    home = tmp_path_factory.mktemp("hvhome")
    out = tmp_path_factory.mktemp("out") / "reply.wav"
    proc = hearthvox_satellite(
        "--uri", "tcp://127.0.0.1:0", "--input", str(time_request_wav), "--output", str(out),
        "--name", "test-sat", "--area", "kitchen", home=home,
    )  # fmt: skip
    try:
        port = int(proc.wait_for(LISTENING, 120).group(1))
        yield proc, port, out
    finally:
        if proc.popen.poll() is None:
            proc.stop()


@pytest.fixture(scope="module")
def hv_turn(satellite: tuple[Proc, int, Path]) -> Session:
    _proc, port, _out = satellite
    return asyncio.run(run_turn("127.0.0.1", port))


def test_describe_has_a_satellite_section(hv_turn: Session) -> None:
    assert hv_turn.info is not None and hv_turn.info.type == "info"
    sat = hv_turn.info.data["satellite"]
    assert sat["name"] == "test-sat"
    assert sat["area"] == "kitchen"
    assert sat["has_vad"] is True
    assert sat["active_wake_words"] == ["hey_jarvis"]


def test_one_turn_event_sequence(hv_turn: Session) -> None:
    assert hv_turn.kinds() == HV_SEQUENCE
    start = hv_turn.sent[0].data
    assert start["start_stage"] == "asr" and start["end_stage"] == "tts"
    assert start["wake_word_name"] == "hey_jarvis"
    # the command ("what time is it?", ~1.2 s) and its end, not the rest of the file
    assert 0.8 < hv_turn.command_audio_s < 3.5, hv_turn.command_audio_s
    assert hv_turn.played_after_s is not None


def test_hostile_server_is_dropped_and_the_satellite_goes_on(
    satellite: tuple[Proc, int, Path], hv_turn: Session
) -> None:
    proc, port, _out = satellite

    async def hostile(frame: bytes) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(frame)
        await writer.drain()
        async with asyncio.timeout(15):
            got = await reader.read()  # an error event, then the satellite closes
        writer.close()
        return got

    huge = b'{"type": "audio-chunk", "data": {}, "payload_length": 1000000000}\n'
    assert b'"frame-too-large"' in asyncio.run(hostile(huge))
    assert b'"bad-frame"' in asyncio.run(hostile(b"\xff\xfe garbage {\n"))
    assert b'"frame-too-large"' in asyncio.run(hostile(b"x" * 200_000))
    proc.wait_for("dropping the connection from .*frame-too-large", 5)

    # still serving: a new server side adopts it and describe answers
    async def describe() -> str:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b'{"type": "describe"}\n')
        await writer.drain()
        async with asyncio.timeout(10):
            event = await async_read_event(reader)
        writer.close()
        assert event is not None
        return event.type

    assert asyncio.run(describe()) == "info"
    dropped = [line for line in proc.lines if "dropping the connection" in line]
    assert len(dropped) == 3, dropped  # one line per hostile connection


def test_sigterm_exits_0_and_the_reply_was_played(
    satellite: tuple[Proc, int, Path], hv_turn: Session
) -> None:
    proc, _port, out = satellite
    assert proc.stop() == 0
    with wave.open(str(out), "rb") as wav:
        seconds = wav.getnframes() / wav.getframerate()
        assert wav.getframerate() == REPLY_RATE
    assert seconds == pytest.approx(REPLY_S, abs=0.05)


def test_busy_port_and_bad_uri_are_one_line(tmp_path: Path) -> None:
    quiet = tmp_path / "quiet.wav"
    write_wav(quiet, np.zeros(16000, dtype=np.int16), 16000)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = hearthvox_satellite("--uri", f"tcp://127.0.0.1:{port}", "--output", "none",
                                   "--input", str(quiet), home=tmp_path)  # fmt: skip
        assert proc.popen.wait(120) == 2
    proc.stop()
    errors = [line for line in proc.lines if "error" in line.lower()]
    assert len(errors) == 1 and f"cannot listen on tcp://127.0.0.1:{port}" in errors[0]
    for uri, fragment in [
        ("tcp://0.0.0.0:10700", "no authentication"),
        ("unix:///tmp/x.sock", "tcp://HOST:PORT"),
        ("http://x:1", "tcp://"),
    ]:
        bad = hearthvox_satellite("--uri", uri, "--input", str(quiet), "--output", "none",
                                  home=tmp_path)  # fmt: skip
        assert bad.popen.wait(60) == 2
        bad.stop()
        assert fragment in "\n".join(bad.lines), bad.lines
    for args, fragment in [
        (["--zeroconf"], "--zeroconf announces a network address"),
        (["--zeroconf-name", "x"], "--zeroconf-name is for --zeroconf"),
        (["--wake-on", "server"], "give --realtime with a file"),
    ]:
        bad = hearthvox_satellite(*args, "--input", str(quiet), home=tmp_path)
        assert bad.popen.wait(60) == 2
        bad.stop()
        assert fragment in "\n".join(bad.lines), bad.lines


def test_ctrl_c_exits_0(tmp_path: Path) -> None:
    quiet = tmp_path / "quiet.wav"
    write_wav(quiet, np.zeros(16000, dtype=np.int16), 16000)
    proc = hearthvox_satellite("--uri", "tcp://127.0.0.1:0", "--input", str(quiet),
                               "--output", "none", home=tmp_path)  # fmt: skip
    proc.wait_for(LISTENING, 120)
    proc.popen.send_signal(signal.SIGINT)
    assert proc.popen.wait(20) == 0
    proc.stop()
    assert any("stopping" in line for line in proc.lines), proc.lines
