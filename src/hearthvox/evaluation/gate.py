"""Budgets and the promotion gate: a candidate may be only so much worse, on every slice.

Each metric of each slice is compared with the baseline's (the target channel's
current bundle) under the budgets of ``[eval]`` (overridden per slice by
``[eval.slices.NAME]``): error rates may rise by at most their ``*_max_rise``
(absolute), VAD F1 may drop by at most ``vad_f1_max_drop``, and false accepts may
not exceed ``wake_fa_max_factor`` times the baseline's count. A metric that one
side lacks is not judged.
"""

from __future__ import annotations

from dataclasses import dataclass

from hearthvox.config import BUDGET_KEYS, EvalConfig
from hearthvox.evaluation.corpus import EvalError
from hearthvox.evaluation.metrics import EvalResult, SliceMetrics

_EPS = 1e-9


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
    Metric("false_accepts", "wake false accepts", "wake_fa_max_factor", percent=False),
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
    ok: bool

    @property
    def change(self) -> float:
        return self.candidate - self.baseline

    def value(self, v: float) -> str:
        if self.metric.name == "false_accepts":
            return f"{v:.0f}"
        return f"{v * 100:.1f}%" if self.metric.percent else f"{v:.3f}"

    def change_text(self) -> str:
        if self.metric.name == "false_accepts":
            return f"{self.change:+.0f}"
        if self.metric.percent:
            return f"{self.change * 100:+.1f} pts"
        return f"{self.change:+.3f}"

    def budget_text(self) -> str:
        if self.metric.name == "false_accepts":
            return f"at most {self.limit:g}x the baseline's"
        if self.metric.percent:
            return f"budget +{self.limit * 100:.1f} pts"
        return f"budget -{self.limit:.3f}"

    def describe(self) -> str:
        return (
            f"{self.slice}: {self.metric.label} {self.value(self.baseline)} -> "
            f"{self.value(self.candidate)} ({self.change_text()}; {self.budget_text()})"
        )


def _judge(m: Metric, base: float, cand: float, limit: float) -> bool:
    if m.name == "false_accepts":
        return cand <= base * limit + _EPS
    if m.higher_is_worse:
        return cand - base <= limit + _EPS
    return base - cand <= limit + _EPS


def check_slice(cfg: EvalConfig, base: SliceMetrics, cand: SliceMetrics) -> list[Check]:
    budgets = budgets_for(cfg, base.slice)
    checks = []
    for m in METRICS:
        b, c = base.metric(m.name), cand.metric(m.name)
        if m.name == "false_accepts" and not (base.fa_hours and cand.fa_hours):
            continue
        if b is None or c is None:
            continue
        limit = budgets[m.budget]
        checks.append(Check(base.slice, m, float(b), float(c), limit, _judge(m, b, c, limit)))
    return checks


def compare(cfg: EvalConfig, baseline: EvalResult, candidate: EvalResult) -> list[Check]:
    """Every judged metric of every slice the two results share."""
    if baseline.set_digest != candidate.set_digest:
        raise EvalError(
            f"{baseline.bundle} and {candidate.bundle} were evaluated on different eval sets "
            f"({baseline.set_digest[:12]} vs {candidate.set_digest[:12]}); run both with the "
            "same corpus, --quick and [eval] seed"
        )
    checks: list[Check] = []
    for base in baseline.slices:
        cand = candidate.slice(base.slice)
        if cand is not None:
            checks.extend(check_slice(cfg, base, cand))
    return checks


def failures(checks: list[Check]) -> list[Check]:
    return [c for c in checks if not c.ok]


def refusal(candidate: str, baseline: str, failed: list[Check]) -> str:
    slices = list(dict.fromkeys(c.slice for c in failed))
    lines = "; ".join(c.describe() for c in failed)
    return (
        f"{candidate} regresses {len(slices)} slice(s) against {baseline} beyond budget "
        f"({', '.join(slices)}): {lines}"
    )
