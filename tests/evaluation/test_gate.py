"""The paired gate: what it lets through, what it refuses, and when it has not enough data."""

from __future__ import annotations

import dataclasses

import pytest

from hearthvox import config as config_mod
from hearthvox.config import EvalConfig
from hearthvox.errors import ConfigError
from hearthvox.evaluation.corpus import EvalError
from hearthvox.evaluation.gate import compare, failures, refusal, unsure, verdict
from hearthvox.evaluation.metrics import EvalResult, result_from
from hearthvox.evaluation.runner import ClipOutcome


def _clips(n: int, speakers: int, slice_: str = "clean") -> list[ClipOutcome]:
    """*n* commands of 10 words by *speakers* speakers, one word wrong in every fifth."""
    return [
        ClipOutcome(
            f"{slice_}/u{i}",
            slice_,
            "command",
            2.0,
            words=10,
            edits=int(i % 5 == 0),
            cutoff=False,
            late=False,
            speaker=f"s{i % speakers}",
        )
        for i in range(n)
    ]


def _result(clips: list[ClipOutcome], digest: str = "set") -> EvalResult:
    return result_from("b@1", digest, True, tuple(clips), split="test")


def _worse(clips: list[ClipOutcome], every: int, edits: int = 2) -> list[ClipOutcome]:
    return [
        dataclasses.replace(c, edits=c.edits + edits) if i % every == 0 else c
        for i, c in enumerate(clips)
    ]


def _verdicts(base: list[ClipOutcome], cand: list[ClipOutcome], cfg: EvalConfig) -> dict[str, str]:
    checks = compare(cfg, _result(base), _result(cand))
    return {c.metric.name: c.verdict for c in checks if c.slice == "clean"}


def test_an_identical_candidate_passes_every_check() -> None:
    base = _clips(200, 40)
    checks = compare(EvalConfig(), _result(base), _result(list(base)))
    assert checks and all(c.verdict == "pass" for c in checks)
    assert all(c.change_ci95 == (0.0, 0.0) for c in checks if c.change_ci95 is not None)


def test_a_clear_regression_fails() -> None:
    base = _clips(200, 40)
    cand = _worse(base, every=2)  # +1 point WER per 10 words on half the clips: +10 points
    got = _verdicts(base, cand, EvalConfig())
    assert got["wer"] == "fail" and got["cutoff_rate"] == "pass"
    failed = failures(compare(EvalConfig(), _result(base), _result(cand)))
    assert {(c.slice, c.metric.name) for c in failed} == {("clean", "wer"), ("all", "wer")}
    check = failed[0]
    assert check.change_ci95 is not None and 0 < check.change_ci95[0] < check.change
    assert "regresses 2 slice(s)" in refusal("c@2", "b@1", failed)


def test_a_small_slice_has_not_enough_data() -> None:
    """Four commands, one with two more errors: +5 points, but the interval reaches 0."""
    base = _clips(4, 4)
    cand = _worse(base, every=4)
    checks = compare(EvalConfig(), _result(base), _result(cand))
    wer = next(c for c in checks if c.slice == "clean" and c.metric.name == "wer")
    assert wer.change == pytest.approx(0.05)
    assert wer.verdict == "not enough data" and wer in unsure(checks)
    assert wer.change_ci95 is not None and wer.change_ci95[0] <= 0 < wer.change_ci95[1]
    assert "not enough data" in refusal("c@2", "b@1", unsure(checks))


def test_a_better_candidate_passes() -> None:
    base = _clips(200, 40)
    cand = [dataclasses.replace(c, edits=0) for c in base]
    assert _verdicts(base, cand, EvalConfig())["wer"] == "pass"


@pytest.mark.parametrize(
    ("point", "ci", "limit", "expected"),
    [
        (0.0, (0.0, 0.0), 0.0, "pass"),
        (0.01, (-0.005, 0.018), 0.02, "pass"),
        (0.03, (0.01, 0.05), 0.02, "fail"),
        (0.03, (-0.01, 0.07), 0.02, "not enough data"),  # over budget, but not excluding 0
        (0.0, (-0.03, 0.03), 0.02, "not enough data"),  # half-width wider than the budget
        (0.03, None, 0.02, "fail"),  # no interval: judged on the value
    ],
)
def test_the_verdict_rule(
    point: float, ci: tuple[float, float] | None, limit: float, expected: str
) -> None:
    assert verdict(point, ci, limit) == expected


def test_per_slice_budgets_from_the_config() -> None:
    cfg = config_mod.from_dict(
        {"eval": {"wer_max_rise": 0.01, "slices": {"clean": {"wer_max_rise": 0.2}}}}
    ).eval
    base = _clips(200, 40)
    assert _verdicts(base, _worse(base, every=2), cfg)["wer"] == "pass"


def test_false_accepts_at_most_the_factor() -> None:
    base = [
        dataclasses.replace(c, role="background", words=0, edits=0, false_accepts=1, audio_s=600)
        for c in _clips(30, 30, "background")
    ]
    doubled = [dataclasses.replace(c, false_accepts=2) for c in base]
    tripled = [dataclasses.replace(c, false_accepts=3) for c in base]
    cfg = EvalConfig()

    def fa(cand: list[ClipOutcome]) -> str:
        checks = compare(cfg, _result(base), _result(cand))
        return next(c.verdict for c in checks if c.metric.name == "fa_per_h")

    assert fa(doubled) == "pass" and fa(tripled) == "fail"


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
    base = _clips(10, 5)
    with pytest.raises(EvalError, match="different eval sets"):
        compare(EvalConfig(), _result(base, digest="a"), _result(base, digest="b"))
    with pytest.raises(EvalError, match="same clips"):
        compare(EvalConfig(), _result(base), _result(base[:-1]))
