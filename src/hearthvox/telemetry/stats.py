"""Percentiles, outcome counts and the first-audio histogram over stored turns."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from hearthvox.telemetry.privacy import STAGES, label_or

QUANTILES = (50, 95, 99)
AREA_QUANTILES = (50, 95)
MAX_AREAS = 32
"""The per-area part names at most this many areas (the busiest); it counts the rest."""
FIRST_AUDIO = "end_of_speech_to_first_audio"


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile with linear interpolation between ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def distribution(
    values: Sequence[float], quantiles: Sequence[int] = QUANTILES
) -> dict[str, float | int]:
    """``n`` and ``p50_ms``/``p95_ms``/``p99_ms`` (rounded to 0.1 ms); just ``n`` when empty."""
    out: dict[str, float | int] = {"n": len(values)}
    if values:
        for q in quantiles:
            out[f"p{q}_ms"] = round(percentile(values, q), 1)
    return out


def stage_values(turns: Sequence[dict[str, Any]]) -> dict[str, tuple[list[float], list[float]]]:
    """Per stage, in pipeline order: (own times, queue times) over ``turns``."""
    found: dict[str, tuple[list[float], list[float]]] = {}
    for turn in turns:
        for stage, (compute, queue) in turn["stages"].items():
            own, waited = found.setdefault(stage, ([], []))
            if compute is not None:
                own.append(float(compute))
            if queue is not None:
                waited.append(float(queue))
    return {s: found[s] for s in sorted(found, key=stage_order)}


def stage_order(stage: str) -> int:
    """Pipeline order; stages not on the allow-list last."""
    return STAGES.index(stage) if stage in STAGES else len(STAGES)


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def stage_summary(
    turns: Sequence[dict[str, Any]], quantiles: Sequence[int] = QUANTILES
) -> dict[str, Any]:
    """Per stage: its own time's distribution, with ``queue``: the time waited before it."""
    stages: dict[str, Any] = {}
    for stage, (own, waited) in stage_values(turns).items():
        entry: dict[str, Any] = dict(distribution(own, quantiles))
        if waited:
            entry["queue"] = distribution(waited, quantiles)
        stages[stage] = entry
    return stages


def summarize(turns: Sequence[dict[str, Any]], starts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The ``telemetry summary --json`` object (DESIGN.md: turns, stages, outcomes ...);
    with ``areas`` and ``areas_left_out`` only when a turn carries an area (the hub's)."""
    stages = stage_summary(turns)
    outcomes = Counter(str(t["outcome"]) for t in turns)
    errors = Counter(str(t["error"]) for t in turns if t["error"])
    wakes = [t for t in turns if t["woke"]]
    false_wakes = sum(1 for t in wakes if t["outcome"] == "no_speech")
    first_audio = [t["stages"][FIRST_AUDIO][0] for t in turns if FIRST_AUDIO in t["stages"]]
    cold = [float(s["cold_start_ms"]) for s in starts if s["cold_start_ms"] is not None]
    models = [float(s["models_ms"]) for s in starts if s["models_ms"] is not None]
    rss = [float(t["rss_mb"]) for t in turns if t["rss_mb"] is not None]
    cpu = [float(t["cpu_ms"]) for t in turns if t["cpu_ms"] is not None]
    summary = {
        "turns": len(turns),
        "stages": stages,
        "outcomes": dict(sorted(outcomes.items())),
        "errors": dict(sorted(errors.items())),
        "wakes": len(wakes),
        "false_wakes": false_wakes,
        "false_wake_rate": rate(false_wakes, len(wakes)),
        "error_rate": rate(outcomes.get("error", 0), len(turns)),
        "starts": len(starts),
        "cold_start": distribution(cold),
        "models_load": distribution(models),
        "rss_mb": {"last": rss[-1], "max": max(rss)} if rss else None,
        "cpu_per_turn": distribution(cpu),
        "first_audio_histogram": histogram([v for v in first_audio if v is not None]),
        "bundles": sorted({str(t["bundle"]) for t in turns if t["bundle"]}),
        "profiles": sorted({str(t["profile"]) for t in turns if t["profile"]}),
        "llm": llm_summary(turns),
    }
    if any(t.get("area") for t in turns):
        summary |= area_summary(turns)
    return summary


def area_summary(turns: Sequence[dict[str, Any]], limit: int = MAX_AREAS) -> dict[str, Any]:
    """Per satellite area (``hearthvox hub``), the busiest ``limit`` areas first: turns,
    outcomes, wake arbitration (turns that ``won`` or ``stood_down`` when more than one
    satellite claimed their wake word) and per stage p50/p95 of own and queue time.
    ``areas_left_out`` counts the areas past ``limit`` and their turns; turns without an
    area (``run``'s) are in neither."""
    by_area: dict[str, list[dict[str, Any]]] = {}
    for t in turns:
        if t.get("area"):
            by_area.setdefault(label_or(str(t["area"])), []).append(t)
    ranked = sorted(by_area, key=lambda a: (-len(by_area[a]), a))
    areas: dict[str, Any] = {}
    for area in ranked[:limit]:
        rows = by_area[area]
        arbitration = Counter(str(t["arbitration"]) for t in rows if t.get("arbitration"))
        areas[area] = {
            "turns": len(rows),
            "outcomes": dict(sorted(Counter(str(t["outcome"]) for t in rows).items())),
            "arbitration": {
                "won": arbitration.get("won", 0),
                "stood_down": arbitration.get("stood_down", 0),
            },
            "stages": stage_summary(rows, AREA_QUANTILES),
        }
    rest = ranked[limit:]
    return {
        "areas": areas,
        "areas_left_out": {"areas": len(rest), "turns": sum(len(by_area[a]) for a in rest)},
    }


def llm_summary(turns: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The language model's turns: how many, its tokens in and out, its speed, and why
    its replies stopped (truncated at a budget, cancelled by a barge-in); None without."""
    answered = [t for t in turns if t.get("llm_new_tokens") is not None]
    if not answered:
        return None

    def values(key: str) -> list[float]:
        return [float(t[key]) for t in answered if t.get(key) is not None]

    def p50(key: str) -> float | None:
        found = values(key)
        return round(percentile(found, 50), 1) if found else None

    return {
        "turns": len(answered),
        "prompt_tokens_evaluated_p50": p50("llm_evaluated_tokens"),
        "new_tokens_p50": p50("llm_new_tokens"),
        "tokens_per_s_p50": p50("llm_tokens_per_s"),
        "stops": dict(sorted(Counter(str(t["llm_stop"]) for t in answered).items())),
        "questions_cut": sum(1 for t in answered if t.get("llm_question_cut")),
        "turns_dropped": int(sum(values("llm_dropped_turns"))),
        "backends": dict(  # a turn of schema 2 was the local model's
            sorted(Counter(str(t.get("llm_backend") or "local") for t in answered).items())
        ),
    }


_NICE_MS = (10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000)


def histogram(values: Sequence[float], bins: int = 8) -> list[dict[str, float | int]]:
    """Counts in equal bins of a round width (10 ms ... 10 s) covering ``values``."""
    if not values:
        return []
    lo, hi = min(values), max(values)
    width = next((w for w in _NICE_MS if (hi - lo) / w < bins), _NICE_MS[-1])
    start = math.floor(lo / width) * width
    n = int((hi - start) // width) + 1
    counts = [0] * n
    for v in values:
        counts[min(n - 1, int((v - start) // width))] += 1
    return [
        {"from_ms": start + i * width, "to_ms": start + (i + 1) * width, "n": c}
        for i, c in enumerate(counts)
    ]
