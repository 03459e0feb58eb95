"""``hearthvox serve`` as a user runs it: a real subprocess on 127.0.0.1 port 0, and the
address checks that keep the unauthenticated protocol off the network by default."""

from __future__ import annotations

import asyncio
import os
import re
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from wyoming.client import AsyncClient
from wyoming.info import Describe, Info

from hearthvox.cli import main
from hearthvox.evaluation.wer import normalize
from hearthvox.protocol.server import TcpAddress, UnixAddress

from .conftest import OPTIONS, ServicesMaker
from .wyclient import TIMEOUT_S, ServerThread, transcribe, transcript_text, wav_pcm

READY = re.compile(r"serving Wyoming on tcp://127\.0\.0\.1:(\d+) ")
STARTUP_S = 180.0  # loading the models on a busy 2-core machine


def _wait_ready(proc: subprocess.Popen[bytes]) -> int:
    """The port from the 'serving Wyoming on ...' line on stderr (bounded wait)."""
    assert proc.stderr is not None
    fd = proc.stderr.fileno()
    seen = b""
    deadline = time.monotonic() + STARTUP_S
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while time.monotonic() < deadline and sel.select(timeout=deadline - time.monotonic()):
            data = os.read(fd, 4096)  # unbuffered: select() sees everything not yet read
            if not data:
                break
            seen += data
            if m := READY.search(seen.decode(errors="replace")):
                return int(m.group(1))
    raise AssertionError(f"serve did not get ready: {seen.decode(errors='replace')}")


async def _describe(uri: str) -> Info:
    c = AsyncClient.from_uri(uri, connect_timeout=TIMEOUT_S, read_timeout=TIMEOUT_S)
    await c.connect()
    try:
        await c.write_event(Describe().event())
        while (event := await c.read_event()) is not None:
            if event.type == "info":
                return Info.from_event(event)
        raise AssertionError("no info")
    finally:
        await c.disconnect()


def test_serve_subprocess_transcribes_like_the_transcribe_command(corpus_dir: Path) -> None:
    path = corpus_dir / "spk2_snt2.wav"
    cmd = [sys.executable, "-m", "hearthvox"]
    proc = subprocess.Popen(
        [*cmd, "serve", "--uri", "tcp://127.0.0.1:0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        bufsize=0,
        env=os.environ.copy(),
    )
    try:
        port = _wait_ready(proc)
        address = TcpAddress("127.0.0.1", port)
        info = asyncio.run(_describe(address.uri()))
        assert info.asr and info.tts and info.wake
        heard = transcript_text(asyncio.run(transcribe(address, wav_pcm(path))))
        cli = subprocess.run(
            [*cmd, "transcribe", str(path)], capture_output=True, text=True, timeout=300
        )
        assert cli.returncode == 0, cli.stderr
        _, expected = cli.stdout.strip().split("\t", 1)
        assert normalize(heard) == normalize(expected) != []
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=TIMEOUT_S) == 0
        assert proc.stderr is not None and b"stopping" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=TIMEOUT_S)


def test_unix_socket(new_services: ServicesMaker, tmp_path: Path) -> None:
    sock = tmp_path / "hv.sock"
    with ServerThread(new_services(), OPTIONS, UnixAddress(sock)) as server:
        assert server.bound == UnixAddress(sock) and sock.is_socket()
        info = asyncio.run(_describe(f"unix://{sock}"))
        assert info.tts[0].voices[0].name == "en_US-joe-medium"
    assert not sock.exists()
    # a socket file left behind by a crashed server is taken over
    import socket

    with socket.socket(socket.AF_UNIX) as stale:
        stale.bind(str(sock))
    with ServerThread(new_services(), OPTIONS, UnixAddress(sock)):
        assert asyncio.run(_describe(f"unix://{sock}")).asr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--uri", "tcp://0.0.0.0:10700"], "no authentication"),
        (["--uri", "tcp://192.168.1.20:10700"], "--allow-remote"),
        (["--uri", "tcp://my-laptop.local:10700"], "--allow-remote"),
        (["--uri", "http://127.0.0.1:10700"], "tcp:// or unix://"),
        (["--uri", "tcp://127.0.0.1"], "give a host and a port"),
        (["--uri", "tcp://127.0.0.1:99999"], "port"),
        (["--uri", "unix://"], "socket path"),
        (["--zeroconf"], "--allow-remote"),
    ],
)
def test_serve_refuses_before_loading_anything(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["serve", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output.replace("\n", " ")


def test_serve_refuses_a_regular_file_as_socket(tmp_path: Path) -> None:
    from hearthvox.errors import ConfigError
    from hearthvox.protocol.server import _clear_stale_socket

    taken = tmp_path / "notes.txt"
    taken.write_text("mine")
    with pytest.raises(ConfigError, match="not a socket"):
        _clear_stale_socket(taken)
    assert taken.read_text() == "mine"
