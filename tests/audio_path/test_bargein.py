"""Barge-in and the guard against self-triggering, through real PortAudio.

A long reply comes from the fallback skill (its reply text is set in the test's
config). Barge-in: the microphone hears the room (``hv``), the speaker plays
into ``hvout``; "hey jarvis" played into the room during the reply stops it.
Self-triggering: the microphone hears only the speaker (``hvout.monitor``) and
the reply itself says "hey jarvis" several times: no wake word fires.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hearthvox.audio.wavio import write_wav
from hearthvox.engines import Engines
from tests.audio_path.conftest import Pulse
from tests.audio_path.daemon import Daemon, Record, loud_s, stop_recording, turn_done
from tests.conftest import silence, speak16

LONG_REPLY = (
    "Once upon a time there was a small lighthouse on a rocky island. "
    "Every night its keeper climbed the stairs, lit the lamp and watched the ships. "
    "One winter a storm broke the lamp, and the keeper carried a lantern to the top. "
    "The ships saw the little light and found their way home."
)
ECHO_REPLY = "Hey Jarvis, you said. Hey Jarvis is my name. Hey Jarvis, hey Jarvis."


def request_wav(engines: Engines, path: Path, text: str, tail_s: float = 1.5) -> Path:
    write_wav(path, np.concatenate([silence(0.5), speak16(engines, text), silence(tail_s)]), 16000)
    return path


def _config(path: Path, reply: str, audio: str = "") -> Path:
    """The fallback skill says ``reply`` (the language model does not answer instead)."""
    text = f'[skills]\nfallback_reply = "{reply}"\n[endpoint]\nfollow_up = false\n'
    text += "[llm]\nenabled = false\n"
    path.write_text(text + (f"[audio]\n{audio}\n" if audio else ""))
    return path


def start_daemon(pulse: Pulse, tmp_path: Path, reply: str, source: str, audio: str = "") -> Daemon:
    """``hearthvox run`` with ``reply`` as the fallback skill's answer."""
    cfg = _config(tmp_path / "config.toml", reply, audio)
    daemon = Daemon(pulse, tmp_path / "home", "--config", str(cfg), source=source)
    daemon.wait_log("ready: listening on the microphone", 120)
    return daemon


def test_hey_jarvis_stop_interrupts_a_long_reply(
    pulse: Pulse, engines: Engines, tmp_path: Path
) -> None:
    story = request_wav(engines, tmp_path / "story.wav", "Hey Jarvis. Tell me a story.")
    wake = request_wav(engines, tmp_path / "wake.wav", "Hey Jarvis. Stop.")
    daemon = start_daemon(pulse, tmp_path, LONG_REPLY, "hv.monitor")
    try:
        recording = tmp_path / "speaker.wav"
        rec = pulse.recorder(recording)
        pulse.player(story).wait(timeout=30)
        daemon.wait_event(lambda e: e["event"] == "tts_first_audio", 60)
        pulse.player(wake).wait(timeout=30)
        events: list[Record] = daemon.wait_event(turn_done, 60)
        # the wake phrase that barged in goes on to the listener: "stop" is the next turn
        after = daemon.wait_event(turn_done, 60)
        audio = stop_recording(rec, recording)
    finally:
        assert daemon.stop() == 0, "".join(daemon.stderr[-15:])
    kinds = [e["event"] for e in events]
    assert "interrupt" in kinds, kinds
    assert events[-1]["outcome"] == "interrupted", events[-1]
    full_s = len(speak16(engines, LONG_REPLY)) / 16000
    heard_s = loud_s(audio)
    played_ms = events[-1]["stages_ms"]["playback"]
    print(f"reply of {full_s:.1f} s: played {played_ms / 1000:.1f} s, {heard_s:.1f} s heard")
    # playback was cut short: the rest of the reply neither played nor reached the speaker
    assert played_ms < full_s * 1000 / 2
    assert heard_s < full_s / 2
    assert after[-1]["skill"] == "stop", after


def test_own_reply_does_not_wake_it(pulse: Pulse, engines: Engines, tmp_path: Path) -> None:
    request = request_wav(engines, tmp_path / "request.wav", "Hey Jarvis. Say my name.")
    daemon = start_daemon(pulse, tmp_path, ECHO_REPLY, "hvout.monitor")
    try:
        pulse.player(request, sink="hvout").wait(timeout=30)
        first = daemon.wait_event(turn_done, 60)
        # the next request must be the next thing it hears: no wake word in between
        pulse.player(request, sink="hvout").wait(timeout=30)
        second = daemon.wait_event(turn_done, 60)
    finally:
        assert daemon.stop() == 0, "".join(daemon.stderr[-15:])
    assert first[-1]["outcome"] == "answered", first
    assert any(e["event"] == "reply" and e["text"] == ECHO_REPLY for e in first)
    kinds = [e["event"] for e in second]
    assert kinds.count("wake") == 1 and "interrupt" not in kinds, kinds
    assert second[-1]["outcome"] == "answered", second
    assert any(e["event"] == "transcript" and "name" in e["text"].lower() for e in second)


pytestmark = pytest.mark.usefixtures("pulse")
