"""tiny.en alone / + vocabulary / cascade / cascade + vocabulary, slice by slice
(docs/evaluation.md, "The cascade").

    .venv/bin/python scripts/cascade_table.py --split dev --sweep -0.3,-0.45,-0.6,-0.8
    .venv/bin/python scripts/cascade_table.py --split test --logprob -0.45

Runs the eval's command clips of the chosen slices through the default bundle's
wake, VAD and ASR four times: tiny.en and Whisper base (``asr/whisper-base``, the
``[asr-base]`` extra), each plain and with the vocabulary as prompt on every
decode. The correction, the prompted second decode (engines/biasing.py) and the
cascade's choice (``escalate`` in engines/asr.py, from tiny's own first decode)
are functions of those texts and signals, so every variant comes from the same
four runs. Prints per slice WER, entity errors, exact alphanumerics, false
insertions per 100, the share escalated, and the paired change against tiny.en
alone with the gate's 95 % interval.
"""

from __future__ import annotations

import dataclasses
import statistics
import sys
import time

import numpy as np
from asr_tables import cells, command_clips, parser, rescore, two_pass

from hearthvox.bundles.default import default_model_paths
from hearthvox.bundles.optional import load_second_asr
from hearthvox.config import AsrConfig, Config
from hearthvox.engines.asr import AsrResult, CascadeOptions, WhisperAsr, escalate
from hearthvox.evaluation.evaluate import load_engines_for, target_for
from hearthvox.evaluation.gate import compare
from hearthvox.evaluation.metrics import members, result_from, slice_metrics
from hearthvox.evaluation.runner import ClipOutcome, run_clip
from hearthvox.events import Int16Array
from hearthvox.vocabulary import load_vocabulary


class Recorder:
    """A transcriber that decodes with one model, prompted or not, and keeps what it
    returned (and how long it took) for each clip."""

    def __init__(self, asr: WhisperAsr, prompted: bool) -> None:
        self.asr, self.prompted = asr, prompted
        self.last: AsrResult | None = None
        self.ms = 0.0

    def transcribe(self, audio: Int16Array, *, fallback: bool = True) -> AsrResult:
        x = audio.astype(np.float32) / 32768.0
        bias = self.asr._bias_for(None) if self.prompted else None
        t0 = time.perf_counter()
        self.last = self.asr._decode(x, len(audio) / 16000, fallback, bias)
        self.ms = (time.perf_counter() - t0) * 1000
        return self.last


def main() -> int:
    ap = parser(__doc__, "logprob thresholds")
    ap.add_argument("--logprob", type=float, default=CascadeOptions().logprob_below)
    args = ap.parse_args()
    vocabulary = load_vocabulary(args.vocabulary)
    listed = vocabulary.written()
    asr_cfg = dataclasses.replace(AsrConfig(), vocabulary=str(args.vocabulary))
    cfg = dataclasses.replace(Config(), asr=asr_cfg)
    evalset, clips = command_clips(ap, args, cfg)
    slices = tuple(args.slices.split(","))
    by_id = {c.id: c for c in clips}
    engines = load_engines_for(target_for(default_model_paths(), cfg))
    tiny = engines.asr
    assert isinstance(tiny, WhisperAsr)
    base = load_second_asr(cfg)
    known = tiny._known_word

    runs: dict[str, list[tuple[ClipOutcome, AsrResult, float]]] = {}
    for name, model, prompted in (
        ("tiny", tiny, False),
        ("tiny_prompted", tiny, True),
        ("base", base, False),
        ("base_prompted", base, True),
    ):
        rec = Recorder(model, prompted)
        run_engines = dataclasses.replace(engines, asr=rec)
        t0 = time.perf_counter()
        got = []
        for clip in clips:
            rec.last, rec.ms = None, 0.0
            outcome = run_clip(run_engines, clip)
            got.append((outcome, rec.last or AsrResult("", 0.0), rec.ms))
        runs[name] = got
        print(f"  {name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)

    def biased(first: str, prompted: str) -> str:
        return two_pass(first, prompted, vocabulary, tiny.bias.threshold, known)

    def scored(texts: list[str]) -> list[ClipOutcome]:
        return rescore([o for o, _, _ in runs["tiny"]], texts, by_id, listed)

    tiny_plain = [r.text for _, r, _ in runs["tiny"]]
    tiny_biased = [
        biased(a, r.text) for a, (_, r, _) in zip(tiny_plain, runs["tiny_prompted"], strict=True)
    ]
    base_plain = [r.text for _, r, _ in runs["base"]]
    base_biased = [
        biased(a, r.text) for a, (_, r, _) in zip(base_plain, runs["base_prompted"], strict=True)
    ]
    firsts = [r for _, r, _ in runs["tiny"]]
    base_ms = [ms for _, _, ms in runs["base"]]

    variants: list[tuple[str, list[str], list[bool]]] = [
        ("tiny.en alone", tiny_plain, [False] * len(clips)),
        ("tiny.en + vocabulary", tiny_biased, [False] * len(clips)),
    ]
    thresholds = [float(t) for t in args.sweep.split(",")] if args.sweep else [args.logprob]
    for t in thresholds:
        opts = CascadeOptions(enabled=True, logprob_below=t)
        up = [escalate(f, f.text, opts) for f in firsts]
        variants.append(
            (
                f"cascade {t:g}",
                [b if e else a for a, b, e in zip(tiny_plain, base_plain, up, strict=True)],
                up,
            )
        )
        upb = [escalate(f, s, opts) for f, s in zip(firsts, tiny_biased, strict=True)]
        variants.append(
            (
                f"cascade {t:g} + vocabulary",
                [b if e else a for a, b, e in zip(tiny_biased, base_biased, upb, strict=True)],
                upb,
            )
        )

    baseline = result_from("default", evalset.digest, False, tuple(scored(tiny_plain)))
    views = [*slices, "commands", "alphanumeric", "all"]
    print(
        f"{'variant':28} {'slice':12} {'n':>4} {'WER':>6} {'exact':>6} {'entity':>6} "
        f"{'ins/100':>7} {'escal.':>6}  change vs alone [95% CI]"
    )
    for name, texts, up in variants:
        outcomes = scored(texts)
        res = result_from("default", evalset.digest, False, tuple(outcomes))
        checks = {(c.slice, c.metric.name): c for c in compare(cfg.eval, baseline, res)}
        for view in views:
            mine = members(view, outcomes)
            if not mine:
                continue
            m = slice_metrics(view, mine, args.split)
            ids = {o.id for o in mine}
            n_up = sum(e for o, e in zip(outcomes, up, strict=True) if o.id in ids)
            c = cells(m, checks, view, name != variants[0][0])
            print(
                f"{name:28} {view:12} {m.n:>4} {c['wer']:>6} {c['exact']:>6} {c['entity']:>6} "
                f"{c['ins']:>7} {n_up / len(mine) * 100:>5.0f}%  {c['change']}"
            )
        added = [ms for ms, e in zip(base_ms, up, strict=True) if e]
        if added:
            print(
                f"{name:28} base decode on the escalated clips: median "
                f"{statistics.median(added):.0f} ms, mean added per clip "
                f"{sum(added) / len(clips):.0f} ms"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
