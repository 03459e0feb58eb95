"""Tune on the development speakers, then report on the test speakers.

``python -m hearthvox.evaluation.tune endpoint|lean|decoders [--split dev|test]``
runs the active bundle's engines over the command clips of one speaker split of
the eval set (:mod:`.split`), as ``hearthvox eval`` does, and prints one row per
setting:

* ``endpoint``: the endpointer's settings (``[endpoint] hangover_ms``,
  ``short_hangover_ms``, ``command_hangover_ms``, ``pause_ms``), one at a time around
  the configured values.
  The VAD runs once per clip and every decode is remembered by its audio, so a
  sweep costs little more than one run. Per row: WER with its 95 % interval,
  cut-off and late commands, and the median and 90th percentile of the endpoint
  decision after the end of the speech.
* ``lean``: the live decoder's lean decode (the silence margin appended after the
  audio, the confidence floor of its guard) on the recording between its labelled
  speech edges (0.3 s before, 0.2 s after). Per row: WER with its interval, how
  many decodes fell back to the full window, and how many texts differ from the
  full-window decode of the same audio.
* ``decoders``: lean against the full window with the configured settings, WER with
  intervals and the count of recordings whose texts differ (the report on
  ``--split test``).

Tune on ``--split dev`` (the default); report with ``--split test``. Nothing here
writes a transcript anywhere.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hearthvox import config
from hearthvox.bundles.active import ensure_initialised, open_store
from hearthvox.config import Config, EndpointConfig
from hearthvox.engines.asr import AsrResult, LeanOptions, WhisperAsr
from hearthvox.engines.executor import EngineExecutor
from hearthvox.evaluation import recipes
from hearthvox.evaluation.evalset import Clip
from hearthvox.evaluation.evaluate import load_engines_for, options_for, prepare_set, resolve
from hearthvox.evaluation.metrics import slice_metrics
from hearthvox.evaluation.runner import (
    ClipOutcome,
    EvalEngines,
    Transcriber,
    clip_base,
    run_command,
)
from hearthvox.evaluation.wer import normalize, word_errors
from hearthvox.events import Int16Array

RATE_HZ = 16000
DEFAULT_SLICES = (recipes.CLEAN, "noise_5db", recipes.FAR_FIELD)
PRE_S, POST_S = 0.3, 0.2
"""Around a recording's labelled speech for ``lean`` and ``decoders`` (the listener's
pre-roll, and the tail it keeps after the last voiced frame)."""


class MemoAsr:
    """The recogniser, each decode remembered by its audio (a sweep decodes the same
    cuts again and again)."""

    def __init__(self, asr: Transcriber) -> None:
        self.asr = asr
        self._seen: dict[tuple[bytes, str], AsrResult] = {}
        self._lock = threading.Lock()  # the pipeline decodes on the engine's thread
        self.decodes = 0

    @property
    def executor(self) -> EngineExecutor:
        return self.asr.executor

    def _memo(self, audio: Int16Array, how: str, decode: Callable[[], AsrResult]) -> AsrResult:
        key = (hashlib.sha256(audio.tobytes()).digest(), how)
        with self._lock:
            found = self._seen.get(key)
        if found is None:
            found = decode()
            with self._lock:
                self.decodes += 1
                self._seen[key] = found
        return found

    def transcribe(self, audio: Int16Array, *, fallback: bool = True) -> AsrResult:
        how = "fallback" if fallback else "lean"
        return self._memo(audio, how, lambda: self.asr.transcribe(audio, fallback=fallback))


@dataclass(frozen=True)
class Row:
    setting: str
    n: int
    n_speakers: int
    wer: float | None
    wer_ci95: tuple[float, float] | None
    cutoffs: int = 0
    lates: int = 0
    endpoint_p50_ms: float | None = None
    endpoint_p90_ms: float | None = None
    fallbacks: int | None = None
    differ: int | None = None
    seconds: float = 0.0

    def line(self) -> str:
        ci = f"[{self.wer_ci95[0] * 100:.1f}-{self.wer_ci95[1] * 100:.1f}]" if self.wer_ci95 else ""
        wer = f"{self.wer * 100:5.1f}% {ci:<12}" if self.wer is not None else "-"
        parts = [f"{self.setting:<28}", f"n={self.n:<4}", f"WER {wer}"]
        if self.endpoint_p50_ms is not None:
            p90 = self.endpoint_p90_ms or 0.0
            parts.append(f"cut-off {self.cutoffs:<3} late {self.lates:<3}")
            parts.append(f"endpoint p50 {self.endpoint_p50_ms:5.0f} ms p90 {p90:5.0f} ms")
        if self.fallbacks is not None:
            parts.append(f"fallbacks {self.fallbacks:<3}")
        if self.differ is not None:
            parts.append(f"differ from full {self.differ}")
        return "  ".join(parts)


def _row(setting: str, outcomes: Sequence[ClipOutcome], **extra: Any) -> Row:
    m = slice_metrics(recipes.ALL, list(outcomes))
    delays = sorted(o.endpoint_ms for o in outcomes if o.endpoint_ms is not None)
    p90 = delays[min(len(delays) - 1, int(0.9 * len(delays)))] if delays else None
    return Row(
        setting,
        m.n,
        m.n_speakers,
        m.wer,
        m.interval("wer"),
        cutoffs=m.cutoffs,
        lates=m.lates,
        endpoint_p50_ms=statistics.median(delays) if delays else None,
        endpoint_p90_ms=p90,
        **extra,
    )


ENDPOINT_SWEEPS: dict[str, tuple[float, ...]] = {
    "hangover_ms": (300, 400, 700),
    "short_hangover_ms": (160, 192, 320, 384),
    "command_hangover_ms": (128, 192, 256),
    "pause_ms": (96, 128),
    "end_threshold": (0.6, 0.7),
}


def endpoint_variants(
    base: EndpointConfig, sweeps: dict[str, tuple[float, ...]] | None = None
) -> Iterator[tuple[str, EndpointConfig]]:
    """The configured settings, then each key of *sweeps* moved alone."""
    yield "configured", base
    for key, values in (sweeps or ENDPOINT_SWEEPS).items():
        for value in values:
            if value != getattr(base, key):
                changed: dict[str, Any] = {key: value}
                yield f"{key}={value}", dataclasses.replace(base, **changed)


def sweep_endpoint(
    engines: EvalEngines,
    clips: Sequence[Clip],
    tick: Callable[[str], None],
    sweeps: dict[str, tuple[float, ...]] | None = None,
) -> list[Row]:
    memo = MemoAsr(engines.asr)
    rows = []
    for name, ep in endpoint_variants(engines.cfg.endpoint, sweeps):
        t0 = time.perf_counter()
        cfg = dataclasses.replace(engines.cfg, endpoint=ep)
        tuned = dataclasses.replace(engines, asr=memo, cfg=cfg)
        outcomes = [run_command(tuned, c) for c in clips]
        rows.append(_row(name, outcomes, seconds=round(time.perf_counter() - t0, 1)))
        tick(rows[-1].line())
    return rows


def _span(clip: Clip) -> Int16Array:
    start, end = clip.span_s
    lo = max(0, int((start - PRE_S) * RATE_HZ))
    return clip.audio[lo : int((end + POST_S) * RATE_HZ)]


def _outcome(clip: Clip, text: str) -> ClipOutcome:
    edits, words = word_errors(clip.reference, text)
    return ClipOutcome(**clip_base(clip), words=words, edits=edits)


def _full_texts(asr: WhisperAsr, clips: Sequence[Clip]) -> list[str]:
    return [asr.transcribe_full(_span(c)).text for c in clips]


LEAN_MARGINS_S = (1.0, 2.0, 3.0)
LEAN_FLOORS = (-0.8, -1.2, -1.5)
LEAN_RESTART_WORDS = (1, 2)


def lean_variants(
    base: LeanOptions,
    margins: Sequence[float] = LEAN_MARGINS_S,
    floors: Sequence[float] = LEAN_FLOORS,
    restarts: Sequence[int] = LEAN_RESTART_WORDS,
) -> Iterator[tuple[str, LeanOptions]]:
    """The configured options, then the margin, the confidence floor and the shortest
    restarted sentence that is cut (not sent to the full window), one at a time."""
    yield "configured", base
    for margin in margins:
        if margin != base.margin_s:
            yield f"margin_s={margin}", dataclasses.replace(base, margin_s=margin)
    for floor in floors:
        if floor != base.guard.min_avg_logprob:
            guard = dataclasses.replace(base.guard, min_avg_logprob=floor)
            yield f"min_avg_logprob={floor}", dataclasses.replace(base, guard=guard)
    for words in restarts:
        if words != base.guard.restart_words:
            guard = dataclasses.replace(base.guard, restart_words=words)
            yield f"restart_words={words}", dataclasses.replace(base, guard=guard)


def _lean_row(name: str, asr: WhisperAsr, clips: Sequence[Clip], full: Sequence[str]) -> Row:
    t0 = time.perf_counter()
    results = [asr.transcribe(_span(c)) for c in clips]
    differ = sum(normalize(r.text) != normalize(f) for r, f in zip(results, full, strict=True))
    return _row(
        name,
        [_outcome(c, r.text) for c, r in zip(clips, results, strict=True)],
        fallbacks=sum(r.fallback is not None for r in results),
        differ=differ,
        seconds=round(time.perf_counter() - t0, 1),
    )


def sweep_lean(
    asr: WhisperAsr,
    clips: Sequence[Clip],
    tick: Callable[[str], None],
    variants: Callable[[LeanOptions], Iterator[tuple[str, LeanOptions]]] = lean_variants,
) -> list[Row]:
    full = _full_texts(asr, clips)
    configured = asr.lean
    rows = []
    try:
        for name, lean in variants(configured):
            asr.lean = lean
            rows.append(_lean_row(name, asr, clips, full))
            tick(rows[-1].line())
    finally:
        asr.lean = configured
    return rows


def compare_decoders(
    asr: WhisperAsr, clips: Sequence[Clip], tick: Callable[[str], None]
) -> list[Row]:
    t0 = time.perf_counter()
    full = _full_texts(asr, clips)
    full_row = _row(
        "full window",
        [_outcome(c, t) for c, t in zip(clips, full, strict=True)],
        seconds=round(time.perf_counter() - t0, 1),
    )
    tick(full_row.line())
    lean_row = _lean_row("lean (configured)", asr, clips, full)
    tick(lean_row.line())
    return [full_row, lean_row]


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m hearthvox.evaluation.tune",
        description="Sweep endpoint and lean-decode settings on one speaker split of the "
        "eval set (tune on dev, report on test).",
    )
    p.add_argument("what", choices=("endpoint", "lean", "decoders"), help="what to sweep")
    p.add_argument(
        "--split", choices=("dev", "test"), default="dev", help="whose recordings (default: dev)"
    )
    p.add_argument(
        "--slices",
        default=None,
        help="comma-separated slices (default: clean,noise_5db,far_field for endpoint; "
        "clean for lean and decoders)",
    )
    p.add_argument("--corpus", default=None, help="the corpus folder (default: as eval)")
    p.add_argument("--config", default=None, help="config file")
    p.add_argument(
        "--sweep",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="endpoint: the values of one key to try (repeatable; default: "
        + "; ".join(f"{k}={','.join(map(str, v))}" for k, v in ENDPOINT_SWEEPS.items())
        + ")",
    )
    p.add_argument(
        "--margins",
        default=",".join(map(str, LEAN_MARGINS_S)),
        help="lean: silence margins to try, in seconds (comma-separated; '' for none)",
    )
    p.add_argument(
        "--floors",
        default=",".join(map(str, LEAN_FLOORS)),
        help="lean: confidence floors (average log probability) to try",
    )
    p.add_argument(
        "--restarts",
        default=",".join(map(str, LEAN_RESTART_WORDS)),
        help="lean: shortest restarted sentence cut to one copy (words) to try",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per row")
    return p.parse_args(argv)


def _numbers(text: str, kind: type[float] | type[int], low: float, high: float) -> list[Any]:
    values = [kind(v) for v in text.split(",") if v.strip()]
    if any(not low <= v <= high for v in values):
        raise ValueError(f"{text!r}: give values from {low} to {high}")
    return values


def _sweeps(given: Sequence[str]) -> dict[str, tuple[float, ...]] | None:
    sweeps: dict[str, tuple[float, ...]] = {}
    for item in given:
        key, _, values = item.partition("=")
        if key not in ENDPOINT_SWEEPS:
            raise ValueError(f"--sweep {item!r}: the key is one of {', '.join(ENDPOINT_SWEEPS)}")
        if key == "end_threshold":
            sweeps[key] = tuple(_numbers(values, float, 0.0, 1.0))
            if not sweeps[key]:
                raise ValueError(f"--sweep {item!r}: give values from 0 to 1")
            continue
        try:
            sweeps[key] = tuple(int(v) for v in values.split(",") if v.strip())
        except ValueError:
            raise ValueError(f"--sweep {item!r}: the values are whole milliseconds") from None
        if not sweeps[key] or any(not 0 < v <= 5000 for v in sweeps[key]):
            raise ValueError(f"--sweep {item!r}: give 1 to 5000 ms values")
    return sweeps or None


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    try:
        sweeps = _sweeps(args.sweep)
        margins = _numbers(args.margins, float, 0.0, 30.0)
        floors = _numbers(args.floors, float, -10.0, 0.0)
        restarts = _numbers(args.restarts, int, 1, 50)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    cfg: Config = config.load(Path(args.config) if args.config else None)
    store = open_store()
    ensure_initialised(store, cfg)
    target = resolve(cfg, store, None, None)
    corpus = Path(args.corpus) if args.corpus else None
    options = options_for(cfg, corpus, quick=False, split=args.split)
    evalset = prepare_set(options, cfg, lambda text: print(f"synthesising: {text}"))
    default = ",".join(DEFAULT_SLICES) if args.what == "endpoint" else recipes.CLEAN
    wanted = [s.strip() for s in (args.slices or default).split(",") if s.strip()]
    unknown = sorted(set(wanted) - set(evalset.slices()))
    if unknown:
        print(f"unknown slice {unknown[0]!r}; the set has: {', '.join(evalset.slices())}")
        return 2
    clips = [c for c in evalset.clips if c.role == "command" and c.slice in wanted]
    engines = load_engines_for(target)
    print(
        f"{target.label}: {len(clips)} commands of {args.split} speakers "
        f"({', '.join(wanted)}; eval set {evalset.digest[:12]})",
        file=sys.stderr,
    )

    def tick(line: str) -> None:
        if not args.json:
            print(line, flush=True)

    asr = engines.asr
    assert isinstance(asr, WhisperAsr)
    if args.what == "endpoint":
        rows = sweep_endpoint(engines, clips, tick, sweeps)
    elif args.what == "lean":
        rows = sweep_lean(
            asr, clips, tick, lambda base: lean_variants(base, margins, floors, restarts)
        )
    else:
        rows = compare_decoders(asr, clips, tick)
    if args.json:
        for row in rows:
            print(json.dumps({"split": args.split, "slices": wanted, **dataclasses.asdict(row)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
