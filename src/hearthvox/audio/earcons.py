"""Earcons: a short rising sound when hearthvox starts listening, a falling one when
it stops (``[audio] earcons = true``).

They are played with :meth:`SpeakerSink.cue` (no waiting), and the microphone
audio captured while one plays (plus a short echo margin) reaches the pipeline
as silence (:mod:`hearthvox.pipeline.overhear`), so the "ding" is never transcribed.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from hearthvox.events import Event, Int16Array, NoSpeech, SpeechEnded, WakeDetected

RATE_HZ = 16000


class Cueing(Protocol):
    def cue(self, samples: Int16Array, rate_hz: int) -> None: ...


def chirp(f0_hz: float, f1_hz: float, ms: float = 120.0, level: float = 0.25) -> Int16Array:
    """A soft two-note sound: ``f0`` then ``f1``, each half, with 10 ms fades."""
    n = int(RATE_HZ * ms / 2000)
    t = np.arange(n) / RATE_HZ
    fade = np.minimum(1.0, np.minimum(np.arange(n), np.arange(n)[::-1]) / (0.01 * RATE_HZ))
    notes = [np.sin(2 * np.pi * f * t) * fade for f in (f0_hz, f1_hz)]
    x: Int16Array = (np.concatenate(notes) * level * 32767).astype(np.int16)
    return x


START = chirp(660.0, 880.0)
STOP = chirp(880.0, 660.0)


class Earcons:
    """An observer of the pipeline's events that cues the sounds on the speaker."""

    def __init__(self, speaker: Cueing) -> None:
        self.speaker = speaker
        self.played = 0

    def observe(self, event: Event) -> None:
        match event:
            case WakeDetected():
                self.speaker.cue(START, RATE_HZ)
            case SpeechEnded() | NoSpeech():
                self.speaker.cue(STOP, RATE_HZ)
            case _:
                return
        self.played += 1
