"""The soak's report: figures from the log and the samples, as JSON and as text."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tests.soak.plan import Plan
from tests.soak.runner import Log, Turn
from tests.soak.sampler import Sample


def rss_growth_mib_per_h(samples: Sequence[Sample], warmup_s: float) -> float | None:
    """The growth of RSS per hour: the median of the slopes between every two samples of
    the same process taken at least ``warmup_s`` after it started (Theil-Sen; a restart
    starts from a lower RSS: it is not a drop). The median, because a sample taken
    while a turn synthesises or decodes reads up to ~150 MiB over the baseline: a
    least-squares line through a few such peaks late in a run reads as growth (soak 6:
    7.6 MiB/h by least squares, 0.8 by this, with the lowest sample of each 10 minutes at
    349-352 MiB). None below 3 samples."""
    kept = [s for s in samples if s.age_s >= warmup_s]
    if len(kept) < 3:
        return None
    slopes: list[float] = []
    for life in {s.life for s in kept}:
        t = np.array([s.t_s for s in kept if s.life == life])
        r = np.array([s.rss_mib for s in kept if s.life == life])
        i, j = np.triu_indices(len(t), k=1)
        dt = t[j] - t[i]
        slopes.extend(((r[j] - r[i])[dt > 0] / dt[dt > 0]).tolist())
    return float(np.median(slopes)) * 3600.0 if slopes else None


def rss_fit_mib_per_h(samples: Sequence[Sample], warmup_s: float) -> float | None:
    """The least-squares slope of the same samples, one line per process with a shared
    slope (reported beside the median for comparison with the runs before 2026-12-06)."""
    kept = [s for s in samples if s.age_s >= warmup_s]
    if len(kept) < 3:
        return None
    num = den = 0.0
    for life in {s.life for s in kept}:
        t = np.array([s.t_s for s in kept if s.life == life])
        r = np.array([s.rss_mib for s in kept if s.life == life])
        num += float(((t - t.mean()) * (r - r.mean())).sum())
        den += float(((t - t.mean()) ** 2).sum())
    return num / den * 3600.0 if den > 0 else None


def spread(samples: Sequence[Sample], warmup_s: float, key: str) -> dict[str, int | None]:
    """min and max of ``key`` (fds, threads) after warm-up, and the largest rise within
    one process."""
    kept = [s for s in samples if s.age_s >= warmup_s] or list(samples)
    values = [int(getattr(s, key)) for s in kept]
    rises = []
    for life in {s.life for s in kept}:
        mine = [int(getattr(s, key)) for s in kept if s.life == life]
        rises.append(max(mine) - mine[0])
    return {
        "min": min(values, default=None),
        "max": max(values, default=None),
        "rise": max(rises, default=None),
    }


def latency(turns: Sequence[Turn], lo_s: float, hi_s: float) -> dict[str, float | int | None]:
    """p50/p95 end of speech -> first audio of the turns done in [lo_s, hi_s)."""
    ms = [
        float(v)
        for t in turns
        if t.done_s is not None
        and lo_s <= t.done_s < hi_s
        and (v := t.as_dict()["eos_to_first_audio_ms"]) is not None
    ]
    if not ms:
        return {"n": 0, "p50_ms": None, "p95_ms": None}
    return {
        "n": len(ms),
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p95_ms": round(float(np.percentile(ms, 95)), 1),
    }


def summarize(plan: Plan, log: Log, samples: Sequence[Sample], ran_s: float) -> dict[str, Any]:
    turns = log.turns
    answered = [t for t in turns if t.answered]
    by_kind: dict[str, dict[str, int]] = {}
    for t in turns:
        k = by_kind.setdefault(t.kind, {"sent": 0, "answered": 0, "expected_skill": 0})
        k["sent"] += 1
        k["answered"] += t.answered
        k["expected_skill"] += (
            t.answered and t.done is not None and (t.done["skill"] == t.expected_skill)
        )
    timers_set = sum(1 for t in answered if t.done is not None and t.done["skill"] == "timer")
    first = latency(turns, 0.0, plan.window_s)
    last = latency(turns, ran_s - plan.window_s, ran_s + 1)
    rss = [s.rss_mib for s in samples]
    cpu = [s.cpu_pct for s in samples if s.cpu_pct is not None]
    p95_ratio = (
        round(last["p95_ms"] / first["p95_ms"], 3) if last["p95_ms"] and first["p95_ms"] else None
    )
    return {
        "duration_s": round(ran_s, 1),
        "plan": plan.__dict__,
        "turns_sent": len(turns),
        "turns_answered": len(answered),
        "turns_lost": len(turns) - len(answered),
        "lost": [t.as_dict() for t in turns if not t.answered],
        "by_kind": by_kind,
        "outcomes": dict(Counter(t.done["outcome"] for t in turns if t.done is not None)),
        "unprompted_turns": len(log.unprompted),
        "wakes": log.wakes,
        "timers_set": timers_set,
        "timers_rung": log.rings,
        "barge_ins": len(log.barge_ins),
        "barge_ins_interrupted": sum(1 for b in log.barge_ins if b["interrupted"]),
        "reloads": len(log.reloads),
        "reloads_ok": sum(1 for r in log.reloads if r["ok"]),
        "sound_server_restarts": len(log.sound_restarts),
        "sound_server_recovered": sum(1 for r in log.sound_restarts if r["back"]),
        "deliberate_kills": len(log.kills),
        "crashes": len(log.crashes),
        "crash_details": log.crashes,
        "errors": len(log.errors),
        "error_details": log.errors[:20],
        "final_exit": log.final_exit,
        "samples": len(samples),
        "rss_mib": {
            "first": rss[0] if rss else None,
            "last": rss[-1] if rss else None,
            "max": max(rss, default=None),
        },
        "rss_fit_mib_per_h": (
            None if (f := rss_fit_mib_per_h(samples, plan.warmup_s)) is None else round(f, 2)
        ),
        "rss_growth_mib_per_h": (
            None if (g := rss_growth_mib_per_h(samples, plan.warmup_s)) is None else round(g, 2)
        ),
        "cpu_pct_mean": round(float(np.mean(cpu)), 1) if cpu else None,
        "fds": spread(samples, plan.warmup_s, "fds"),
        "threads": spread(samples, plan.warmup_s, "threads"),
        "eos_to_first_audio_first_window": first,
        "eos_to_first_audio_last_window": last,
        "p95_last_over_first": p95_ratio,
        "events": {
            "reloads": log.reloads,
            "sound_server_restarts": log.sound_restarts,
            "kills": log.kills,
            "barge_ins": log.barge_ins,
        },
    }


def text(s: dict[str, Any]) -> str:
    f, la = s["eos_to_first_audio_first_window"], s["eos_to_first_audio_last_window"]
    w = s["plan"]["window_s"]
    window = f"{w / 60:.0f} min" if w >= 600 else f"{w:.0f} s"
    return (
        "\n".join(
            [
                f"soak of {s['duration_s'] / 60:.1f} min",
                f"turns: {s['turns_sent']} sent, {s['turns_answered']} answered, "
                f"{s['turns_lost']} lost; {s['unprompted_turns']} unprompted (false wakes)",
                "  "
                + ", ".join(
                    f"{k} {v['answered']}/{v['sent']} ({v['expected_skill']} by the expected skill)"
                    for k, v in s["by_kind"].items()
                ),
                f"timers: {s['timers_set']} set, {s['timers_rung']} rang; barge-ins: "
                f"{s['barge_ins_interrupted']}/{s['barge_ins']} cut the reply short",
                f"reloads: {s['reloads_ok']}/{s['reloads']} ok; sound server restarts: "
                f"{s['sound_server_recovered']}/{s['sound_server_restarts']} recovered; "
                f"kill -9: {s['deliberate_kills']}; crashes: {s['crashes']}; "
                f"error events: {s['errors']}; exit at the end: {s['final_exit']}",
                f"RSS: {s['rss_mib']['first']} -> {s['rss_mib']['last']} MiB (max "
                f"{s['rss_mib']['max']}), growth {s['rss_growth_mib_per_h']} MiB/h after warm-up "
                f"(median slope; least squares {s.get('rss_fit_mib_per_h')}); "
                f"CPU {s['cpu_pct_mean']} % of a core; {s['samples']} samples",
                f"fds {s['fds']['min']}-{s['fds']['max']} (rise {s['fds']['rise']}), threads "
                f"{s['threads']['min']}-{s['threads']['max']} (rise {s['threads']['rise']})",
                f"end of speech -> first audio, first {window}: p50 {f['p50_ms']} ms, "
                f"p95 {f['p95_ms']} ms (n={f['n']}); last {window}: p50 {la['p50_ms']} "
                f"ms, p95 {la['p95_ms']} ms (n={la['n']}); "
                f"p95 last/first {s['p95_last_over_first']}",
            ]
        )
        + "\n"
    )


def write(out: Path, summary: dict[str, Any], samples: Sequence[Sample]) -> str:
    report = text(summary)
    (out / "soak.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "samples.jsonl").write_text("".join(json.dumps(s.as_dict()) + "\n" for s in samples))
    (out / "soak.txt").write_text(report)
    return report
