"""Budgets: what the gate lets through and what it refuses, per slice and per metric."""

from __future__ import annotations

import dataclasses

import pytest

from hearthvox import config as config_mod
from hearthvox.config import EvalConfig
from hearthvox.errors import ConfigError
from hearthvox.evaluation.corpus import EvalError
from hearthvox.evaluation.gate import compare, failures, refusal
from hearthvox.evaluation.metrics import EvalResult, SliceMetrics


def _result(*slices: SliceMetrics, digest: str = "set") -> EvalResult:
    return EvalResult("b@1", digest, True, tuple(slices), ())


BASE = SliceMetrics(
    "noise_0db",
    n=8,
    words=100,
    edits=10,
    entities=4,
    entity_errors=1,
    wake_n=6,
    wake_missed=0,
    false_accepts=1,
    fa_hours=0.1,
    vad_tp=90,
    vad_fp=5,
    vad_fn=5,
    vad_n=1,
    cutoffs=0,
    lates=0,
)


def _failed(cfg: EvalConfig, **changes: object) -> list[str]:
    cand = dataclasses.replace(BASE, **changes)
    return [c.metric.name for c in failures(compare(cfg, _result(BASE), _result(cand)))]


@pytest.mark.parametrize(
    ("changes", "failed"),
    [
        ({}, []),
        ({"edits": 12}, []),  # +2 points: at the budget
        ({"edits": 13}, ["wer"]),  # +3 points
        ({"entity_errors": 2}, ["entity_error"]),
        ({"wake_missed": 1}, ["wake_frr"]),
        ({"false_accepts": 2}, []),  # doubled: allowed
        ({"false_accepts": 3}, ["false_accepts"]),
        ({"vad_fp": 12}, ["vad_f1"]),
        ({"cutoffs": 1}, ["cutoff_rate"]),
        ({"lates": 1}, ["late_rate"]),
        ({"edits": 0, "entity_errors": 0}, []),  # better is always fine
    ],
)
def test_default_budgets(changes: dict[str, object], failed: list[str]) -> None:
    assert _failed(EvalConfig(), **changes) == failed


def test_no_false_accept_may_appear_from_none() -> None:
    base = dataclasses.replace(BASE, false_accepts=0)
    cand = dataclasses.replace(BASE, false_accepts=1)
    (check,) = [c for c in compare(EvalConfig(), _result(base), _result(cand)) if not c.ok]
    assert check.metric.name == "false_accepts"


def test_per_slice_budgets_from_the_config() -> None:
    cfg = config_mod.from_dict(
        {"eval": {"wer_max_rise": 0.01, "slices": {"noise_0db": {"wer_max_rise": 0.05}}}}
    ).eval
    assert _failed(cfg, edits=14) == []
    other = dataclasses.replace(BASE, slice="clean")
    worse = dataclasses.replace(other, edits=12)
    checks = failures(compare(cfg, _result(other), _result(worse)))
    assert [(c.slice, c.metric.name) for c in checks] == [("clean", "wer")]
    text = refusal("cand@2", "base@1", checks)
    assert "clean: WER 10.0% -> 12.0% (+2.0 pts; budget +1.0 pts)" in text


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"wer_max_rise": -0.1}, "must be 0 or more"),
        ({"slices": {"clean": {"wer": 0.1}}}, "unknown key"),
        ({"slices": {"clean": {"wer_max_rise": "a lot"}}}, "must be a number"),
        ({"slices": {"clean": 0.1}}, "must be a table"),
    ],
)
def test_bad_budgets_are_refused(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_mod.from_dict({"eval": raw})


def test_results_of_two_sets_are_not_compared() -> None:
    with pytest.raises(EvalError, match="different eval sets"):
        compare(EvalConfig(), _result(BASE, digest="a"), _result(BASE, digest="b"))
