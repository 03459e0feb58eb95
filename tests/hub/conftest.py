"""Real wyoming-satellite 1.0.0 processes on 127.0.0.1 (in ``.venv-satellite``, made by
``scripts/setup --dev``), each with a microphone that plays a recorded request when
told (:mod:`tests.hub.mic`) and a speaker that appends what it plays to a file."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from hearthvox.engines import Engines
from tests.conftest import REPO, silence, speak16

SATELLITE_PYTHON = Path(
    os.environ.get("HEARTHVOX_SATELLITE_PYTHON", REPO / ".venv-satellite" / "bin" / "python")
)
MIC = Path(__file__).with_name("mic.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Satellite:
    """One ``python -m wyoming_satellite`` process and its files."""

    name: str
    folder: Path
    request: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    wake_uri: str | None = None
    """A Wyoming wake service: the satellite hears the wake word itself and streams
    only the command (else it streams everything and the hub finds the wake word)."""

    @property
    def uri(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    @property
    def played(self) -> Path:
        return self.folder / "played.raw"

    @property
    def go(self) -> Path:
        return self.folder / "go"

    def start(self) -> None:
        mic = f"{shlex.quote(str(SATELLITE_PYTHON))} {MIC} {self.request} {self.go}"
        snd = f"sh -c 'cat >> {shlex.quote(str(self.played))}'"
        self.proc = subprocess.Popen(
            [
                str(SATELLITE_PYTHON),
                "-m",
                "wyoming_satellite",
                "--uri",
                self.uri,
                "--name",
                self.name,
                "--no-zeroconf",
                "--mic-command",
                mic,
                "--snd-command",
                snd,
                *(
                    ["--wake-uri", self.wake_uri, "--wake-word-name", "hey_jarvis"]
                    if self.wake_uri
                    else []
                ),
            ],
            stdout=subprocess.DEVNULL,
            stderr=(self.folder / "satellite.log").open("ab"),
            start_new_session=True,  # the mic and snd commands go with it
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # listening
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            time.sleep(0.1)
        raise AssertionError(f"satellite {self.name} did not listen on {self.uri}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def say(self) -> None:
        """The request, once, into its microphone."""
        self.go.touch()

    def played_s(self) -> float:
        """Seconds of reply audio its speaker played (22050 Hz, 16-bit mono)."""
        return self.played.stat().st_size / 2 / 22050 if self.played.exists() else 0.0


@pytest.fixture(scope="session")
def satellite_python() -> Path:
    if not SATELLITE_PYTHON.exists():
        pytest.skip(
            f"wyoming-satellite is not installed at {SATELLITE_PYTHON} "
            "(scripts/setup --dev installs it)"
        )
    return SATELLITE_PYTHON


REQUESTS = {
    "time": "Hey Jarvis. What time is it?",
    "date": "Hey Jarvis. What is the date today?",
    "timer": "Hey Jarvis. Set a timer for five minutes.",
}


@pytest.fixture(scope="session")
def request_audio(engines: Engines) -> dict[str, np.ndarray]:
    return {
        k: np.concatenate([silence(0.3), speak16(engines, text), silence(1.5)])
        for k, text in REQUESTS.items()
    }


def write_raw(path: Path, audio: np.ndarray, gain: float = 1.0) -> Path:
    scaled = np.clip(audio.astype(np.float32) * gain, -32768, 32767).astype("<i2")
    path.write_bytes(scaled.tobytes())
    return path


@pytest.fixture
def satellites(satellite_python: Path, tmp_path: Path) -> Iterator[list[Satellite]]:
    """Started by the test (its requests differ); all killed at the end."""
    made: list[Satellite] = []
    yield made
    for s in made:
        s.kill()


def make_satellite(
    made: list[Satellite], tmp_path: Path, name: str, request: Path, wake_uri: str | None = None
) -> Satellite:
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    sat = Satellite(name, folder, request, wake_uri=wake_uri)
    made.append(sat)
    sat.start()
    return sat
