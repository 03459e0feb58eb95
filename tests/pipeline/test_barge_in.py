"""Barge-in in the pipeline itself: a live session in a room where the microphone hears
the speaker (:class:`hearthvox.bench.bargein.Room`, real time, real models)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hearthvox.audio.resample import resample_int16
from hearthvox.bench.bargein import ECHO_GAIN, STORY, measure_barge_in
from hearthvox.bench.measure import router
from hearthvox.config import Config
from hearthvox.engines import Engines
from hearthvox.events import Int16Array

TEST_ECHO_GAIN = ECHO_GAIN / 2


def test_the_wake_word_over_a_reply_stops_it_and_its_own_voice_does_not(
    engines: Engines, tmp_path: Path
) -> None:
    """The echo is quieter than the bench's (:data:`ECHO_GAIN`), where about one barge-in
    in five goes unheard under the reply's words (a matter of the wake model, which the
    bench reports as ``missed``): here the wake phrase is heard and the test is about what
    the pipeline does with it."""

    def speak(text: str) -> Int16Array:
        speech = np.concatenate(list(engines.tts.sentences(text)))
        return resample_int16(speech, engines.tts.rate_hz, 16000)

    story = router(tmp_path, fallback=STORY)
    result = measure_barge_in(
        engines, story, Config(), speak, barge_ins=2, replies=1, echo_gain=TEST_ECHO_GAIN
    )
    assert result.missed == 0 and len(result.stop_ms) == 2, result
    assert result.replies == 1 and result.false_interrupts == 0, result
