"""The eval of the default bundle on the shared corpus: plausible figures, the same figures
on a second run, and the endpoint and wake outcomes of hand-made clips."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from hearthvox.audio.wavio import load_wav
from hearthvox.bundles.default import default_model_paths
from hearthvox.config import Config
from hearthvox.engines import Engines
from hearthvox.evaluation import recipes
from hearthvox.evaluation.evalset import Clip, EvalSet
from hearthvox.evaluation.evaluate import EvalOptions, evaluate, load_engines_for, target_for
from hearthvox.evaluation.metrics import EvalResult
from hearthvox.evaluation.runner import EvalEngines, run_clip
from tests.conftest import silence, speak16


def _slice(result: EvalResult, name: str) -> dict[str, object]:
    found = result.slice(name)
    assert found is not None, name
    return found.to_json()


def test_plausible_figures(default_result: EvalResult) -> None:
    clean, worst = _slice(default_result, "clean"), _slice(default_result, "noise_0db")
    assert isinstance(clean["wer"], float) and clean["wer"] < 0.15
    assert isinstance(worst["wer"], float) and worst["wer"] > clean["wer"]
    assert clean["wake_n"] == 2 and clean["wake_frr"] is not None
    assert clean["wake_fa_per_h"] == 0.0 and "vad_f1" in clean
    assert isinstance(clean["vad_f1"], float) and clean["vad_f1"] > 0.9
    entities = _slice(default_result, "entities")
    assert entities["n"] == 4 and entities["entity_error"] is not None
    assert "wake_frr" not in entities and "vad_f1" not in entities
    background = _slice(default_result, "background")
    assert background["n"] == 0 and background["wer"] is None and "wake_fa" in background
    pooled = _slice(default_result, recipes.ALL)
    assert pooled["n"] == sum(s.n for s in default_result.slices[:-1])


def test_the_same_figures_on_a_second_run(
    default_result: EvalResult, quick_set: EvalSet, quick_options: EvalOptions
) -> None:
    fresh = dataclasses.replace(quick_options, reuse=False)
    again = evaluate(target_for(default_model_paths(), Config()), quick_set, fresh)
    assert again.fingerprint == default_result.fingerprint
    assert again.slices == default_result.slices
    assert again.clips == default_result.clips


@pytest.fixture(scope="module")
def eval_engines() -> EvalEngines:
    return load_engines_for(target_for(default_model_paths(), Config()))


def test_a_long_pause_cuts_the_command_off(corpus_dir: Path, eval_engines: EvalEngines) -> None:
    first = load_wav(corpus_dir / "spk1_snt1.wav").samples
    second = load_wav(corpus_dir / "spk1_snt6.wav").samples
    audio = np.concatenate([silence(0.5), first, silence(1.5), second, silence(2.0)])
    end = (0.5 + 1.5) + (len(first) + len(second)) / 16000
    clip = Clip(
        "t/pause",
        "t",
        "command",
        audio,
        reference="the child almost hurt the small dog the pencils have all been used",
        span_s=(0.5, end),
    )
    out = run_clip(eval_engines, clip)
    assert out.cutoff is True and out.late is False
    assert "pencils" not in out.hypothesis.lower() and out.edits >= 6


def test_no_silence_after_the_speech_is_a_late_endpoint(
    corpus_dir: Path, eval_engines: EvalEngines
) -> None:
    speech = load_wav(corpus_dir / "spk1_snt6.wav").samples
    audio = np.concatenate([silence(0.5), speech])
    clip = Clip(
        "t/late",
        "t",
        "command",
        audio,
        reference="the pencils have all been used",
        span_s=(0.5, len(audio) / 16000),
    )
    out = run_clip(eval_engines, clip)
    assert out.late is True and out.cutoff is False and out.endpoint_ms is None
    assert out.edits == 0


def test_wake_hits_and_false_accepts(engines: Engines, eval_engines: EvalEngines) -> None:
    phrase = speak16(engines, "Hey Jarvis.")
    audio = np.concatenate([silence(0.8), phrase, silence(1.0)])
    hit = run_clip(
        eval_engines, Clip("t/w", "t", "wake", audio, span_s=(0.8, 0.8 + len(phrase) / 16000))
    )
    assert hit.wake_hit is True
    missed = run_clip(eval_engines, Clip("t/w", "t", "wake", silence(3.0), span_s=(0.8, 1.5)))
    assert missed.wake_hit is False
    as_other = run_clip(eval_engines, Clip("t/b", "t", "background", audio))
    assert as_other.false_accepts == 1 and as_other.wake_hit is None
