"""What the listener knows of the assistant's own sound: when audio is its voice, its
echo or an earcon, and that a barge-in ends the reply's echo at once."""

from __future__ import annotations

import gc
import weakref

import numpy as np

from hearthvox.bundles.default import default_model_paths
from hearthvox.config import Config
from hearthvox.engines import Engines, load_wake
from hearthvox.events import Int16Array
from hearthvox.pipeline.overhear import CUE_ECHO_S, BargeInOptions, Overhearing
from tests.conftest import speak16


class FakeSpeaker:
    def __init__(self, played: Int16Array | None = None) -> None:
        self.cue_until = 0.0
        self.playing = False
        self.played = played if played is not None else np.zeros(0, dtype=np.int16)

    def recent_playback(self, seconds: float, rate_hz: int = 16000) -> Int16Array:
        return self.played


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_reply_and_its_echo_tail_are_its_own_voice() -> None:
    speaker, clock = FakeSpeaker(), Clock()
    over = Overhearing(speaker, BargeInOptions(tail_ms=600.0), clock)
    assert not over.speaking()
    speaker.playing = True
    assert over.speaking()
    speaker.playing = False
    clock.now += 0.5
    assert over.speaking()  # the room's echo
    clock.now += 0.2
    assert not over.speaking()


def test_after_a_barge_in_the_rest_is_not_taken_for_echo() -> None:
    speaker, clock = FakeSpeaker(), Clock()
    over = Overhearing(speaker, BargeInOptions(), clock)
    speaker.playing = True
    assert over.speaking()
    over.barged_in()
    assert not over.speaking()  # still stopping: the user's command follows at once
    speaker.playing = False
    clock.now += 0.1
    assert not over.speaking() and over.interrupts == 1
    speaker.playing = True  # the next reply
    assert over.speaking()


def test_with_barge_in_off_only_earcons_are_kept_out() -> None:
    speaker, clock = FakeSpeaker(), Clock()
    over = Overhearing(speaker, BargeInOptions(enabled=False), clock)
    speaker.playing = True
    assert not over.speaking()
    speaker.cue_until = clock.now + 0.2
    assert over.in_cue()
    clock.now += 0.2 + CUE_ECHO_S + 0.01
    assert not over.in_cue()


def test_a_reply_that_says_the_wake_word_is_taken_for_the_echo(engines: Engines) -> None:
    said = speak16(engines, "Hey Jarvis, you said. Hey Jarvis is my name.")
    wake = engines.wake.new_stream()
    echo = Overhearing(FakeSpeaker(said), BargeInOptions(threshold=0.8))
    assert echo.is_echo(wake, 16000) and echo.echoes == 1
    other = Overhearing(FakeSpeaker(speak16(engines, "It is ten past six.")), BargeInOptions())
    assert not other.is_echo(wake, 16000) and other.echoes == 0


def test_the_echo_probe_moves_to_reloaded_wake_models(engines: Engines) -> None:
    first = load_wake(default_model_paths(), Config())
    session = weakref.ref(first._mel)  # what holds the loaded models in memory
    over = Overhearing(FakeSpeaker(speak16(engines, "It is ten past six.")), BargeInOptions())
    assert not over.is_echo(first, 16000)
    del first
    gc.collect()
    assert session() is not None  # the probe scores on the first models
    assert not over.is_echo(engines.wake, 16000)  # after a reload: the listener's new wake
    gc.collect()
    assert session() is None, "the echo probe still holds the old wake models"
    over.close()
