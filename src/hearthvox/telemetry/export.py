"""Exports: JSON lines (one object per turn and per start) and Prometheus text.

The Prometheus exposition is built in a private ``prometheus_client`` registry
from the stored window and written with its textfile writer (atomic rename), for
node_exporter's textfile collector. No server is started.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from hearthvox.telemetry.stats import (
    AREA_QUANTILES,
    MAX_AREAS,
    QUANTILES,
    percentile,
    stage_order,
    stage_values,
    summarize,
)

BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="milliseconds")


def jsonl_lines(
    turns: Sequence[dict[str, Any]],
    starts: Sequence[dict[str, Any]],
    content: Sequence[dict[str, Any]] = (),
) -> Iterator[str]:
    """Starts and turns in time order; kept text only when ``content`` is given."""
    text: dict[int, dict[str, str]] = {}
    for row in content:
        text.setdefault(row["turn"], {})[row["field"]] = row["text"]
    records: list[dict[str, Any]] = []
    for s in starts:
        records.append({"type": "start", "time": _iso(s["ts"]), **s})
    for t in turns:
        stages = {
            name: {"ms": compute, "queue_ms": queue}
            for name, (compute, queue) in sorted(
                t["stages"].items(), key=lambda kv: stage_order(kv[0])
            )
        }
        record = {"type": "turn", "time": _iso(t["ts"]), **t, "stages": stages}
        record["woke"] = bool(t["woke"]) if t["woke"] is not None else None
        record |= text.get(t["id"], {})
        records.append(record)
    for record in sorted(records, key=lambda r: (r["ts"], r["type"])):
        yield json.dumps(record, separators=(",", ":"))


def prometheus_registry(
    turns: Sequence[dict[str, Any]], starts: Sequence[dict[str, Any]], dropped: int
) -> Any:
    """A ``CollectorRegistry`` with the window's metrics (imported lazily: CLI start-up)."""
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

    reg = CollectorRegistry()
    summary = summarize(turns, starts)
    hist = {
        part: Histogram(
            f"hearthvox_stage_{part}_seconds",
            f"Per-turn {'time waited before' if part == 'queue' else 'own time of'} each stage",
            ["stage"],
            buckets=BUCKETS_S,
            registry=reg,
        )
        for part in ("compute", "queue")
    }
    quant = Gauge(
        "hearthvox_stage_quantile_seconds",
        "Percentiles of stage times over the exported window",
        ["stage", "part", "quantile"],
        registry=reg,
    )
    for stage, (own, waited) in stage_values(turns).items():
        for part, values in (("compute", own), ("queue", waited)):
            for v in values:
                hist[part].labels(stage).observe(v / 1000.0)
            for q in QUANTILES if values else ():
                quant.labels(stage, part, str(q / 100)).set(percentile(values, q) / 1000.0)
    outcomes = Counter("hearthvox_turns", "Turns by outcome", ["outcome"], registry=reg)
    for outcome, n in summary["outcomes"].items():
        outcomes.labels(outcome).inc(n)
    ratios = {
        "hearthvox_false_wake_ratio": ("Wakes followed by no speech", summary["false_wake_rate"]),
        "hearthvox_error_ratio": ("Turns that ended in an error", summary["error_rate"]),
    }
    for name, (doc, value) in ratios.items():
        if value is not None:
            Gauge(name, doc, registry=reg).set(value)
    Counter("hearthvox_starts", "Process starts", registry=reg).inc(len(starts))
    if summary["cold_start"]["n"]:
        cold = Gauge(
            "hearthvox_cold_start_seconds", "Last start: process start to ready", registry=reg
        )
        cold.set(float(starts[-1]["cold_start_ms"] or 0.0) / 1000.0)
    if summary["rss_mb"]:
        rss = Gauge(
            "hearthvox_rss_bytes", "Resident memory at the end of turns", ["at"], registry=reg
        )
        rss.labels("last").set(summary["rss_mb"]["last"] * 2**20)
        rss.labels("max").set(summary["rss_mb"]["max"] * 2**20)
    if "areas" in summary:
        _area_metrics(reg, summary)
    Counter(
        "hearthvox_telemetry_dropped_records",
        "Telemetry records dropped because the writer queue was full",
        registry=reg,
    ).inc(dropped)
    return reg


def _area_metrics(reg: Any, summary: dict[str, Any]) -> None:
    """The hub's turns per satellite area: the busiest MAX_AREAS areas by name (labels
    already made safe when recorded), the rest counted, so that the series stay bounded."""
    from prometheus_client import Counter, Gauge

    turns = Counter(
        "hearthvox_area_turns",
        "Hub turns by satellite area and outcome",
        ["area", "outcome"],
        registry=reg,
    )
    arbitration = Counter(
        "hearthvox_area_arbitration",
        "Hub turns whose wake word more than one satellite claimed, by area and result",
        ["area", "result"],
        registry=reg,
    )
    quant = Gauge(
        "hearthvox_area_stage_quantile_seconds",
        "Per area, percentiles of stage times over the exported window",
        ["area", "stage", "part", "quantile"],
        registry=reg,
    )
    for area, entry in summary["areas"].items():
        for outcome, n in entry["outcomes"].items():
            turns.labels(area, outcome).inc(n)
        for result, n in entry["arbitration"].items():
            arbitration.labels(area, result).inc(n)
        for stage, own in entry["stages"].items():
            for part, dist in (("compute", own), ("queue", own.get("queue") or {})):
                for q in AREA_QUANTILES:
                    if (value := dist.get(f"p{q}_ms")) is not None:  # none when n is 0
                        quant.labels(area, stage, part, str(q / 100)).set(value / 1000.0)
    left = Gauge(
        "hearthvox_areas_left_out",
        f"Areas past the busiest {MAX_AREAS} (and their turns), not named above",
        ["what"],
        registry=reg,
    )
    for what, n in summary["areas_left_out"].items():
        left.labels(what).set(n)


def write_prometheus(path: Path | None, registry: Any) -> bytes | None:
    """Write the textfile to ``path`` (atomically), or return the exposition text."""
    from prometheus_client import generate_latest, write_to_textfile

    if path is None:
        return bytes(generate_latest(registry))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), registry)
    return None
