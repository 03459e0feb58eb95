#!/usr/bin/env python3
"""Build the built-in eval set (src/hearthvox/data/evalset/) from the shared corpus.

    python scripts/build_evalset.py [--corpus ../shared/corpus]

Takes a handful of short clips whose licences allow redistribution (public domain,
CC0, CC BY 4.0, CC BY-SA 4.0, the CMU AN4 licence, Apache-2.0), converts each to
16 kHz mono int16 (soxr, as the eval itself resamples), trims the noise to 3 s, and
writes them with ``corpus.csv`` and ``speech.csv`` in the corpus layout (plus a
``split`` column: which side of the speaker split each speaker is on) and the
AN4 licence (LICENSE_AN4.txt; the NOTICE next to them is kept by hand).
Running it again gives the same bytes.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import shutil
import sys
from pathlib import Path

from hearthvox.audio.wavio import load_wav, write_wav
from hearthvox.evaluation.split import split_of

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src" / "hearthvox" / "data" / "evalset"
RATE_HZ = 16000
NOISE_S = 3.0

# corpus.csv speech (read by bench and report too): (source file, speaker)
CORPUS_SPEECH = (
    ("speech/ljspeech/LJ001-0002.wav", "ljspeech_LJ"),
    ("speech/ljspeech/LJ001-0008.wav", "ljspeech_LJ"),
)
# speech.csv, in this order (the quick set takes every eighth recording from the first)
MORE_SPEECH = (
    "speech/an4/an90-fbbh-b.wav",
    "speech/fsdd/3_george_0.wav",
    "speech/speech_commands/yes_0a7c2a8d_nohash_0.wav",
    "speech/an4/cen2-fash-b.wav",
    "speech/fsdd/7_lucas_0.wav",
    "speech/an4/an87-fbbh-b.wav",
    "speech/speech_commands/stop_0c40e715_nohash_0.wav",
    "speech/arctic_cathy/arctic_a0112_1592746016.wav",  # a dev speaker: --split dev
)
# (source file, kind, seconds kept or 0 for all)
OTHER = (
    ("noise2.wav", "noise", NOISE_S),
    ("rir1.wav", "room_impulse_response", 0.0),
)
ALLOWED = ("public domain", "cc0", "cc-by-4.0", "cc by 4.0", "cc-by-sa-4.0", "an4", "apache-2.0")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _convert(src: Path, dst: Path, seconds: float = 0.0) -> float:
    x = load_wav(src, RATE_HZ).samples
    if seconds:
        x = x[: int(seconds * RATE_HZ)]
    write_wav(dst, x, RATE_HZ)
    return len(x) / RATE_HZ


def _how(rate: str) -> str:
    return "as it was" if int(rate) == RATE_HZ else f"resampled from {rate} Hz to 16 kHz"


def _allowed(licence: str) -> bool:
    return any(word in licence.lower() for word in ALLOWED)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    args = parser.parse_args(argv)
    corpus: Path = args.corpus
    with (corpus / "speech.csv").open(newline="", encoding="utf-8") as fh:
        speech = {r["file"]: r for r in csv.DictReader(fh)}
    with (corpus / "corpus.csv").open(newline="", encoding="utf-8") as fh:
        listed = {r["file"]: r for r in csv.DictReader(fh)}
    OUT.mkdir(parents=True, exist_ok=True)
    for old in [*OUT.glob("*.wav"), *OUT.glob("speech/*.wav"), *OUT.glob("*.csv")]:
        old.unlink()

    corpus_rows = []
    for name, speaker in CORPUS_SPEECH:
        row = speech[name]
        assert _allowed(row["licence"]), row
        dst = Path(name).name
        _convert(corpus / name, OUT / dst)
        corpus_rows.append(
            {
                "file": dst,
                "kind": "speech",
                "sample_rate": RATE_HZ,
                "transcript": row["transcript"],
                "source": f"{row['source']} {row['original_path']} "
                f"(sha256 {_sha(corpus / name)[:16]}; {_how(row['sample_rate'])})",
                "speaker_id": speaker,
                "gender": row["gender"],
                "accent": row["accent"],
                "split": split_of(speaker),
                "licence": row["licence"],
            }
        )
    for name, kind, seconds in OTHER:
        src = listed[name]
        assert _allowed(src["source"]), src
        kept = _convert(corpus / name, OUT / name, seconds)
        corpus_rows.append(
            {
                "file": name,
                "kind": kind,
                "sample_rate": RATE_HZ,
                "transcript": "",
                "source": f"{src['source']} (sha256 {_sha(corpus / name)[:16]}; first {kept:g} s)",
                "speaker_id": "",
                "gender": "",
                "accent": "",
                "split": "",
                "licence": "Apache-2.0",
            }
        )
    more_rows = []
    for name in MORE_SPEECH:
        row = speech[name]
        assert _allowed(row["licence"]), row
        dst = f"speech/{Path(name).name}"
        (OUT / "speech").mkdir(exist_ok=True)
        seconds = _convert(corpus / name, OUT / dst)
        more_rows.append(
            {
                "file": dst,
                "speaker_id": row["speaker_id"],
                "gender": row["gender"],
                "accent": row["accent"],
                "kind": row["kind"],
                "transcript": row["transcript"],
                "duration_s": round(seconds, 3),
                "sample_rate": RATE_HZ,
                "licence": row["licence"],
                "source": f"{row['source']} {row['original_path']} "
                f"(sha256 {_sha(corpus / name)[:16]}; {_how(row['sample_rate'])})",
                "split": split_of(row["speaker_id"]),
            }
        )
    for rows, index in ((corpus_rows, "corpus.csv"), (more_rows, "speech.csv")):
        with (OUT / index).open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    shutil.copyfile(corpus / "speech" / "an4" / "LICENSE_AN4.txt", OUT / "LICENSE_AN4.txt")
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"{OUT}: {len(corpus_rows) + len(more_rows)} files, {total / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
