"""Section 4, quality by slice: the eval (``hearthvox eval``) called in one place, each
slice judged against the absolute launch limits of ``[report]``.

When the eval cannot run (no corpus, a broken bundle), the section says "not
measured" and why, and the verdict names it as a gap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hearthvox.config import Config, ReportConfig
from hearthvox.errors import HearthvoxError
from hearthvox.report.target import Target

LIMITS = (
    # (slice metric, [report] key, higher is worse)
    ("wer", "wer_max"),
    ("entity_error", "entity_error_max"),
    ("wake_frr", "wake_frr_max"),
    ("cutoff_rate", "cutoff_rate_max"),
)


@dataclass(frozen=True)
class Quality:
    slices: list[dict[str, Any]] = field(default_factory=list)
    """The ``eval --json`` objects (figures only), one per slice."""
    bundle: str = ""
    quick: bool = False
    cached: bool = False
    missing: str = ""
    """Why the eval was not measured (empty when it was)."""


def run_eval(cfg: Config, target: Target, corpus: Path, quick: bool) -> Quality:
    """The one place the report calls the eval."""
    from hearthvox.evaluation.evaluate import evaluate, options_for, prepare_set, target_for

    try:
        options = options_for(cfg, corpus, quick)
        evalset = prepare_set(options, target.cfg)
        result = evaluate(target_for(target.models, cfg), evalset, options)
    except HearthvoxError as exc:
        return Quality(missing=f"the eval failed: {exc}")
    return quality_from(result.to_dict(), bool(result.extra.get("cached")))


def quality_from(result: dict[str, Any], cached: bool = False) -> Quality:
    """A :class:`Quality` from an eval result's dict (``EvalResult.to_dict()``): slices
    only, never the clips (they could carry text)."""
    return Quality(list(result["slices"]), result["bundle"], bool(result["quick"]), cached)


def judge(quality: Quality, limits: ReportConfig) -> list[dict[str, Any]]:
    """Each slice with its failures against the limits (``fails``: list of words)."""
    out = []
    for s in quality.slices:
        fails = []
        for metric, key in LIMITS:
            value, limit = s.get(metric), float(getattr(limits, key))
            if value is not None and value > limit:
                fails.append(f"{metric} {value:.3f} > {limit:g} ([report] {key})")
        out.append({**s, "fails": fails})
    return out
