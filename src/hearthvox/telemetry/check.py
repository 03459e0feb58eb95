"""``telemetry check``: compare the recorded window against the alert thresholds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from hearthvox.config import TelemetryConfig
from hearthvox.telemetry.stats import FIRST_AUDIO

Status = Literal["ok", "breached", "skipped"]


@dataclass(frozen=True)
class RuleResult:
    rule: str
    value: float | None
    threshold: float
    n: int
    status: Status
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "status": self.status,
            "value": self.value,
            "threshold": self.threshold,
            "n": self.n,
            "note": self.note,
        }


def _judge(
    rule: str, value: float | None, threshold: float, n: int, min_n: int, unit: str
) -> RuleResult:
    if threshold <= 0:
        return RuleResult(rule, value, threshold, n, "skipped", "switched off (threshold 0)")
    if value is None or n < max(1, min_n):
        note = f"only {n} sample(s); judged from {max(1, min_n)} (alert_min_turns)"
        return RuleResult(rule, value, threshold, n, "skipped", note)
    if value > threshold:
        return RuleResult(
            rule, value, threshold, n, "breached", f"{value:g}{unit} > {threshold:g}{unit}"
        )
    return RuleResult(rule, value, threshold, n, "ok", f"{value:g}{unit} <= {threshold:g}{unit}")


def check(summary: dict[str, Any], cfg: TelemetryConfig) -> list[RuleResult]:
    """One result per rule, over a :func:`hearthvox.telemetry.stats.summarize` object."""
    first = summary["stages"].get(FIRST_AUDIO, {"n": 0})
    rss = summary["rss_mb"]
    min_n = cfg.alert_min_turns
    return [
        _judge(
            "first_audio_p95_ms",
            first.get("p95_ms"),
            cfg.alert_first_audio_p95_ms,
            first["n"],
            min_n,
            " ms",
        ),
        _judge(
            "error_rate", summary["error_rate"], cfg.alert_error_rate, summary["turns"], min_n, ""
        ),
        _judge(
            "false_wake_rate",
            summary["false_wake_rate"],
            cfg.alert_false_wake_rate,
            summary["wakes"],
            min_n,
            "",
        ),
        _judge(
            "rss_mb",
            rss["max"] if rss else None,
            cfg.alert_rss_mb,
            summary["turns"] if rss else 0,
            1,
            " MiB",
        ),
    ]
