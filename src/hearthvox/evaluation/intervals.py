"""95 % intervals by bootstrap: over speakers, then utterances within each speaker.

A rate of a slice is a ratio of sums over its clips (WER: edits / reference words;
a share: count / clips). A bootstrap replicate draws the slice's speakers with
replacement, then each drawn speaker's clips with replacement, and recomputes
the ratio (a speaker drawn k times counts its one draw of clips k times); with
one speaker (or none recorded) it draws clips. The interval is
the 2.5th and 97.5th percentile of :data:`REPLICATES` replicates. The draws are
seeded by the slice's name and its clip ids, so a result's intervals are the same
on every run, and two results on the same set share their draws: the paired
difference of the gate (:mod:`.gate`) is taken replicate by replicate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from hearthvox.evaluation import mixing
from hearthvox.evaluation.runner import ClipOutcome

REPLICATES = 1000
Floats = npt.NDArray[np.float64]
Parts = Callable[[ClipOutcome], "tuple[float, float] | None"]


def _share(flag: bool | None) -> tuple[float, float] | None:
    return None if flag is None else (float(flag), 1.0)


def _command(o: ClipOutcome, value: float) -> tuple[float, float] | None:
    return (value, 1.0) if o.role == "command" else None


PARTS: dict[str, Parts] = {
    "wer": lambda o: (float(o.edits), float(o.words)) if o.role == "command" else None,
    "entity_error": lambda o: None if o.entity_ok is None else (float(not o.entity_ok), 1.0),
    "exact_match": lambda o: _share(o.exact_ok),
    "wake_frr": lambda o: None if o.wake_hit is None else (float(not o.wake_hit), 1.0),
    "cutoff_rate": lambda o: _command(o, float(bool(o.cutoff))),
    "late_rate": lambda o: _command(o, float(bool(o.late))),
    "fa_per_h": lambda o: None if o.role == "wake" else (float(o.false_accepts), o.audio_s / 3600),
}
"""Per metric: a clip's (numerator, denominator), or None when the clip does not count."""


def parts(metric: str, clips: Sequence[ClipOutcome]) -> tuple[Floats, Floats]:
    num, den = np.zeros(len(clips)), np.zeros(len(clips))
    for i, clip in enumerate(clips):
        got = PARTS[metric](clip)
        if got is not None:
            num[i], den[i] = got
    return num, den


def weights(name: str, clips: Sequence[ClipOutcome]) -> Floats:
    """(REPLICATES, clips) bootstrap counts: how often each clip is drawn in each replicate."""
    n = len(clips)
    rng = mixing.rng_for("bootstrap", name, *sorted(c.id for c in clips))
    out = np.zeros((REPLICATES, n))
    if n == 0:
        return out
    groups: dict[str, list[int]] = {}
    for i, clip in enumerate(clips):
        groups.setdefault(clip.speaker or clip.id, []).append(i)
    members = list(groups.values())
    if len(members) < 2:
        return rng.multinomial(n, np.full(n, 1 / n), size=REPLICATES).astype(np.float64)
    drawn = rng.multinomial(len(members), np.full(len(members), 1 / len(members)), REPLICATES)
    for g, idx in enumerate(members):
        k = len(idx)
        within = rng.multinomial(k, np.full(k, 1 / k), size=REPLICATES)
        out[:, idx] = within * drawn[:, g : g + 1]
    return out


def ratios(w: Floats, num: Floats, den: Floats) -> Floats:
    """The ratio of each replicate (NaN where a replicate drew no denominator)."""
    top, bottom = w @ num, w @ den
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1.0), np.nan)


def ci95(values: Floats) -> tuple[float, float] | None:
    kept = values[~np.isnan(values)]
    if len(kept) == 0:
        return None
    lo, hi = np.percentile(kept, [2.5, 97.5])
    return float(lo), float(hi)


def interval(w: Floats, metric: str, clips: Sequence[ClipOutcome]) -> tuple[float, float] | None:
    num, den = parts(metric, clips)
    if not den.any():
        return None
    return ci95(ratios(w, num, den))
