"""The eval of the default bundle on the quick set of the test speakers: figures in ranges
that hold on any supported CPU (each with its interval), the same outcomes on a second
run, and the endpoint and wake outcomes of hand-made clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hearthvox.audio.wavio import load_wav
from hearthvox.bundles.default import default_model_paths
from hearthvox.config import Config
from hearthvox.engines import Engines
from hearthvox.evaluation import recipes, tune
from hearthvox.evaluation.evalset import Clip, EvalSet
from hearthvox.evaluation.evaluate import load_engines_for, target_for
from hearthvox.evaluation.metrics import EvalResult
from hearthvox.evaluation.runner import EvalEngines, run_clip, run_clips
from tests.conftest import silence, speak16


def _slice(result: EvalResult, name: str) -> dict[str, object]:
    found = result.slice(name)
    assert found is not None, name
    return found.to_json()


def _within(row: dict[str, object], metric: str, lo: float, hi: float) -> None:
    """The rate lies in [lo, hi] and inside its own 95 % interval."""
    value, ci = row[metric], row[f"{metric}_ci95"]
    assert isinstance(value, float) and isinstance(ci, list), (metric, value, ci)
    assert ci[0] <= value <= ci[1] and lo <= value <= hi, (row["slice"], metric, value, ci)


def test_plausible_figures(default_result: EvalResult) -> None:
    """Ranges wide enough for any CPU's arithmetic (measured spread in docs/evaluation.md),
    narrow enough to catch a broken recogniser, endpoint or normaliser."""
    clean, worst = _slice(default_result, "clean"), _slice(default_result, "noise_0db")
    assert clean["split"] == "test" and clean["n_utterances"] == 14
    assert isinstance(clean["n_speakers"], int) and clean["n_speakers"] >= 8
    _within(clean, "wer", 0.0, 0.45)  # 25 % here: a few digits and letters misheard
    _within(worst, "wer", 0.0, 0.8)  # 31 % here; a broken recogniser or endpoint is ~100 %
    _within(clean, "exact_match", 0.4, 1.0)
    assert clean["wake_n"] == 2 and clean["wake_frr"] is not None
    assert clean["wake_fa_per_h"] == 0.0 and "vad_f1" in clean
    assert isinstance(clean["vad_f1"], float) and clean["vad_f1"] > 0.9
    for view in ("alphanumeric", "commands", "accent_other", "male", "short"):
        row = _slice(default_result, view)
        assert row["split"] == "test" and isinstance(row["n"], int) and 0 < row["n"] <= 14
    entities = _slice(default_result, "entities")
    assert entities["n"] == 4 and entities["entity_error"] is not None
    assert entities["entity_error_ci95"] is not None
    assert "wake_frr" not in entities and "vad_f1" not in entities
    background = _slice(default_result, "background")
    assert background["n"] == 0 and background["wer"] is None and "wake_fa" in background
    pooled = _slice(default_result, recipes.ALL)
    own = [s for s in default_result.slices[:-1] if s.slice not in recipes.VIEWS]
    assert pooled["n"] == sum(s.n for s in own)


def test_the_same_outcomes_on_a_second_run(
    default_result: EvalResult, quick_set: EvalSet, eval_engines: EvalEngines
) -> None:
    """The clean slice again, clip by clip (the rest of the set runs the same code)."""
    clean = tuple(c for c in quick_set.clips if c.slice == "clean")
    again = run_clips(eval_engines, clean)
    assert again == [c for c in default_result.clips if c.slice == "clean"]


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


def test_the_endpoint_sweep_reuses_decodes_and_its_configured_row_is_the_eval(
    default_result: EvalResult, quick_set: EvalSet, eval_engines: EvalEngines
) -> None:
    """The tuning sweep's first row is what ``eval`` measured on the same clips; moving a
    hangover re-decodes only the cuts that moved."""
    clean = [c for c in quick_set.clips if c.slice == "clean" and c.role == "command"][:4]
    lines: list[str] = []
    rows = tune.sweep_endpoint(eval_engines, clean, lines.append)
    measured = [o for o in default_result.clips if o.id in {c.id for c in clean}]
    assert rows[0].setting == "configured" and rows[0].n == len(clean) == len(measured)
    assert rows[0].cutoffs == sum(bool(o.cutoff) for o in measured)
    edits = sum(o.edits for o in measured) / max(1, sum(o.words for o in measured))
    assert rows[0].wer == pytest.approx(edits)
    assert len(rows) == len(lines) > 5
    short = next(r for r in rows if r.setting == "hangover_ms=300")
    long = next(r for r in rows if r.setting == "hangover_ms=700")
    assert short.endpoint_p50_ms is not None and long.endpoint_p50_ms is not None
    assert short.endpoint_p50_ms <= long.endpoint_p50_ms
