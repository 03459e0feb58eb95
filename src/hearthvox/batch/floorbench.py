"""The ASR floor: both decoders against plain faster-whisper on the same audio.

``python -m hearthvox.batch.floorbench [--corpus DIR] [--out FILE.jsonl]`` decodes
every speech recording of ``speech.csv`` and ``corpus.csv`` three ways, with the
bundle's model and beam size 1:

* ``floor``: plain faster-whisper ``WhisperModel.transcribe(audio, beam_size=1)``
  (its defaults otherwise: 30 s window, temperature fallback);
* ``live``: the assistant's decoder (:class:`hearthvox.engines.asr.WhisperAsr`);
* ``batch``: ``hearthvox transcribe`` (VAD chunking, then batched decoding).

For each decoder, recording set and kind it prints the exact matches, the
repetitions and the WER. The speakers of ``speech.csv`` are split in two halves by
a hash of ``speaker_id`` (``tune``: what thresholds may be tuned on; ``held``:
recordings never looked at while tuning), reported separately.

Exact match (:func:`exact_key`): both texts go through the WER normaliser (lower
case, no punctuation, digits spelled out), every run of number words is read as
the digits it says (``fifty six thirty two`` and ``5632`` and ``five six three
two`` are all ``5632``; ``oh`` is ``0``; ``third`` and ``3rd`` are ``3``), then all
spaces are dropped, so a
spelled word matches the word (``P I T T S`` = ``pitts``). A *repetition* is a
text in which one to four words repeat three or more times in a row
(``0. 0. 0. 0. 0``) where the reference has no such run.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from hearthvox.evaluation.wer import normalize, word_error_rate

_ONES = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen "
        "fourteen fifteen sixteen seventeen eighteen nineteen".split()
    )
}
_ONES["oh"] = 0
_TENS = {
    w: 10 * i
    for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split())
    if w != "_"
}
_ORDINALS = {
    w: str(i + 1)
    for i, w in enumerate(
        "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
        "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth".split()
    )
}
_RAW = re.compile(r"[^\w']+")
DECODERS = ("floor", "live", "batch")


def _under_100(words: list[str], i: int) -> tuple[int, int] | None:
    """A number below 100 said at ``words[i]`` (``fifty six``, ``twelve``) and where it ends."""
    if i >= len(words):
        return None
    w = words[i]
    if w in _TENS:
        if i + 1 < len(words) and 0 < _ONES.get(words[i + 1], 0) < 10:
            return _TENS[w] + _ONES[words[i + 1]], i + 2
        return _TENS[w], i + 1
    if w in _ONES:
        return _ONES[w], i + 1
    return None


def _numbers(words: list[str]) -> list[str]:
    """Number words read as digits: ``fifty six thirty two`` -> ``56 32``,
    ``one hundred five`` -> ``105``."""
    out: list[str] = []
    i = 0
    while i < len(words):
        found = _under_100(words, i)
        if found is None:
            out.append(words[i])
            i += 1
            continue
        value, i = found
        if 0 < value < 10 and i < len(words) and words[i] == "hundred":
            rest = _under_100(words, i + 1)
            value, i = (value * 100 + rest[0], rest[1]) if rest else (value * 100, i + 1)
        out.append(str(value))
    return out


def exact_key(text: str) -> str:
    """What two texts must share to count as the same (see the module's docstring)."""
    return "".join(_numbers([_ORDINALS.get(w, w) for w in normalize(text)]))


def repeats(text: str, times: int = 3, longest: int = 4) -> bool:
    """One to ``longest`` words repeated ``times`` times or more in a row."""
    words = [w.strip("'") for w in _RAW.sub(" ", text.lower()).split()]
    words = [w for w in words if w]
    for size in range(1, longest + 1):
        for start in range(len(words) - size * times + 1):
            unit = words[start : start + size]
            if all(words[start + k * size : start + (k + 1) * size] == unit for k in range(times)):
                return True
    return False


def is_repetition(reference: str, hypothesis: str) -> bool:
    return repeats(hypothesis) and not repeats(reference)


@dataclass(frozen=True)
class Item:
    path: Path
    set: str
    """``tune`` / ``held`` (halves of speech.csv's speakers) or ``corpus``."""
    kind: str
    speaker: str
    reference: str


def half(speaker: str) -> str:
    """Which half of the speakers: fixed by a hash of the id, the same on every machine."""
    return "tune" if zlib.crc32(speaker.encode()) % 2 == 0 else "held"


def load_items(corpus: Path) -> list[Item]:
    items: list[Item] = []
    with (corpus / "speech.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            spk = row["speaker_id"]
            items.append(Item(corpus / row["file"], half(spk), row["kind"], spk, row["transcript"]))
    with (corpus / "corpus.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            if row["kind"] == "speech":
                items.append(Item(corpus / row["file"], "corpus", "read", "", row["transcript"]))
    return items


def _decode_live(items: list[Item]) -> Iterable[tuple[str, str]]:
    from hearthvox.audio.wavio import load_wav
    from hearthvox.bundles.default import default_model_paths
    from hearthvox.config import Config
    from hearthvox.engines import load_asr
    from hearthvox.settings import engine_config

    asr = load_asr(default_model_paths(), engine_config(Config()))
    for item in items:
        result = asr.transcribe(load_wav(item.path).samples)
        yield result.text, result.decode + (f" ({result.fallback})" if result.fallback else "")


def _decode_floor(items: list[Item]) -> Iterable[tuple[str, str]]:
    from faster_whisper import WhisperModel

    from hearthvox.audio.wavio import load_wav
    from hearthvox.bundles.default import default_model_paths
    from hearthvox.config import Config

    cfg = Config().asr
    model = WhisperModel(
        str(default_model_paths().asr_dir),
        device="cpu",
        compute_type=cfg.compute_type,
        cpu_threads=cfg.threads,
    )
    for item in items:
        x = load_wav(item.path).samples.astype(np.float32) / 32768.0
        segments, _ = model.transcribe(x, beam_size=1)
        yield " ".join(s.text.strip() for s in segments).strip(), "full"


def _decode_batch(items: list[Item]) -> Iterable[tuple[str, str]]:
    from hearthvox.batch import BatchEngine, BatchRun, Input, Overrides, Progress, RunOptions
    from hearthvox.batch.settings import resolve
    from hearthvox.bundles.default import default_model_paths
    from hearthvox.config import Config

    paths = default_model_paths()
    engine = BatchEngine(paths, resolve(paths, Config(), Overrides()), "ignore")
    inputs = [Input(i.path, PurePosixPath(f"{n:04d}")) for n, i in enumerate(items)]
    opts = RunOptions(out_dir=None, when_busy="ignore")
    for result in BatchRun(engine, opts, Progress(False)).run(inputs):
        yield (result.text, "batch") if result.status == "done" else ("", result.error)


_DECODE: dict[str, Callable[[list[Item]], Iterable[tuple[str, str]]]] = {
    "floor": _decode_floor,
    "live": _decode_live,
    "batch": _decode_batch,
}


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per decoder, set and kind (and every set together): counts and WER."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        for s in (r["set"], "all" if r["set"] != "corpus" else None):
            if s is not None:
                groups[(r["decoder"], s, r["kind"])].append(r)
    out = []
    for (decoder, s, kind), rs in sorted(groups.items()):
        out.append(
            {
                "decoder": decoder,
                "set": s,
                "kind": kind,
                "n": len(rs),
                "exact": sum(r["exact"] for r in rs),
                "repetitions": sum(r["repetition"] for r in rs),
                "wer": round(word_error_rate([(r["reference"], r["text"]) for r in rs]), 4),
            }
        )
    return out


def run(items: list[Item], decoders: Iterable[str], out: Path | None) -> list[dict[str, Any]]:
    """Decode *items* with each decoder; every row is also appended to *out* as it comes."""
    rows: list[dict[str, Any]] = []
    for decoder in decoders:
        t0 = time.perf_counter()
        for item, (text, path) in zip(items, _DECODE[decoder](items), strict=True):
            row = {
                "decoder": decoder,
                "file": str(item.path),
                "set": item.set,
                "kind": item.kind,
                "speaker": item.speaker,
                "reference": item.reference,
                "text": text,
                "path": path,
                "exact": exact_key(item.reference) == exact_key(text),
                "repetition": is_repetition(item.reference, text),
            }
            rows.append(row)
            if out is not None:
                with out.open("a") as fh:
                    fh.write(json.dumps(row) + "\n")
        took = time.perf_counter() - t0
        print(f"{decoder}: {len(items)} recordings in {took:.0f} s", file=sys.stderr, flush=True)
    return rows


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of an earlier ``--out`` file (exact and repetition judged again)."""
    rows = []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        row["exact"] = exact_key(row["reference"]) == exact_key(row["text"])
        row["repetition"] = is_repetition(row["reference"], row["text"])
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> None:
    from hearthvox.evaluation.corpus import find_corpus

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=None, help="the corpus folder")
    parser.add_argument("--decoders", default=",".join(DECODERS), help="comma-separated")
    parser.add_argument("--out", type=Path, default=None, help="every decoded text (JSON lines)")
    parser.add_argument("--json", action="store_true", help="one JSON object per table row")
    parser.add_argument(
        "--range",
        default=":",
        help="START:END of the recordings, in file order (to split a long run)",
    )
    parser.add_argument(
        "--with",
        dest="earlier",
        type=Path,
        action="append",
        default=[],
        help="add the rows of an earlier --out file (e.g. the floor, which no change here moves)",
    )
    args = parser.parse_args(argv)
    corpus = find_corpus(args.corpus, "")
    decoders = [d for d in args.decoders.split(",") if d]  # may be empty: only --with
    for d in decoders:
        if d not in _DECODE:
            parser.error(f"unknown decoder {d!r}; choose from {', '.join(DECODERS)}")
    isa = os.environ.get("CT2_FORCE_CPU_ISA", "default")
    print(f"CT2_FORCE_CPU_ISA={isa}; load average {os.getloadavg()[0]:.1f}", file=sys.stderr)
    if args.out is not None:
        args.out.write_text("")
    rows = [r for path in args.earlier for r in read_rows(path)]
    start, _, end = args.range.partition(":")
    items = load_items(corpus)[int(start or 0) : int(end) if end else None]
    rows += run(items, decoders, args.out)
    table = summarise(rows)
    if args.json:
        for t in table:
            print(json.dumps(t))
        return
    print(f"{'decoder':8} {'set':7} {'kind':13} {'n':>4} {'exact':>6} {'repeat':>6} {'WER':>7}")
    for t in table:
        print(
            f"{t['decoder']:8} {t['set']:7} {t['kind']:13} {t['n']:4d} {t['exact']:6d} "
            f"{t['repetitions']:6d} {t['wer']:7.1%}"
        )


if __name__ == "__main__":
    main()
