"""The barge-in bench's room and yardstick, without the pipeline."""

from __future__ import annotations

import numpy as np

from hearthvox.bench.bargein import (
    ECHO_DELAY_MS,
    ECHO_GAIN,
    RATE_HZ,
    Room,
    _Played,
    voiced_end_s,
)


def test_the_wake_phrase_ends_where_its_voice_does_not_its_silence() -> None:
    t = np.arange(int(0.5 * RATE_HZ)) / RATE_HZ
    voice = (8000 * np.sin(2 * np.pi * 220 * t)).astype(np.int16)
    audio = np.concatenate([np.zeros(1600, np.int16), voice, np.zeros(3200, np.int16)])
    assert abs(voiced_end_s(audio) - 0.6) <= 0.01
    assert voiced_end_s(np.zeros(1600, np.int16)) == 0.0


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_microphone_hears_the_speaker_late_and_quieter_and_a_stop_cuts_it() -> None:
    clock = _Clock()
    room = Room(80, clock)
    tone = np.full(RATE_HZ, 10000, np.int16)  # 1 s
    with room._lock:  # as write() would, without waiting for it to play
        room._played.append(_Played(clock.now, tone, clock.now))
        room._handed = True
    assert room.playing
    delay = int(ECHO_DELAY_MS * RATE_HZ / 1000)
    heard = room._heard(100.0, 1280)
    assert not heard[: delay - 1].any()
    assert heard[delay + 1] == int(10000 * ECHO_GAIN)
    clock.now = 100.5
    room.stop()
    assert not room.playing and room.stopped_at == [100.5]
    clock.now = 100.52
    room.stop()  # stopped again before anything new was played: still stopped at 100.5
    assert room.stopped_at == [100.5]
    assert not room._heard(100.6, 1280).any()  # nothing after the stop (and its echo)
    said = np.full(800, 3000, np.int16)
    room.say(said, 100.7)
    assert room._heard(100.7, 800).max() == 3000
