"""``hearthvox bench``: latency, CPU and memory of the voice loop, side by side with baselines.

Every figure is a :class:`Metric`: ours, the baseline measured in the same run,
and their ratio. Absolute times on a shared machine are noisy; the ratios,
measured side by side, are the figures that count.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Metric:
    metric: str
    ours: float | None
    baseline: float | None
    unit: str
    baseline_name: str = ""
    target: str = ""
    """The goal in words (e.g. ``ratio <= 0.33``); empty when there is none."""
    met: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """More figures: p95s, counts, absolute medians."""
    paired_ratio: float | None = None
    """Median of ours/baseline over pairs measured on the same input (when there are
    pairs); it is the ratio reported, the ratio of the medians goes in ``extra``."""

    @property
    def ratio(self) -> float | None:
        if self.paired_ratio is not None:
            return self.paired_ratio
        if self.ours is None or self.baseline is None or self.baseline == 0:
            return None
        return self.ours / self.baseline

    def record(self) -> dict[str, Any]:
        """The JSON object of ``bench --json``."""
        ratio = self.ratio
        return {
            "metric": self.metric,
            "ours": _round(self.ours),
            "baseline": _round(self.baseline),
            "ratio": None if ratio is None else round(ratio, 3),
            "unit": self.unit,
            "baseline_name": self.baseline_name,
            "target": self.target,
            "met": self.met,
            **{k: _round(v) if isinstance(v, float) else v for k, v in self.extra.items()},
        }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4 if abs(x) < 1 else 1)


def median(xs: Sequence[float]) -> float | None:
    return statistics.median(xs) if xs else None


def p95(xs: Sequence[float]) -> float | None:
    if not xs:
        return None
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def ratio_target(
    name: str,
    ours: list[float],
    base: list[float],
    unit: str,
    limit: float | None,
    baseline_name: str,
) -> Metric:
    """Median vs median, with p95s and counts, and ``ratio <= limit`` as the target."""
    m_ours, m_base = median(ours), median(base)
    extra: dict[str, Any] = {"ours_p95": p95(ours), "baseline_p95": p95(base), "n": len(ours)}
    paired = None
    if len(ours) == len(base) and ours and all(b > 0 for b in base):
        paired = median([o / b for o, b in zip(ours, base, strict=True)])
        if m_ours is not None and m_base:
            extra["ratio_of_medians"] = round(m_ours / m_base, 3)
    ratio = (
        paired
        if paired is not None
        else (m_ours / m_base if m_ours is not None and m_base else None)
    )
    met = None if limit is None or ratio is None else ratio <= limit
    target = f"ratio <= {limit:.3g}" if limit is not None else ""
    return Metric(name, m_ours, m_base, unit, baseline_name, target, met, extra, paired)
