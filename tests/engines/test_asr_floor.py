"""The floor on real commands and digits: both decoders, no repetition, exact matches.

A fixed subset of ``speech.csv`` (command words and alphanumerics, 8 and 16 kHz,
several speakers; recordings on which the decoders used to loop among them) goes
through the live decoder and the batch pipeline. Neither may return a repetition,
and each must get most of them exactly right (the count is a range with a margin:
int8 kernels differ between CPUs). ``python -m hearthvox.batch.floorbench`` measures
the whole set against plain faster-whisper.
"""

from __future__ import annotations

import csv
from pathlib import Path, PurePosixPath

import pytest

from hearthvox.audio.wavio import load_wav
from hearthvox.batch import BatchEngine, BatchRun, Input, Overrides, Progress, RunOptions
from hearthvox.batch.floorbench import exact_key, is_repetition
from hearthvox.batch.settings import resolve
from hearthvox.bundles.default import default_model_paths
from hearthvox.config import Config
from hearthvox.engines import Engines

SUBSET = (
    "speech/fsdd/0_george_1.wav",
    "speech/fsdd/4_george_0.wav",
    "speech/fsdd/1_jackson_0.wav",
    "speech/fsdd/8_jackson_0.wav",
    "speech/fsdd/5_lucas_0.wav",
    "speech/fsdd/2_yweweler_0.wav",
    "speech/fsdd/9_yweweler_0.wav",
    "speech/an4/an253-fash-b.wav",
    "speech/an4/cen7-fash-b.wav",
    "speech/an4/cen3-ffmm-b.wav",
    "speech/an4/an87-fbbh-b.wav",
    "speech/an4/cen6-fbbh-b.wav",
    "speech/speech_commands/stop_0c40e715_nohash_1.wav",
    "speech/speech_commands/yes_0a9f9af7_nohash_1.wav",
    "speech/speech_commands/down_0c540988_nohash_0.wav",
    "speech/speech_commands/backward_0a2b400e_nohash_0.wav",
)
MIN_EXACT = 10
"""Of 16: measured 13 (live) and 12 (batch) on an x86 machine with AVX2 (misses:
"four" heard as "forward", "down" as "go"); the margin covers other CPUs' int8 kernels."""


@pytest.fixture(scope="module")
def subset(corpus_dir: Path) -> list[tuple[Path, str]]:
    with (corpus_dir / "speech.csv").open(newline="") as fh:
        rows = {r["file"]: r["transcript"] for r in csv.DictReader(fh)}
    return [(corpus_dir / f, rows[f]) for f in SUBSET]


def _check(pairs: list[tuple[str, str]]) -> None:
    loops = [(ref, hyp) for ref, hyp in pairs if is_repetition(ref, hyp)]
    assert not loops, loops
    exact = sum(exact_key(ref) == exact_key(hyp) for ref, hyp in pairs)
    assert exact >= MIN_EXACT, (exact, pairs)


def test_live_decoder_gets_commands_and_digits_without_loops(
    engines: Engines, subset: list[tuple[Path, str]]
) -> None:
    pairs = [(ref, engines.asr.transcribe(load_wav(path).samples).text) for path, ref in subset]
    _check(pairs)


def test_batch_decoder_gets_commands_and_digits_without_loops(
    subset: list[tuple[Path, str]],
) -> None:
    paths = default_model_paths()
    engine = BatchEngine(paths, resolve(paths, Config(), Overrides()), "ignore")
    inputs = [Input(path, PurePosixPath(f"{n:02d}")) for n, (path, _) in enumerate(subset)]
    results = list(BatchRun(engine, RunOptions(when_busy="ignore"), Progress(False)).run(inputs))
    assert [r.status for r in results] == ["done"] * len(subset)
    _check([(ref, r.text) for (_, ref), r in zip(subset, results, strict=True)])
