"""The wake word fires once on a spoken "hey jarvis" and never on other real audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from hearthvox.audio.wavio import load_wav
from hearthvox.bundles.default import default_model_paths
from hearthvox.config import from_dict
from hearthvox.engines import Engines, load_wake
from hearthvox.engines.wake import FRAME_SAMPLES
from hearthvox.errors import ConfigError
from tests.conftest import silence, speak16


def detections(engines: Engines, audio: npt.NDArray[np.int16]) -> list[float]:
    wake = engines.wake
    wake.reset()
    hits = []
    for i in range(0, len(audio) - FRAME_SAMPLES + 1, FRAME_SAMPLES):
        t_ms = (i + FRAME_SAMPLES) * 1000 / 16000
        if wake.detect(audio[i : i + FRAME_SAMPLES], t_ms) is not None:
            hits.append(t_ms)
    return hits


def test_spoken_wake_phrase_fires_exactly_once(engines: Engines, time_request_wav: Path) -> None:
    audio = load_wav(time_request_wav).samples
    hits = detections(engines, audio)
    assert len(hits) == 1, hits
    assert 1000 < hits[0] < 3000  # during or just after "hey jarvis" (1 s of silence first)


NEGATIVE_KINDS = {"speech", "noise", "environment", "vad"}


def test_other_real_audio_never_fires(
    engines: Engines, corpus_dir: Path, corpus_rows: list[dict[str, str]]
) -> None:
    checked = 0
    for row in corpus_rows:
        if row["kind"] not in NEGATIVE_KINDS:
            continue
        audio = load_wav(corpus_dir / row["file"]).samples
        assert detections(engines, audio) == [], row["file"]
        checked += 1
    assert checked >= 12


def test_frame_size_is_checked(engines: Engines) -> None:
    from hearthvox.errors import EngineError

    with pytest.raises(EngineError):
        engines.wake.scores(np.zeros(100, dtype=np.int16))


def test_an_unknown_wake_model_is_the_configs_mistake() -> None:
    """Every path that loads the wake word says it as the start and a reload do (exit 2)."""
    cfg = from_dict({"wake": {"models": ["hey_jarvis", "nope"]}})
    paths = default_model_paths()
    with pytest.raises(ConfigError) as info:
        load_wake(paths, cfg)
    assert str(info.value) == (
        f"[wake] models: 'nope' is not a wake word of bundle {paths.bundle_id} "
        f"(it has: {', '.join(sorted(paths.wake_models))})"
    )
    assert info.value.exit_code == 2


def _hits(wake: Engines, audio: npt.NDArray[np.int16], disown: bool) -> list[float]:
    stream = wake.wake.new_stream()
    hits: list[float] = []
    for i in range(0, len(audio) - FRAME_SAMPLES + 1, FRAME_SAMPLES):
        t_ms = (i + FRAME_SAMPLES) * 1000 / 16000
        before = stream.last_fire_ms
        if stream.detect(audio[i : i + FRAME_SAMPLES], t_ms) is not None:
            hits.append(t_ms)
            if disown:
                stream.disown(t_ms, before)
    return hits


def test_a_disowned_hit_starts_no_refractory_period(engines: Engines) -> None:
    once = speak16(engines, "Hey Jarvis.")
    twice = np.concatenate([silence(0.5), once, once, silence(0.5)])  # ~1 s apart
    assert len(_hits(engines, twice, disown=False)) == 1  # the second is in the 2 s after
    hits = _hits(engines, twice, disown=True)  # the first was the assistant's own voice
    assert len(hits) == 2 and hits[1] - hits[0] < engines.wake.refractory_ms, hits
