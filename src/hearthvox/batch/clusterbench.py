"""Scaling of ``transcribe --ray``: 1 and 2 Ray workers of 1 CPU against the local run.

``python -m hearthvox.batch.clusterbench [--corpus DIR] [--recordings 16] [--runs 3]``
builds the input set from the corpus (every recording: the corpus' spoken
sentences twice, in a seeded order, with seeded pauses of 0.3-1.5 s, about 50 s),
then times the whole command (``hearthvox transcribe DIR --out-dir OUT``, models
loaded, Ray actors started and checked) on: the local runner with the machine's
cores, and a cluster of a head with no CPU plus 1 or 2 worker nodes of 1 CPU
(each started before its runs, not timed). Prints audio seconds per wall second
per run, the median and the spread, and the ratios against the local run.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from hearthvox.audio.wavio import load_wav, write_wav
from hearthvox.batch.raynodes import LocalCluster

RATE_HZ = 16000


def build_inputs(corpus: Path, folder: Path, recordings: int, seed: int = 21) -> float:
    """Write the input set into *folder*; returns its audio seconds."""
    with (corpus / "corpus.csv").open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["kind"] == "speech"]
    sentences = [load_wav(corpus / r["file"], RATE_HZ).samples for r in rows]
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    for n in range(recordings):
        parts = []
        for _ in range(2):
            for i in rng.permutation(len(sentences)):
                parts.append(sentences[i])
                parts.append(np.zeros(int(rng.uniform(0.3, 1.5) * RATE_HZ), dtype=np.int16))
        audio = np.concatenate(parts)
        write_wav(folder / f"rec{n:03d}.wav", audio, RATE_HZ)
        total += len(audio)
    return total / RATE_HZ


def _timed(args: list[str], out: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "hearthvox", "transcribe", *args, "--out-dir", str(out)]
        + ["--no-progress"],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"clusterbench: transcribe failed: {proc.stderr.strip()[-500:]}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    repo_corpus = Path(__file__).resolve().parents[3].parent / "shared" / "corpus"
    parser.add_argument(
        "--corpus", type=Path, default=Path(os.environ.get("HEARTHVOX_CORPUS", repo_corpus))
    )
    parser.add_argument("--recordings", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=Path, help="Keep the inputs and outputs here.")
    parser.add_argument("--json", action="store_true", help="One JSON object per condition.")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="hv-clusterbench-"))
    inputs = work / "inputs"
    audio_s = build_inputs(args.corpus, inputs, args.recordings)
    print(f"{args.recordings} recordings, {audio_s:.0f} s of audio in {inputs}", file=sys.stderr)

    speeds: dict[str, list[float]] = {}

    def run(name: str, extra: list[str]) -> None:
        for r in range(args.runs):
            wall = _timed([str(inputs), *extra], work / f"out-{name}-{r}")
            speeds.setdefault(name, []).append(audio_s / wall)
            print(
                f"{name} run {r + 1}: {wall:.1f} s, {audio_s / wall:.2f} audio-s/s", file=sys.stderr
            )

    run("local", [])
    for workers in (1, 2):
        with LocalCluster(workers=workers, cpus=1, head_cpus=0) as cluster:
            run(f"ray-{workers}", ["--ray", cluster.address])
    base = statistics.median(speeds["local"])
    for name, values in speeds.items():
        median = statistics.median(values)
        row = {
            "condition": name,
            "audio_s": round(audio_s, 1),
            "speed_median": round(median, 2),
            "speed_min": round(min(values), 2),
            "speed_max": round(max(values), 2),
            "runs": [round(v, 2) for v in values],
            "ratio_to_local": round(median / base, 3),
        }
        if args.json:
            print(json.dumps(row))
        else:
            print(
                f"{name:8s} {median:6.2f} audio-s/s (runs {min(values):.2f}-{max(values):.2f}), "
                f"{median / base:.2f}x local"
            )


if __name__ == "__main__":
    main()
