"""``hearthvox transcribe``: recordings to text, one file or a whole folder tree at a time."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import cast

import click

from hearthvox import config as config_mod
from hearthvox.batch import (
    FORMATS,
    BatchEngine,
    BatchRun,
    FileResult,
    Overrides,
    Progress,
    RunOptions,
    discover,
    resolve,
)
from hearthvox.batch.discover import printable
from hearthvox.batch.guard import WhenBusy
from hearthvox.bundles.active import active_model_paths
from hearthvox.bundles.default import ModelPaths
from hearthvox.cli.options import (
    config_option,
    given,
    json_option,
    out_dir_option,
    priority_option,
    quiet,
    refuse,
    yield_cpu,
)
from hearthvox.config import Config

_FAILED_EXIT = 4


def model_paths(cfg: Config) -> ModelPaths:
    """The bundle the assistant itself runs (the same resolution as hearthvox.runtime)."""
    return active_model_paths(cfg)


def _formats(value: str) -> tuple[str, ...]:
    wanted = tuple(dict.fromkeys(f.strip().lower() for f in value.split(",") if f.strip()))
    unknown = [f for f in wanted if f not in FORMATS]
    if unknown or not wanted:
        raise click.BadParameter(
            f"unknown format {unknown[0] if unknown else value!r}; choose from "
            + ", ".join(FORMATS)
            + " (comma-separated)",
            param_hint="--format",
        )
    return ("json",) + tuple(f for f in wanted if f != "json")


def _echo_result(result: FileResult, bundle: str, as_json: bool, out: Path | None) -> None:
    """Without --out-dir: the text (a line or an object); with it and --json: a status row."""
    if result.status == "failed":
        click.echo(f"hearthvox: error: {result.error}", err=True)
    if out is None and result.status == "failed":
        return
    if out is None and not as_json:
        click.echo(f"{result.path}\t{result.text}")
        return
    if not as_json:
        return
    row: dict[str, object] = {"path": str(result.path)}
    if out is None:
        row["text"] = result.text
    else:
        row["status"] = result.status
    row.update(duration_s=round(result.duration_s, 3), bundle=bundle)
    if out is not None:
        row["outputs"] = [str(out / o) for o in result.outputs]
        if result.error:
            row["error"] = result.error
    click.echo(json.dumps(row))


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@out_dir_option(
    "Write one NAME.json (+ --format files) per input into this folder, with a manifest; "
    "rerunning skips what is done.",
    deprecated="--out",
)
@click.option(
    "--format",
    "formats",
    default="json,txt",
    show_default=True,
    help="Output files with --out-dir, comma-separated from json, txt, srt, vtt (json always).",
)
@json_option("One JSON object per input on stdout.")
@click.option(
    "--words", is_flag=True, help="Time every word in NAME.json, with --out-dir (a little slower)."
)
@click.option(
    "--jobs",
    type=click.IntRange(1, 64),
    help="Batches decoded in parallel [2 on a 2-core CPU, threads/2 above, 1 on CUDA].",
)
@click.option(
    "--threads", type=click.IntRange(1, 256), help="ASR threads [the hardware profile's]."
)
@click.option(
    "--batch-size", type=click.IntRange(1, 256), help="Chunks per batch [8 on CPU, 16 on CUDA]."
)
@click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    help="Where the ASR runs [the config's asr.device]; auto: the hardware profile's.",
)
@click.option(
    "--retries",
    type=click.IntRange(0, 20),
    default=2,
    show_default=True,
    help="Tries again a file that fails this many times, then records it as failed.",
)
@click.option(
    "--retry-failed",
    is_flag=True,
    help="Try again inputs an earlier run recorded as failed (in the --out-dir manifest).",
)
@click.option(
    "--force", is_flag=True, help="Transcribe every input again, even if done (with --out-dir)."
)
@click.option(
    "--when-busy",
    type=click.Choice(["yield", "wait", "ignore"]),
    default="yield",
    show_default=True,
    help="While the assistant runs on this device: yield (lowest CPU priority, fewer "
    "threads), wait until it stops, or ignore it.",
)
@priority_option("the batch work")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar on stderr [on when stderr is a terminal].",
)
@click.option(
    "--bench", is_flag=True, help="Measure throughput against a plain faster-whisper loop."
)
@click.option(
    "--ray",
    "ray_address",
    metavar="ADDRESS|auto|local",
    help="Run on a Ray cluster ([cluster] extra): HOST:PORT of its head, auto (the running "
    "cluster) or local (one in this process). Inputs and --out-dir must be on a path every "
    "worker sees.",
)
@config_option()
def transcribe(
    paths: tuple[Path, ...],
    out_dir: Path | None,
    formats: str,
    as_json: bool,
    words: bool,
    jobs: int | None,
    threads: int | None,
    batch_size: int | None,
    device: str | None,
    retries: int,
    retry_failed: bool,
    force: bool,
    when_busy: str,
    priority: str,
    progress: bool | None,
    bench: bool,
    ray_address: str | None,
    config_path: Path | None,
) -> None:
    """Transcribe recordings: files or folders of WAV, FLAC, MP3, OGG, M4A.

    \b
    Without --out-dir, one line per file on stdout: PATH<TAB>text (--json: one
    object per input with path, text, duration_s, bundle).
    With --out-dir DIR, one NAME.json (segments, bundle, model sha256s, settings) and
    NAME.txt/.srt/.vtt per input, written atomically, and a manifest: stop it any
    time (Ctrl-C, kill) and run the same command again to go on where it stopped.

    \b
      hearthvox transcribe talk.mp3
      hearthvox transcribe ~/recordings --out-dir transcripts --format txt,srt
      hearthvox transcribe ~/recordings --out-dir transcripts --bench
      hearthvox transcribe /shared/recordings --out-dir /shared/transcripts --ray auto

    A file that cannot be read is reported on stderr and the others still run;
    the exit status is then 4.
    """
    if out_dir is None:
        for name in given(click.get_current_context(), "formats", "words", "retry_failed", "force"):
            flag = "--" + name.replace("_", "-").replace("formats", "format")
            raise refuse(f"{flag} is for --out-dir (without it the text goes to stdout)")
    out = out_dir
    yield_cpu(priority)  # before any model loads: its threads inherit the priority
    cfg = config_mod.load(config_path)
    wanted = _formats(formats)
    inputs, missing = discover(list(paths), out)
    for m in missing:
        click.echo(f"hearthvox: error: {printable(m.path)}: {m.reason}", err=True)
    over = Overrides(device=device, threads=threads, jobs=jobs, batch_size=batch_size, words=words)
    models = model_paths(cfg)
    settings = resolve(models, cfg, over)
    if bench and ray_address is not None:
        raise click.UsageError(
            "--bench measures the local run; python -m hearthvox.batch.clusterbench measures --ray"
        )
    if bench:
        from hearthvox.batch.bench import run_bench

        run_bench(models, settings, [i.path for i in inputs], as_json=as_json)
        return
    if not inputs:
        raise click.exceptions.Exit(_FAILED_EXIT)
    busy = cast(WhenBusy, when_busy)  # click.Choice keeps to the Literal's values
    show = sys.stderr.isatty() and not quiet() if progress is None else progress
    bar = Progress(show)
    opts = RunOptions(
        out_dir=out,
        formats=wanted,
        retries=retries,
        retry_failed=retry_failed,
        force=force,
        when_busy=busy,
    )
    if ray_address is not None:
        from hearthvox.batch.cluster import ClusterOptions, ClusterRun

        cluster = ClusterOptions(ray_address, threads=threads, jobs=jobs)
        run: Iterable[FileResult] = ClusterRun(models, settings, opts, bar, cluster).run(inputs)
    else:
        engine = BatchEngine(models, settings, busy)
        if engine.priority and not quiet():
            click.echo(
                f"hearthvox: the assistant is running here: batch work yields "
                f"({engine.priority}, {engine.settings.model.threads} thread(s))",
                err=True,
            )
        run = BatchRun(engine, opts, bar).run(inputs)
    failed = len(missing)
    try:
        for result in run:
            failed += result.status == "failed"
            _echo_result(result, settings.bundle_id, as_json, out)
    except KeyboardInterrupt:
        click.echo("hearthvox: stopped; run the same command again to go on", err=True)
        raise click.exceptions.Exit(130) from None
    if (out is not None or show) and not quiet():
        click.echo(f"hearthvox: {bar.tally.summary()}", err=True)
    if failed:
        raise click.exceptions.Exit(_FAILED_EXIT)
