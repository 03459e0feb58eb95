"""The speaker through real PortAudio: a stop (barge-in) silences it at once."""

from __future__ import annotations

import threading
import time

import numpy as np

from hearthvox.audio.sinks import SpeakerSink
from tests.audio_path.conftest import Pulse


def test_stop_silences_playback_at_once(pulse_env: Pulse) -> None:
    tone = (np.sin(2 * np.pi * 440 * np.arange(16000 * 5) / 16000) * 8000).astype(np.int16)
    speaker = SpeakerSink("pulse")
    started = threading.Event()
    returned: list[float] = []

    def play() -> None:
        started.set()
        speaker.write(tone, 16000)
        returned.append(time.monotonic())

    player = threading.Thread(target=play)
    player.start()
    try:
        started.wait(5)
        deadline = time.monotonic() + 5
        while not speaker.playing and time.monotonic() < deadline:
            time.sleep(0.01)  # polling a flag set by PortAudio's thread
        assert speaker.playing
        t0 = time.monotonic()
        speaker.stop()
        player.join(10)
        assert not player.is_alive()
        assert not speaker.playing
        latency_ms = float(speaker._stream.latency) * 1000  # what was already in PortAudio
        stop_ms = (returned[0] - t0) * 1000
        print(f"stop -> write returned {stop_ms:.0f} ms; output latency {latency_ms:.0f} ms")
        assert returned[0] - t0 < 4.0  # it did not play the 5 s tone out
    finally:
        speaker.close()
