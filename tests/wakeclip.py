"""Spoken wake phrases that the wake model hears clearly, for tests that need a hit.

Piper's graph draws noise, so the same text comes out a little different on every
synthesis, and the wake model's peak score on "Hey Jarvis." moves with it (0.7 to
0.99 seen). A test that plays a wake phrase where a stricter threshold applies
(barge-in's 0.8 while the assistant speaks) would then fail by the draw. These
helpers synthesise again until the peak score clears a margin over that threshold.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from hearthvox.engines.wake import FRAME_SAMPLES, WakeEngine

Audio = npt.NDArray[np.int16]

CLEAR_SCORE = 0.92
"""Barge-in's threshold (0.8) plus a margin for the trip through the sound server."""


def peak_score(wake: WakeEngine, audio: Audio) -> float:
    """The highest score any of ``wake``'s models gives ``audio`` (16 kHz)."""
    stream = wake.new_stream()
    silence = np.zeros(FRAME_SAMPLES * 10, dtype=np.int16)
    padded = np.concatenate([silence, audio, silence])
    best = 0.0
    for i in range(0, len(padded) - FRAME_SAMPLES + 1, FRAME_SAMPLES):
        best = max(best, *stream.scores(padded[i : i + FRAME_SAMPLES]).values())
    return best


def clear_wake_phrase(
    speak: Callable[[], Audio], wake: WakeEngine, min_score: float = CLEAR_SCORE, tries: int = 12
) -> Audio:
    """``speak()`` again until the wake model's peak score reaches ``min_score``.

    Fails (AssertionError) after ``tries`` draws: then the voice or the wake model
    changed, which a test should say rather than play a phrase that may be missed.
    """
    seen = []
    for _ in range(tries):
        audio = speak()
        score = peak_score(wake, audio)
        if score >= min_score:
            return audio
        seen.append(round(score, 3))
    raise AssertionError(f"no synthesis of the wake phrase scored {min_score}: {seen}")
