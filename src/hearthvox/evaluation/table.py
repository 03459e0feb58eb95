"""Plain-text tables of eval results: slice x metric with counts, and comparisons."""

from __future__ import annotations

from hearthvox.evaluation.gate import Check
from hearthvox.evaluation.metrics import EvalResult, SliceMetrics

_HEAD = (
    f"{'slice':<13} {'n':>3} {'spk':>3} {'WER [95% CI]':>20} {'exact':>6} {'entity err':>10} "
    f"{'wake miss':>9} {'false acc/h':>17} {'VAD F1':>6} {'cut-off':>7} {'late':>5} "
    f"{'endpoint':>8}"
)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _of(count: int, n: int) -> str:
    return f"{count}/{n}" if n else "-"


def _ci(s: SliceMetrics, metric: str) -> str:
    ci = s.interval(metric)
    return f"[{ci[0] * 100:.0f}-{ci[1] * 100:.0f}]" if ci else ""


def row(s: SliceMetrics) -> str:
    wer = f"{_pct(s.wer)} {_ci(s, 'wer')}" if s.words else "-"
    fa = "-"
    if s.fa_hours > 0:
        fa = f"{s.fa_per_h or 0.0:.1f} ({s.false_accepts} in {s.fa_hours * 60:.1f}m)"
    vad = "-" if s.vad_f1 is None else f"{s.vad_f1:.3f}"
    endpoint = "-" if s.endpoint_p50_ms is None else f"{s.endpoint_p50_ms:.0f} ms"
    return (
        f"{s.slice:<13} {s.n:>3} {s.n_speakers:>3} {wer:>20} {_pct(s.exact_match):>6} "
        f"{_of(s.entity_errors, s.entities):>10} "
        f"{_of(s.wake_missed, s.wake_n):>9} {fa:>17} {vad:>6} {_of(s.cutoffs, s.n):>7} "
        f"{_of(s.lates, s.n):>5} {endpoint:>8}"
    )


def result_lines(result: EvalResult) -> list[str]:
    return [_HEAD, *(row(s) for s in result.slices)]


def legend() -> str:
    return (
        "n: commands; spk: speakers; WER: word errors / reference words (normalised), "
        "with its 95% bootstrap interval over speakers and utterances; exact: "
        "alphanumerics with every letter and digit right; entity err: names and codes misheard; "
        "wake miss: wake phrases not detected; false acc/h: wake detections in other audio "
        "per hour (count in minutes); VAD F1: speech frames of the labelled recording; "
        "cut-off: commands ended before the speech did; late: endpoint > 1.5 s after it; "
        "endpoint: median delay after the end of speech"
    )


def compare_lines(checks: list[Check], this: str, other: str) -> list[str]:
    """One line per (slice, metric): the other bundle, this one, the paired change with
    its 95 % interval, the budget, the verdict."""
    head = f"{'slice':<13} {'metric':<20} {other[:12]:>12} {this[:12]:>12} "
    lines = [head + f"{'change [95% CI]':>26}  budget: verdict"]
    for c in checks:
        lines.append(
            f"{c.slice:<13} {c.metric.label:<20} {c.value(c.baseline):>12} "
            f"{c.value(c.candidate):>12} {c.change_text():>26}  {c.budget_text()}: "
            + {"pass": "ok", "fail": "OVER BUDGET"}.get(c.verdict, "NOT ENOUGH DATA")
        )
    return lines
