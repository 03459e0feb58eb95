"""``hearthvox transcribe --bench``: audio seconds per wall second, batch pipeline vs plain loops.

In one process, over the same files, with the same model, device, compute type,
beam size and thread budget: (1) a plain loop of faster-whisper's
``WhisperModel.transcribe()``, (2) a loop of faster-whisper's
``BatchedInferencePipeline`` (one file at a time, its VAD, batch 8), (3) this batch
pipeline (no files written). Every model is warmed up on the first file first.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import click
import numpy as np

from hearthvox.batch.decode import RATE_HZ, load_audio
from hearthvox.batch.discover import Input
from hearthvox.batch.progress import Progress
from hearthvox.batch.runner import BatchEngine, BatchRun, RunOptions
from hearthvox.batch.settings import BatchSettings
from hearthvox.errors import HearthvoxError

if TYPE_CHECKING:
    from hearthvox.bundles.default import ModelPaths


def _timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run_bench(
    paths: ModelPaths, settings: BatchSettings, files: list[Path], as_json: bool = False
) -> dict[str, float]:
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    if not files:
        raise HearthvoxError("--bench needs recordings: give files or folders")
    m = settings.model
    audio = [load_audio(f).astype(np.float32) / 32768.0 for f in files]
    audio_s = sum(len(a) for a in audio) / RATE_HZ
    plain: Any = WhisperModel(
        str(paths.asr_dir), device=m.device, compute_type=m.compute_type, cpu_threads=m.threads
    )
    batched = BatchedInferencePipeline(plain)
    opts = {"language": settings.decode.language, "beam_size": settings.decode.beam_size}

    def plain_loop(items: list[Any]) -> None:
        for a in items:
            segments, _ = plain.transcribe(a, **opts)
            list(segments)

    def fw_batched_loop(items: list[Any]) -> None:
        for a in items:
            segments, _ = batched.transcribe(a, batch_size=settings.decode.batch_size, **opts)
            list(segments)

    engine = BatchEngine(paths, settings, "ignore")
    inputs = [Input(f, PurePosixPath(f.name)) for f in files]

    def ours(items: list[Input]) -> None:
        list(BatchRun(engine, RunOptions(), Progress(False)).run(items))

    plain_loop(audio[:1])
    fw_batched_loop(audio[:1])
    ours(inputs[:1])
    walls = {
        "plain": _timed(lambda: plain_loop(audio)),
        "fw_batched": _timed(lambda: fw_batched_loop(audio)),
        "ours": _timed(lambda: ours(inputs)),
    }
    speed = {k: audio_s / v for k, v in walls.items()}
    figures = {
        "files": float(len(files)),
        "audio_s": audio_s,
        **{f"{k}_audio_s_per_s": v for k, v in speed.items()},
        "ratio_vs_plain": speed["ours"] / speed["plain"],
        "ratio_vs_fw_batched": speed["ours"] / speed["fw_batched"],
    }
    where = f"{m.device} {m.compute_type}, {m.threads} thread(s), {m.jobs} job(s)"
    if as_json:
        for name, base in (("plain", "plain"), ("fw_batched", "fw_batched")):
            row = {
                "metric": f"batch_throughput_vs_{name}",
                "ours": round(speed["ours"], 2),
                "baseline": round(speed[base], 2),
                "ratio": round(speed["ours"] / speed[base], 2),
                "unit": "audio_s_per_wall_s",
                "files": len(files),
                "audio_s": round(audio_s, 1),
                "variant": where,
            }
            click.echo(json.dumps(row))
    else:
        click.echo(f"{len(files)} file(s), {audio_s:.1f} s of audio; {where}")
        for name, label in (
            ("plain", "faster-whisper transcribe() loop"),
            ("fw_batched", "faster-whisper BatchedInferencePipeline loop"),
            ("ours", "hearthvox batch pipeline"),
        ):
            click.echo(f"  {label:46s} {speed[name]:7.1f} audio-s/s  ({walls[name]:.2f} s)")
        click.echo(
            f"  ratio vs plain loop: {figures['ratio_vs_plain']:.2f}x; "
            f"vs batched pipeline: {figures['ratio_vs_fw_batched']:.2f}x"
        )
    return figures
