"""``hearthvox bench``: latency, CPU and memory side by side with baselines."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hearthvox import config as config_mod
from hearthvox.bench import Metric
from hearthvox.cli.eval import corpus_option, say_if_builtin
from hearthvox.cli.options import config_option, json_option, quiet
from hearthvox.evaluation.corpus import find_corpus


def _fmt(x: float | None, unit: str) -> str:
    if x is None:
        return "-"
    if unit in ("rate", "wer"):
        return f"{x:.3f}"
    if unit == "cpu_s/audio_s":
        return f"{x:.4f}"
    return f"{x:.1f}"


def _line(m: Metric) -> str:
    ratio = "-" if m.ratio is None else f"{m.ratio:.2f}"
    verdict = "" if m.met is None else ("  ok" if m.met else "  MISS")
    target = f"  [{m.target}]" if m.target else ""
    p95 = m.extra.get("ours_p95"), m.extra.get("baseline_p95")
    tail = f"  p95 {_fmt(p95[0], m.unit)} / {_fmt(p95[1], m.unit)}" if p95[0] is not None else ""
    return (
        f"{m.metric:34} {_fmt(m.ours, m.unit):>10} {_fmt(m.baseline, m.unit):>10} "
        f"{ratio:>6}  {m.unit}{target}{verdict}{tail}"
    )


@click.command()
@json_option("One JSON object per metric.")
@click.option(
    "--quick",
    is_flag=True,
    help="A short run (1 request, 4 s of idle audio, 12 s soak): checks the bench works.",
)
@corpus_option
@click.option(
    "--soak-minutes",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    help="Minutes of audio fed through the loop to check memory does not grow.",
)
@click.option(
    "--realtime-all",
    is_flag=True,
    help="Pace the whole request stream in real time (default: only around each end of speech).",
)
@click.option(
    "--llm/--no-llm",
    default=True,
    show_default=True,
    help="Measure the local language model's turns too (where [llm] runs: the llm extra).",
)
@click.option(
    "--only",
    type=click.Choice(["llm", "barge-in"]),
    help="Measure only this part: the language model's turns (about 2 minutes) or the "
    "barge-ins (about 10 minutes, in real time).",
)
@config_option(
    "Measure with this config file (default: $HEARTHVOX_CONFIG, else your config.toml, if any)."
)
def bench(
    as_json: bool,
    quick: bool,
    corpus: Path | None,
    soak_minutes: float,
    realtime_all: bool,
    llm: bool,
    only: str | None,
    config_path: Path | None,
) -> None:
    """Measure the voice loop side by side with the baselines, on this machine.

    \b
    Per metric: ours, the baseline measured in the same run, and ours/baseline.
    Baselines: faster-whisper transcribe() on the same audio and model, a 0.7 s
    silence endpoint, Piper's first chunk (the whole first sentence),
    openWakeWord's own Model on the same idle audio, and the stock libraries
    loaded their default way. Absolute times on a shared machine are noisy:
    the ratios are the figures that count. A full run takes about 17 minutes
    (10 of them barge-in, in real time; 2 the language model's turns, with the
    llm extra) and the memory probe over --soak-minutes of audio; --only llm
    or --only barge-in measures that part alone.
    """
    from hearthvox.bench.run import BenchOptions, run_bench

    cfg = config_mod.load(config_path)
    found = find_corpus(corpus, cfg.eval.corpus)
    say_if_builtin(found)
    opts = BenchOptions(
        found,
        quick=quick,
        realtime_all=realtime_all,
        soak_minutes=soak_minutes,
        config_path=config_path,
        llm=llm,
        only=only,
    )

    def progress(msg: str) -> None:
        if not quiet():
            click.echo(f"bench: {msg} ...", err=True)

    if not as_json:
        click.echo(f"{'metric (medians)':34} {'ours':>10} {'baseline':>10} {'ratio':>6}  unit")
    for metric in run_bench(cfg, opts, progress):
        if as_json:
            click.echo(json.dumps(metric.record()))
        else:
            click.echo(_line(metric))
