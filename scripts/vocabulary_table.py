"""The vocabulary's effect, slice by slice: tiny.en alone, the correction, the
correction with the second (prompted) decode, and the prompt on every decode
(docs/evaluation.md, "Names and codes").

    .venv/bin/python scripts/vocabulary_table.py --split dev --sweep 0.7,0.75,0.8,0.85,0.9
    .venv/bin/python scripts/vocabulary_table.py --split test --threshold 0.9

Runs the eval's clips of the chosen slices (default: clean, tts, entities) twice
through the default bundle's wake, VAD and ASR: plain, and with the vocabulary as
prompt on every decode. The correction and the second, prompted decode of
``WhisperAsr`` are functions of those two texts (engines/biasing.py), so every
variant and threshold is computed from the two runs. Prints per slice: WER,
entity error, false insertions of listed terms per 100 commands that hold none,
and the paired change of each variant against tiny.en alone with its 95 %
interval (the gate's own).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
from asr_tables import cells, command_clips, parser, rescore
from asr_tables import two_pass as two_pass_text

from hearthvox.bundles.default import default_model_paths
from hearthvox.config import AsrConfig, Config
from hearthvox.engines.asr import AsrResult, WhisperAsr
from hearthvox.engines.biasing import CORRECT_THRESHOLD, SUSPECT, correct, suspect
from hearthvox.evaluation.evaluate import load_engines_for, target_for
from hearthvox.evaluation.gate import compare
from hearthvox.evaluation.metrics import EvalResult, result_from, slice_metrics
from hearthvox.evaluation.runner import ClipOutcome, Transcriber, run_clips
from hearthvox.events import Int16Array
from hearthvox.vocabulary import load_vocabulary


def main() -> int:
    ap = parser(__doc__, "correction thresholds")
    ap.add_argument("--threshold", type=float, default=CORRECT_THRESHOLD, help="for the table")
    ap.add_argument("--dump", type=Path, help="write each clip's transcripts here (JSON)")
    args = ap.parse_args()
    vocabulary = load_vocabulary(args.vocabulary)
    listed = vocabulary.written()
    base_cfg = Config()
    evalset, clips = command_clips(ap, args, base_cfg)
    slices = tuple(args.slices.split(","))
    by_id = {c.id: c for c in clips}

    cfg = dataclasses.replace(
        base_cfg, asr=dataclasses.replace(AsrConfig(), vocabulary=str(args.vocabulary))
    )
    engines = load_engines_for(target_for(default_model_paths(), cfg))
    loaded = engines.asr
    assert isinstance(loaded, WhisperAsr)
    asr: WhisperAsr = loaded
    bias = asr._bias_for(None)

    class Prompted:
        """Every decode with the vocabulary as prompt (and no correction)."""

        def transcribe(self, audio: Int16Array, *, fallback: bool = True) -> AsrResult:
            x = audio.astype(np.float32) / 32768.0
            return asr._decode(x, len(audio) / 16000, fallback, bias)

    class Plain:
        """tiny.en alone: no prompt, no correction."""

        def transcribe(self, audio: Int16Array, *, fallback: bool = True) -> AsrResult:
            x = audio.astype(np.float32) / 32768.0
            return asr._decode(x, len(audio) / 16000, fallback, None)

    def decode(transcriber: Transcriber, name: str) -> list[ClipOutcome]:
        t0 = time.perf_counter()
        out = run_clips(dataclasses.replace(engines, asr=transcriber), clips)
        print(f"  {name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        return out

    known = asr._known_word

    def scored(outcomes: list[ClipOutcome], texts: list[str]) -> list[ClipOutcome]:
        return rescore(outcomes, texts, by_id, listed)

    def two_pass(first: str, prompted: str, threshold: float) -> str:
        return two_pass_text(first, prompted, vocabulary, threshold, known)

    plain, prompted = decode(Plain(), "plain"), decode(Prompted(), "prompted")
    if args.dump:
        rows = [
            {
                "id": a.id,
                "slice": a.slice,
                "ref": by_id[a.id].reference,
                "plain": a.hypothesis,
                "prompt": b.hypothesis,
            }
            for a, b in zip(plain, prompted, strict=True)
        ]
        args.dump.write_text(json.dumps(rows, indent=1))
    first = [o.hypothesis for o in plain]
    again = [o.hypothesis for o in prompted]
    thresholds = [float(t) for t in args.sweep.split(",")] if args.sweep else [args.threshold]
    variants: list[tuple[str, list[ClipOutcome]]] = [
        ("tiny.en alone", scored(plain, first)),
        ("prompt on every decode", scored(plain, again)),
    ]
    for t in thresholds:
        variants.append(
            (
                f"correction {t:g}",
                scored(plain, [correct(a, vocabulary, t, known).text for a in first]),
            )
        )
        variants.append(
            (
                f"prompt every decode + corr. {t:g}",
                scored(plain, [correct(b, vocabulary, t, known).text for b in again]),
            )
        )
        variants.append(
            (
                f"corr. {t:g} + 2nd pass (default)",
                scored(plain, [two_pass(a, b, t) for a, b in zip(first, again, strict=True)]),
            )
        )
        n = sum(bool(a) and suspect(a, vocabulary, SUSPECT, known) for a in first)
        print(f"  second decodes at {t:g}: {n} of {len(first)} clips", file=sys.stderr)

    def result(outcomes: list[ClipOutcome]) -> EvalResult:
        return result_from("default", evalset.digest, False, tuple(outcomes), split=args.split)

    baseline = result(variants[0][1])
    print(
        f"{'variant':30} {'slice':9} {'n':>4} {'WER':>6} {'entity err':>10} "
        f"{'ins/100':>7}  change vs alone [95% CI]"
    )
    for name, outcomes in variants:
        res = result(outcomes)
        checks = {(c.slice, c.metric.name): c for c in compare(base_cfg.eval, baseline, res)}
        for s in slices + ("all",):
            members = [o for o in outcomes if o.slice == s] if s != "all" else outcomes
            m = slice_metrics(s, members, args.split)
            c = cells(m, checks, s, name != variants[0][0])
            print(
                f"{name:30} {s:9} {m.n:>4} {c['wer']:>6} {c['entity']:>10} {c['ins']:>7}  "
                f"{c['change']}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
