"""Budgets and the promotion gate: a paired comparison of candidate and baseline, per slice.

Both bundles run the same clips (the same set digest), so each metric of each slice
is compared clip by clip: the paired difference (candidate minus baseline) and
its 95 % interval come from the same bootstrap replicates for both sides
(:mod:`.intervals`). The budgets are those of ``[eval]`` (overridden per slice by
``[eval.slices.NAME]``): error rates may rise by at most their ``*_max_rise``
(absolute), false accepts per hour may not exceed ``wake_fa_max_factor`` times
the baseline's. A check's verdict:

- ``fail``: the difference is over budget and its interval excludes zero (a
  regression, not noise);
- ``pass``: the whole interval is within budget (a regression that large is ruled out);
- ``not enough data``: neither: the interval reaches past the budget but does not
  exclude zero, as when the slice is too small for its budget (the interval's
  half-width wider than the budget). It is no pass: a promotion needs ``--force``.

VAD F1 comes from one labelled recording per slice (its frames are not
independent samples): it has no interval and is judged on its value, at most
``vad_f1_max_drop`` lower. A metric that one side lacks is not judged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from hearthvox.config import BUDGET_KEYS, EvalConfig
from hearthvox.evaluation import intervals
from hearthvox.evaluation.corpus import EvalError
from hearthvox.evaluation.metrics import EvalResult, members
from hearthvox.evaluation.runner import ClipOutcome

_EPS = 1e-9
Verdict = Literal["pass", "fail", "not enough data"]


class GateRefused(EvalError):
    """The candidate breaks a budget; the message lists every failing slice."""

    exit_code = 7

    def __init__(self, message: str, checks: list[Check]) -> None:
        super().__init__(message)
        self.checks = checks


@dataclass(frozen=True)
class Metric:
    name: str  # SliceMetrics attribute
    label: str
    budget: str  # the budget key
    higher_is_worse: bool = True
    percent: bool = True


METRICS: tuple[Metric, ...] = (
    Metric("wer", "WER", "wer_max_rise"),
    Metric("entity_error", "entity error", "entity_error_max_rise"),
    Metric("wake_frr", "wake false rejects", "wake_frr_max_rise"),
    Metric("fa_per_h", "wake false accepts/h", "wake_fa_max_factor", percent=False),
    Metric("vad_f1", "VAD F1", "vad_f1_max_drop", higher_is_worse=False, percent=False),
    Metric("cutoff_rate", "cut-off commands", "cutoff_max_rise"),
    Metric("late_rate", "late endpoints", "late_max_rise"),
)


def budgets_for(cfg: EvalConfig, slice_: str) -> dict[str, float]:
    budgets = {key: float(getattr(cfg, key)) for key in BUDGET_KEYS}
    for name, overrides in cfg.slices:
        if name == slice_:
            budgets.update(overrides)
    return budgets


@dataclass(frozen=True)
class Check:
    slice: str
    metric: Metric
    baseline: float
    candidate: float
    limit: float
    verdict: Verdict
    change_ci95: tuple[float, float] | None = None
    """95 % interval of the paired difference (candidate minus baseline; for false
    accepts: candidate minus the factor times the baseline)."""

    @property
    def ok(self) -> bool:
        return self.verdict == "pass"

    @property
    def change(self) -> float:
        return self.candidate - self.baseline

    def value(self, v: float) -> str:
        if self.metric.name == "fa_per_h":
            return f"{v:.1f}"
        return f"{v * 100:.1f}%" if self.metric.percent else f"{v:.3f}"

    def _diff(self, v: float) -> str:
        if self.metric.percent:
            return f"{v * 100:+.1f}"
        return f"{v:+.1f}" if self.metric.name == "fa_per_h" else f"{v:+.3f}"

    def change_text(self) -> str:
        unit = " pts" if self.metric.percent else ""
        ci = self.change_ci95
        around = f" [{self._diff(ci[0])}, {self._diff(ci[1])}]" if ci else ""
        return f"{self._diff(self.change)}{unit}{around}"

    def budget_text(self) -> str:
        if self.metric.name == "fa_per_h":
            return f"at most {self.limit:g}x the baseline's"
        if self.metric.percent:
            return f"budget +{self.limit * 100:.1f} pts"
        return f"budget -{self.limit:.3f}"

    def describe(self) -> str:
        return (
            f"{self.slice}: {self.metric.label} {self.value(self.baseline)} -> "
            f"{self.value(self.candidate)} ({self.change_text()}; {self.budget_text()}): "
            f"{self.verdict}"
        )


def verdict(point: float, ci: tuple[float, float] | None, limit: float) -> Verdict:
    """*point* and *ci*: how much worse the candidate is (positive: worse) beyond which
    *limit* is broken."""
    if ci is None:
        return "fail" if point > limit + _EPS else "pass"
    lo, hi = ci
    if point > limit + _EPS and lo > _EPS:
        return "fail"
    if hi <= limit + _EPS:
        return "pass"
    return "not enough data"


def _paired(
    m: Metric, limit: float, w: intervals.Floats, base: list[ClipOutcome], cand: list[ClipOutcome]
) -> tuple[float, float, tuple[float, float] | None, float] | None:
    """(baseline, candidate, interval of the excess, the excess's limit), or None."""
    bn, bd = intervals.parts(m.name, base)
    cn, cd = intervals.parts(m.name, cand)
    if not bd.any() or not cd.any():
        return None
    b, c = float(bn.sum() / bd.sum()), float(cn.sum() / cd.sum())
    rb, rc = intervals.ratios(w, bn, bd), intervals.ratios(w, cn, cd)
    if m.name == "fa_per_h":  # at most limit x the baseline's: judge c - limit * b against 0
        return b, c, intervals.ci95(rc - limit * rb), 0.0
    return b, c, intervals.ci95(rc - rb), limit


def check_slice(
    cfg: EvalConfig, name: str, base: list[ClipOutcome], cand: list[ClipOutcome]
) -> list[Check]:
    budgets = budgets_for(cfg, name)
    w = intervals.weights(name, base)
    checks = []
    for m in METRICS:
        limit = budgets[m.budget]
        if m.name == "vad_f1":
            checks.extend(_vad_check(m, name, limit, base, cand))
            continue
        got = _paired(m, limit, w, base, cand)
        if got is None:
            continue
        b, c, ci, judged_limit = got
        excess = c - limit * b if m.name == "fa_per_h" else c - b
        checks.append(
            Check(name, m, b, c, limit, verdict(excess, ci, judged_limit), _shift(ci, m, b, limit))
        )
    return checks


def _shift(
    ci: tuple[float, float] | None, m: Metric, b: float, limit: float
) -> tuple[float, float] | None:
    """The interval shown as a change from the baseline (false accepts: back from the
    excess over the allowed factor)."""
    if ci is None or m.name != "fa_per_h":
        return ci
    return ci[0] + (limit - 1) * b, ci[1] + (limit - 1) * b


def _f1(clips: list[ClipOutcome]) -> float | None:
    counts = np.array([c.vad for c in clips if c.vad is not None]).reshape(-1, 3).sum(axis=0)
    if not any(c.vad is not None for c in clips):
        return None
    tp, fp, fn = (int(v) for v in counts)
    return 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else 1.0


def _vad_check(
    m: Metric, name: str, limit: float, base: list[ClipOutcome], cand: list[ClipOutcome]
) -> list[Check]:
    b, c = _f1(base), _f1(cand)
    if b is None or c is None:
        return []
    return [Check(name, m, b, c, limit, verdict(b - c, None, limit))]


def compare(cfg: EvalConfig, baseline: EvalResult, candidate: EvalResult) -> list[Check]:
    """Every judged metric of every slice the two results share, paired clip by clip."""
    if baseline.set_digest != candidate.set_digest:
        raise EvalError(
            f"{baseline.bundle} and {candidate.bundle} were evaluated on different eval sets "
            f"({baseline.set_digest[:12]} vs {candidate.set_digest[:12]}); run both with the "
            "same corpus, split, --quick and [eval] seed"
        )
    by_id = {c.id: c for c in candidate.clips}
    if set(by_id) != {c.id for c in baseline.clips}:
        raise EvalError("the two results do not hold the same clips: they cannot be paired")
    checks: list[Check] = []
    for s in baseline.slices:
        base = members(s.slice, baseline.clips)
        checks.extend(check_slice(cfg, s.slice, base, [by_id[c.id] for c in base]))
    return checks


def failures(checks: list[Check]) -> list[Check]:
    return [c for c in checks if c.verdict == "fail"]


def unsure(checks: list[Check]) -> list[Check]:
    return [c for c in checks if c.verdict == "not enough data"]


def refusal(candidate: str, baseline: str, failed: list[Check]) -> str:
    bad = [c for c in failed if c.verdict == "fail"]
    unknown = [c for c in failed if c.verdict == "not enough data"]
    parts = []
    if bad:
        slices = list(dict.fromkeys(c.slice for c in bad))
        parts.append(
            f"{candidate} regresses {len(slices)} slice(s) against {baseline} beyond budget "
            f"({', '.join(slices)}): " + "; ".join(c.describe() for c in bad)
        )
    if unknown:
        slices = list(dict.fromkeys(c.slice for c in unknown))
        parts.append(
            f"not enough data to rule out a regression beyond budget on {len(slices)} "
            f"slice(s) ({', '.join(slices)})"
        )
    return "; ".join(parts)
