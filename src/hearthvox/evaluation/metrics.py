"""Metrics per slice from the clips' outcomes, and one eval's whole result.

Every rate carries a 95 % bootstrap interval (:mod:`.intervals`).
Per slice: word error rate (edits / reference words, normalised), entity error
rate (the name or code wrong or missing), wake false-reject rate (wake phrases
not detected) and false accepts per hour (detections in every other clip, over
their audio), VAD segment F1 (32 ms segments of the labelled part of the VAD
recording), and the rates of cut-off commands (the endpoint came before the
speech ended, or no speech was found) and late endpoints (more than 1.5 s after
the speech ended, or never), and for alphanumeric recordings the share whose
letters and digits are exactly right.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from hearthvox.evaluation import intervals, recipes
from hearthvox.evaluation.runner import ClipOutcome


def _rate(count: int, n: int) -> float | None:
    return count / n if n else None


INTERVAL_METRICS = tuple(intervals.PARTS)


@dataclass(frozen=True)
class SliceMetrics:
    slice: str
    n: int  # command clips
    split: str = ""
    n_speakers: int = 0
    exact_n: int = 0
    exact_ok: int = 0
    ci95: tuple[tuple[str, float, float], ...] = ()
    """(metric, low, high) of every rate the slice has."""
    words: int = 0
    edits: int = 0
    entities: int = 0
    entity_errors: int = 0
    wake_n: int = 0
    wake_missed: int = 0
    false_accepts: int = 0
    fa_hours: float = 0.0
    vad_tp: int = 0
    vad_fp: int = 0
    vad_fn: int = 0
    vad_n: int = 0
    cutoffs: int = 0
    lates: int = 0
    endpoint_p50_ms: float | None = None
    unlisted: int = 0
    """Commands whose reference holds no term of the vocabulary (with a vocabulary)."""
    insertions: int = 0
    """Terms of the vocabulary heard in those commands."""

    @property
    def wer(self) -> float | None:
        return _rate(self.edits, self.words)

    @property
    def entity_error(self) -> float | None:
        return _rate(self.entity_errors, self.entities)

    @property
    def insertions_per_100(self) -> float | None:
        """Listed terms heard where none was said, per 100 commands without one."""
        return None if not self.unlisted else 100 * self.insertions / self.unlisted

    @property
    def exact_match(self) -> float | None:
        return _rate(self.exact_ok, self.exact_n)

    def interval(self, metric: str) -> tuple[float, float] | None:
        return next(((lo, hi) for m, lo, hi in self.ci95 if m == metric), None)

    @property
    def wake_frr(self) -> float | None:
        return _rate(self.wake_missed, self.wake_n)

    @property
    def fa_per_h(self) -> float | None:
        return self.false_accepts / self.fa_hours if self.fa_hours > 0 else None

    @property
    def vad_f1(self) -> float | None:
        if not self.vad_n:
            return None
        denominator = 2 * self.vad_tp + self.vad_fp + self.vad_fn
        return 2 * self.vad_tp / denominator if denominator else 1.0

    @property
    def cutoff_rate(self) -> float | None:
        return _rate(self.cutoffs, self.n)

    @property
    def late_rate(self) -> float | None:
        return _rate(self.lates, self.n)

    def metric(self, name: str) -> float | None:
        value: float | None = getattr(self, name)
        return value

    def to_json(self) -> dict[str, Any]:
        """The ``eval --json`` line: the four contract keys always, the rest where the
        slice has them."""
        out: dict[str, Any] = {
            "slice": self.slice,
            "split": self.split,
            "n": self.n,
            "n_utterances": self.n,
            "n_speakers": self.n_speakers,
            "wer": _round(self.wer),
            "wer_ci95": self._ci("wer"),
            "entity_error": _round(self.entity_error),
            "entity_error_ci95": self._ci("entity_error"),
        }
        if self.n:
            out.update(
                words=self.words,
                cutoff_rate=_round(self.cutoff_rate),
                cutoff_rate_ci95=self._ci("cutoff_rate"),
                late_rate=_round(self.late_rate),
                late_rate_ci95=self._ci("late_rate"),
                endpoint_p50_ms=self.endpoint_p50_ms,
            )
        if self.exact_n:
            out.update(
                exact_match=_round(self.exact_match),
                exact_match_ci95=self._ci("exact_match"),
                exact_n=self.exact_n,
            )
        if self.entities:
            out["entities"] = self.entities
        if self.unlisted:
            out.update(
                false_insertions=self.insertions,
                false_insertions_per_100=_round(self.insertions_per_100, 2),
                unlisted=self.unlisted,
            )
        if self.wake_n:
            out.update(
                wake_frr=_round(self.wake_frr),
                wake_frr_ci95=self._ci("wake_frr"),
                wake_n=self.wake_n,
            )
        if self.fa_hours > 0:
            ci = self.interval("fa_per_h")
            out.update(
                wake_fa=self.false_accepts,
                wake_fa_per_h=_round(self.fa_per_h, 2),
                wake_fa_per_h_ci95=[round(ci[0], 2), round(ci[1], 2)] if ci else None,
                wake_fa_hours=round(self.fa_hours, 4),
            )
        if self.vad_n:
            out["vad_f1"] = _round(self.vad_f1)
        return out

    def _ci(self, metric: str) -> list[float] | None:
        ci = self.interval(metric)
        return [round(ci[0], 4), round(ci[1], 4)] if ci else None


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def members(name: str, clips: tuple[ClipOutcome, ...] | list[ClipOutcome]) -> list[ClipOutcome]:
    """The clips of slice *name*: a view's clean recordings, every clip for ``all``."""
    if name == recipes.ALL:
        return list(clips)
    if name in recipes.VIEWS:
        return [c for c in clips if name in c.tags]
    return [c for c in clips if c.slice == name]


