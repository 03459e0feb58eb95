"""A real audio path without a sound card: a private PulseAudio with null sinks.

``hv`` is the room the microphone hears (``hv.monitor`` is the microphone, a
player process plays requests into ``hv``); ``hvout`` is the speaker (its
monitor is recorded to check what hearthvox played). ``sine44``/``sine48`` are
440 Hz sources at 44.1 and 48 kHz. A silent player keeps ``hv`` running, as a
real microphone always delivers.

The tests skip (saying why) only when the daemon cannot start; with ``CI`` set
they fail instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SINKS = [
    "module-null-sink sink_name=hv rate=16000 channels=1",
    "module-null-sink sink_name=hvout rate=16000 channels=1",
    "module-sine-source source_name=sine44 rate=44100 frequency=440",
    "module-sine-source source_name=sine48 rate=48000 frequency=440",
    "module-native-protocol-unix",
]


class Pulse:
    """A PulseAudio daemon of the test session: start, kill, start again."""

    def __init__(self, runtime_dir: Path) -> None:
        self.runtime_dir = runtime_dir
        self.env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime_dir), "HOME": str(runtime_dir)}
        self.proc: subprocess.Popen[bytes] | None = None
        self.keepalive: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cmd = ["pulseaudio", "--exit-idle-time=-1", "-n", "--use-pid-file=no", "--daemonize=no"]
        cmd += [f"--load={m}" for m in SINKS]
        self.proc = subprocess.Popen(
            cmd, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pulseaudio exited with status {self.proc.returncode}")
            ok = subprocess.run(["pactl", "info"], env=self.env, capture_output=True, timeout=5)
            if ok.returncode == 0:
                break
            time.sleep(0.05)  # polling the server's socket: there is no event to wait on
        else:
            raise RuntimeError("pulseaudio did not answer within 10 s")
        self.keepalive = self.player(Path("/dev/zero"), raw=True)

    def player(self, path: Path, *, raw: bool = False, sink: str = "hv") -> subprocess.Popen[bytes]:
        """A second process playing ``path`` into ``sink``."""
        if raw:
            cmd = ["pacat", "--playback", f"--device={sink}", "--rate=16000", "--channels=1"]
            cmd += ["--format=s16le", str(path)]
        else:
            cmd = ["paplay", f"--device={sink}", str(path)]
        return subprocess.Popen(cmd, env=self.env, stdout=subprocess.DEVNULL)

    def recorder(self, path: Path, source: str = "hvout.monitor") -> subprocess.Popen[bytes]:
        """A second process recording ``source`` into a WAV at 16 kHz mono."""
        cmd = ["parecord", f"--device={source}", "--rate=16000", "--channels=1"]
        cmd += ["--format=s16le", "--file-format=wav", str(path)]
        return subprocess.Popen(cmd, env=self.env, stdout=subprocess.DEVNULL)

    def kill(self) -> None:
        for proc in (self.keepalive, self.proc):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        self.keepalive = self.proc = None


@pytest.fixture(scope="session")
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pulse]:
    tools = ("pulseaudio", "pactl", "pacat", "paplay", "parecord")
    missing = [t for t in tools if not shutil.which(t)]
    server = Pulse(tmp_path_factory.mktemp("pulse"))
    try:
        if missing:
            raise RuntimeError(f"not installed: {', '.join(missing)} (scripts/setup --dev)")
        server.start()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        server.kill()
        reason = f"the PulseAudio daemon cannot start: {exc}"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set: it must start)")
        print(reason)
        pytest.skip(reason)
    yield server
    server.kill()


@pytest.fixture
def pulse_env(pulse: Pulse, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pulse]:
    """This process talks to the test's PulseAudio (PortAudio re-lists its devices)."""
    from hearthvox.audio.devices import refresh_portaudio

    monkeypatch.setenv("XDG_RUNTIME_DIR", pulse.env["XDG_RUNTIME_DIR"])
    refresh_portaudio()
    yield pulse
    monkeypatch.undo()
    refresh_portaudio()
