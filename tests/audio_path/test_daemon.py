"""``hearthvox run`` on a real microphone and speaker (PulseAudio null sinks).

One daemon serves the module (devices chosen by name on the command line), in
order: a turn end to end, then the sound server killed and started again under it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.audio_path.conftest import Pulse
from tests.audio_path.daemon import Daemon, loud_s, stop_recording, turn_done


@pytest.fixture(scope="module")
def daemon(pulse: Pulse, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    home = tmp_path_factory.mktemp("hvhome")
    # every turn here starts from the wake word: no follow-up window left open by
    # the previous turn while the sound server restarts
    config = home / "test-config.toml"
    config.write_text("[endpoint]\nfollow_up = false\n")
    d = Daemon(
        pulse, home, "--input-device", "pulse", "--output-device", "pulse", "--config", str(config)
    )
    try:
        d.wait_log("ready: listening on the microphone", 120)
        yield d
    finally:
        assert d.stop() == 0, "\n".join(d.stderr)


def _turn(pulse: Pulse, daemon: Daemon, request: Path, tmp_path: Path) -> float:
    """Play the request into the room; the turn is answered; seconds of reply heard."""
    recording = tmp_path / "speaker.wav"
    rec = pulse.recorder(recording)
    player = pulse.player(request)
    try:
        events = daemon.wait_event(turn_done, 90)
    finally:
        player.wait(timeout=30)
    audio = stop_recording(rec, recording)
    kinds = [e["event"] for e in events]
    assert "wake" in kinds, kinds
    assert any(e["event"] == "reply" and e["skill"] == "time" for e in events), events
    assert events[-1]["outcome"] == "answered", events[-1]
    return loud_s(audio)


def test_turn_end_to_end(
    pulse: Pulse, daemon: Daemon, time_request_wav: Path, tmp_path: Path
) -> None:
    heard_s = _turn(pulse, daemon, time_request_wav, tmp_path)
    # "It is 11:04 PM." spoken by the voice lasts over a second
    assert heard_s > 0.3, f"only {heard_s:.2f} s of the reply reached the speaker"


def test_sound_server_restart(
    pulse: Pulse, daemon: Daemon, time_request_wav: Path, tmp_path: Path
) -> None:
    pulse.kill()
    daemon.wait_log("microphone", 15)  # "microphone 'default' lost (no audio ...)"
    pulse.start()
    restarted = time.monotonic()
    line = daemon.wait_log("microphone back", 15)
    resumed_s = time.monotonic() - restarted
    print(f"capture resumed {resumed_s:.1f} s after the sound server restarted: {line}")
    assert resumed_s < 5.0  # the bound; backoff tops out at 1 s
    assert daemon.proc.poll() is None, "the daemon exited"
    heard_s = _turn(pulse, daemon, time_request_wav, tmp_path)
    assert heard_s > 0.3, f"only {heard_s:.2f} s of the reply reached the speaker"
