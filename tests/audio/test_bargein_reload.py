"""Barge-in after a reload: it detects on the new wake models and lets the old ones go."""

from __future__ import annotations

import gc
import weakref

from hearthvox.audio.bargein import BargeIn, BargeInOptions
from hearthvox.audio.sinks import SpeakerSink
from hearthvox.bundles.default import default_model_paths
from hearthvox.config import Config
from hearthvox.engines import Engines, load_wake


def test_barge_in_moves_to_the_reloaded_wake_models(engines: Engines) -> None:
    first = load_wake(default_model_paths(), Config())
    session = weakref.ref(first._mel)  # what holds the loaded model in memory
    bargein = BargeIn(first, SpeakerSink(), BargeInOptions(threshold=0.8))
    del first
    gc.collect()
    assert session() is not None  # its own detector runs on the first models
    bargein.use(engines.wake)
    gc.collect()
    assert session() is None, "the barge-in still holds the old wake models"
    assert bargein.wake._mel is engines.wake._mel
    assert bargein.wake.strict == 0.8  # still stricter than when idle
    assert bargein.wake is not engines.wake  # a stream of its own
