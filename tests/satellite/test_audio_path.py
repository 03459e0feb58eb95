"""``hearthvox satellite`` on a real microphone and speaker (PortAudio on a private
PulseAudio, tests/audio_path): the request is played into the room the microphone
hears, the server side answers, and the reply comes out of the speaker."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.audio_path.conftest import Pulse, pulse  # noqa: F401  (the session's daemon)
from tests.audio_path.daemon import loud_s, stop_recording

from .fakeserver import REPLY_S, run_turn
from .proc import LISTENING, Proc, hearthvox_satellite


def test_microphone_to_speaker(pulse: Pulse, time_request_wav: Path, tmp_path: Path) -> None:  # noqa: F811
    env = {**pulse.env, "PULSE_SOURCE": "hv.monitor", "PULSE_SINK": "hvout"}
    proc: Proc = hearthvox_satellite("--uri", "tcp://127.0.0.1:0", home=tmp_path / "home", env=env)
    recording = tmp_path / "speaker.wav"
    rec = pulse.recorder(recording)
    try:
        port = int(proc.wait_for(LISTENING, 120).group(1))

        def say() -> None:
            pulse.player(time_request_wav)

        session = asyncio.run(run_turn("127.0.0.1", port, on_running=say, played_wait_s=10.0))
    finally:
        heard = stop_recording(rec, recording)
        assert proc.stop() == 0, proc.lines
    assert session.kinds() == [
        "run-pipeline",
        "audio-start",
        "audio-chunk*",
        "audio-stop",
        "played",
    ]
    assert 0.8 < session.command_audio_s < 4.0, session.command_audio_s
    assert loud_s(heard) >= REPLY_S * 0.7  # the reply's tone came out of the speaker