def slice_metrics(name: str, outcomes: list[ClipOutcome], split: str = "") -> SliceMetrics:
    commands = [o for o in outcomes if o.role == "command"]
    exact = [o.exact_ok for o in commands if o.exact_ok is not None]
    w = intervals.weights(name, outcomes)
    cis = []
    for metric in INTERVAL_METRICS:
        ci = intervals.interval(w, metric, outcomes)
        if ci is not None:
            cis.append((metric, ci[0], ci[1]))
    entities = [o for o in commands if o.entity_ok is not None]
    listed = [o for o in commands if o.listed_said is not None]  # run with a vocabulary
    wakes = [o for o in outcomes if o.role == "wake"]
    vads = [o.vad for o in outcomes if o.vad is not None]
    others = [o for o in outcomes if o.role != "wake"]
    delays = [o.endpoint_ms for o in commands if o.endpoint_ms is not None]
    return SliceMetrics(
        slice=name,
        n=len(commands),
        split=split,
        n_speakers=len({o.speaker for o in commands if o.speaker}),
        exact_n=len(exact),
        exact_ok=sum(exact),
        ci95=tuple(cis),
        words=sum(o.words for o in commands),
        edits=sum(o.edits for o in commands),
        entities=len(entities),
        entity_errors=sum(not o.entity_ok for o in entities),
        wake_n=len(wakes),
        wake_missed=sum(not o.wake_hit for o in wakes),
        false_accepts=sum(o.false_accepts for o in others),
        fa_hours=sum(o.audio_s for o in others) / 3600,
        vad_tp=sum(v[0] for v in vads),
        vad_fp=sum(v[1] for v in vads),
        vad_fn=sum(v[2] for v in vads),
        vad_n=len(vads),
        unlisted=sum(not o.listed_said for o in listed),
        insertions=sum(o.inserted for o in listed if not o.listed_said),
        cutoffs=sum(bool(o.cutoff) for o in commands),
        lates=sum(bool(o.late) for o in commands),
        endpoint_p50_ms=round(statistics.median(delays), 1) if delays else None,
    )


@dataclass(frozen=True)
class EvalResult:
    bundle: str
    set_digest: str
    quick: bool
    slices: tuple[SliceMetrics, ...]
    clips: tuple[ClipOutcome, ...]
    seconds: float = 0.0
    fingerprint: str = ""
    split: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def slice(self, name: str) -> SliceMetrics | None:
        return next((s for s in self.slices if s.slice == name), None)

    @property
    def audio_s(self) -> float:
        return sum(c.audio_s for c in self.clips)

    def to_dict(self) -> dict[str, Any]:
        return {
            "bundle": self.bundle,
            "set_digest": self.set_digest,
            "quick": self.quick,
            "split": self.split,
            "seconds": self.seconds,
            "fingerprint": self.fingerprint,
            "slices": [s.to_json() for s in self.slices],
            "clips": [c.to_dict() for c in self.clips],
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> EvalResult:
        clips = tuple(ClipOutcome.from_dict(c) for c in raw["clips"])
        return result_from(
            raw["bundle"],
            raw["set_digest"],
            raw["quick"],
            clips,
            raw.get("seconds", 0.0),
            raw.get("fingerprint", ""),
            raw.get("split", ""),
        )


def result_from(
    bundle: str,
    set_digest: str,
    quick: bool,
    clips: tuple[ClipOutcome, ...],
    seconds: float = 0.0,
    fingerprint: str = "",
    split: str = "",
) -> EvalResult:
    """Aggregate the clips' outcomes into slices, in the set's order, plus ``all``."""
    slices = []
    for name in recipes.SLICE_ORDER:
        mine = members(name, clips)
        if mine:
            slices.append(slice_metrics(name, mine, split))
    return EvalResult(bundle, set_digest, quick, tuple(slices), clips, seconds, fingerprint, split)
