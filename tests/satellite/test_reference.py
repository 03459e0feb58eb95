"""The same scenario with the reference, ``wyoming-satellite`` 1.0.0 (its own venv,
``.venv-satellite``), and the event sequences side by side (docs/satellite.md).

wyoming-satellite has no wake word of its own: its ``--wake-uri`` points at
hearthvox's Wyoming wake service (the server of ``hearthvox serve``, here in a
thread on the session's engines), and its ``--mic-command`` plays the same
request WAV at the speed of a microphone once the server side has sent
``run-satellite``.
"""

from __future__ import annotations

import asyncio
import shlex
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hearthvox.config import Config
from hearthvox.engines import Engines
from hearthvox.protocol.options import ServerOptions
from hearthvox.protocol.services import Services, make_services
from tests.protocol.wyclient import ServerThread

from .fakeserver import Session, run_turn
from .proc import REPO, Proc
from .test_satellite import HV_SEQUENCE

REFERENCE = REPO / ".venv-satellite" / "bin" / "python"
WS_SEQUENCE = ["run-pipeline", "audio-chunk*"]
"""What wyoming-satellite 1.0.0 sends in one turn with local (remote-service) wake."""


@pytest.fixture(scope="module")
def wake_server(engines: Engines) -> Iterator[ServerThread]:
    from hearthvox.bundles.default import default_model_paths

    services: Services = make_services(engines, default_model_paths(), Config())
    with ServerThread(services, ServerOptions()) as server:
        yield server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def ws_turn(
    wake_server: ServerThread, time_request_wav: Path, tmp_path_factory: pytest.TempPathFactory
) -> Session:
    if not REFERENCE.exists():
        pytest.skip(
            "wyoming-satellite is not installed: scripts/setup --dev makes .venv-satellite "
            "(python3 -m venv .venv-satellite && .venv-satellite/bin/pip install "
            "wyoming-satellite==1.0.0)"
        )
    trigger = tmp_path_factory.mktemp("ws") / "go"
    mic = shlex.join([sys.executable, str(Path(__file__).with_name("micplay.py")),
                      str(time_request_wav), str(trigger)])  # fmt: skip
    port = _free_port()
    proc = Proc([
        str(REFERENCE), "-m", "wyoming_satellite", "--uri", f"tcp://127.0.0.1:{port}",
        "--name", "reference", "--mic-command", mic, "--snd-command", "sh -c 'cat >/dev/null'",
        "--wake-uri", wake_server.tcp.uri(), "--wake-word-name", "hey_jarvis",
    ])  # fmt: skip
    try:
        return asyncio.run(
            run_turn(
                "127.0.0.1", port, command_s=4.0, played_wait_s=2.0, on_running=trigger.touch
            )  # fmt: skip
        )
    finally:
        proc.stop()


def test_wyoming_satellite_sequence(ws_turn: Session) -> None:
    assert ws_turn.info is not None and "satellite" in ws_turn.info.data
    assert ws_turn.kinds() == WS_SEQUENCE
    assert ws_turn.sent[0].data["start_stage"] == "asr"
    assert ws_turn.sent[0].data["end_stage"] == "tts"


def test_same_kinds_in_the_same_order(ws_turn: Session) -> None:
    """hearthvox's turn is the reference's with three events more, each where the
    protocol has it: audio-start before the command, audio-stop when its VAD ends
    it, played once the reply has been played (docs/satellite.md)."""
    extras = {"audio-start", "audio-stop", "played"}
    assert [k for k in HV_SEQUENCE if k not in extras] == ws_turn.kinds()
