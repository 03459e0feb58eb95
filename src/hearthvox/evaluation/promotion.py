"""``models promote``: evaluate the candidate and the target's bundle, gate, then promote.

The candidate is the source channel's current bundle, the baseline the target
channel's. Both run the same eval set (the test speakers); every slice's metrics
must stay within the budgets of ``[eval]``, judged paired with intervals
(:mod:`.gate`). A slice over budget, or one with not enough data to rule that
out, refuses the promotion: the refusal names them and changes no channel;
``force`` promotes anyway. Either way the record (both results, the
checks, the budgets, forced or not) is kept with the promotion
(:mod:`hearthvox.bundles.promote`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hearthvox.bundles import promote as bundle_promote
from hearthvox.bundles.active import installed_paths, policy
from hearthvox.bundles.channels import Ref
from hearthvox.bundles.store import Installed, Store
from hearthvox.compat.refusal import check_manifest
from hearthvox.config import BUDGET_KEYS, Config
from hearthvox.errors import ModelError
from hearthvox.evaluation.evaluate import EvalOptions, evaluate, prepare_set, target_for
from hearthvox.evaluation.gate import Check, GateRefused, compare, failures, refusal, unsure
from hearthvox.evaluation.metrics import EvalResult

Progress = Callable[[str, int], Callable[[int], None]]
"""(what, clips) -> a callback advanced by one per clip."""


@dataclass(frozen=True)
class Promoted:
    candidate: EvalResult
    baseline: EvalResult | None
    checks: list[Check]
    record: Path
    current: Ref


def _evaluate(
    cfg: Config,
    store: Store,
    installed: Installed,
    channel: str,
    options: EvalOptions,
    progress: Progress | None,
    on_synth: Callable[[str], None] | None,
) -> EvalResult:
    evalset = prepare_set(options, cfg, on_synth)
    target = target_for(installed_paths(store, cfg, installed, channel), cfg)
    tick = progress(f"{target.label} ({channel})", len(evalset.clips)) if progress else None
    return evaluate(target, evalset, options, tick)


def _side(installed: Installed | None, result: EvalResult | None) -> dict[str, Any] | None:
    if installed is None or result is None:
        return None
    return {
        "bundle": installed.manifest.ref,
        "manifest": installed.sha256,
        "settings": installed.manifest.settings(),
        "fingerprint": result.fingerprint,
        "slices": [s.to_json() for s in result.slices],
    }


def promote_channel(
    cfg: Config,
    store: Store,
    source: str,
    target: str,
    options: EvalOptions,
    *,
    force: bool = False,
    progress: Progress | None = None,
    on_synth: Callable[[str], None] | None = None,
) -> Promoted:
    """Gate and promote; raises :class:`GateRefused` (after keeping the record) when a
    budget is broken and not *force*."""
    plan = bundle_promote.plan(store, source, target)
    if plan.already_there:
        raise ModelError(f"channel {target} already runs {plan.candidate.manifest.ref}")
    candidate = _evaluate(cfg, store, plan.candidate, source, options, progress, on_synth)
    baseline = None
    checks: list[Check] = []
    if plan.baseline is not None:
        baseline = _evaluate(cfg, store, plan.baseline, target, options, progress, on_synth)
        checks = compare(cfg.eval, baseline, candidate)
    failed = failures(checks) + unsure(checks)
    gate = "failed" if failures(checks) else "not enough data" if failed else "passed"
    record: dict[str, Any] = {
        "from": source,
        "to": target,
        "outcome": "refused" if failed and not force else "promoted",
        "gate": gate,
        "forced": force,
        "eval_set": {
            "digest": candidate.set_digest,
            "quick": options.quick,
            "seed": options.seed,
            "split": options.split,
        },
        "budgets": {k: getattr(cfg.eval, k) for k in BUDGET_KEYS}
        | {"slices": {name: dict(b) for name, b in cfg.eval.slices}},
        "failed": [c.describe() for c in failures(checks)],
        "not_enough_data": [c.describe() for c in unsure(checks)],
        "candidate": _side(plan.candidate, candidate),
        "baseline": _side(plan.baseline, baseline),
    }
    if failed and not force:
        path = bundle_promote.refused_record(store, plan, record)
        assert plan.baseline is not None
        raise GateRefused(
            refusal(plan.candidate.manifest.ref, plan.baseline.manifest.ref, failed)
            + f". Nothing changed; record: {path}. To promote anyway: --force (recorded)",
            checks,
        )
    path, current = bundle_promote.promote(store, plan, policy(cfg, store, check_manifest), record)
    return Promoted(candidate, baseline, checks, path, current)
