"""Earcons are played, and the microphone hearing them does not transcribe them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hearthvox.audio.wavio import write_wav
from hearthvox.engines import Engines
from tests.audio_path.conftest import Pulse
from tests.audio_path.daemon import stop_recording, turn_done
from tests.audio_path.test_bargein import start_daemon
from tests.conftest import silence, speak16


def _tone_frames(audio: np.ndarray, notes_hz: tuple[float, ...]) -> int:
    """40 ms frames that are nearly a pure tone at one of ``notes_hz`` (not a voice)."""
    n = 640
    count = 0
    freqs = np.fft.rfftfreq(n, 1 / 16000)
    for i in range(0, len(audio) - n + 1, n // 2):
        power = np.abs(np.fft.rfft(audio[i : i + n].astype(np.float64) * np.hanning(n))) ** 2
        if power.sum() < 1e6:
            continue
        near = np.zeros_like(freqs, dtype=bool)
        for f in notes_hz:
            near |= np.abs(freqs - f) <= 50
        count += int(power[near].sum() / power.sum() > 0.9)
    return count


def test_earcons_play_and_stay_out_of_the_transcript(
    pulse: Pulse, engines: Engines, tmp_path: Path
) -> None:
    # with earcons one waits for the sound after the wake word, as here
    request = tmp_path / "request.wav"
    parts = [silence(0.5), speak16(engines, "Hey Jarvis."), silence(0.8)]
    write_wav(
        request, np.concatenate([*parts, speak16(engines, "What time is it?"), silence(1.5)]), 16000
    )
    # the microphone hears only the speaker: the request and the earcons both reach it
    daemon = start_daemon(pulse, tmp_path, "unused", "hvout.monitor", "earcons = true")
    try:
        recording = tmp_path / "speaker.wav"
        rec = pulse.recorder(recording)
        pulse.player(request, sink="hvout").wait(timeout=30)
        events = daemon.wait_event(turn_done, 60)
        audio = stop_recording(rec, recording)
    finally:
        assert daemon.stop() == 0, "".join(daemon.stderr[-15:])
    texts = [e["text"] for e in events if e["event"] == "transcript"]
    assert len(texts) == 1, events
    words = "".join(c for c in texts[0].lower() if c.isalpha() or c == " ").split()
    assert words == ["what", "time", "is", "it"], texts
    assert events[-1]["outcome"] == "answered"
    # the speaker played the earcons (660/880 Hz notes) besides the reply
    assert _tone_frames(audio, (660.0, 880.0)) >= 4
