"""``hearthvox report``: the inference readiness report of a bundle on this device."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hearthvox import config as config_mod
from hearthvox.bundles.manifest import CHANNELS
from hearthvox.cli.eval import corpus_option, say_if_builtin
from hearthvox.cli.options import config_option, json_option, out_dir_option, quiet
from hearthvox.errors import ConfigError
from hearthvox.evaluation.corpus import find_corpus


@click.command()
@out_dir_option(
    "Folder for report.html, report.md, report.json and samples.json.",
    deprecated="--out",
    default=Path("report"),
    show_default=True,
)
@click.option("--bundle", metavar="BUNDLE[@VERSION]", help="An installed bundle to report on.")
@click.option(
    "--channel",
    type=click.Choice(CHANNELS),
    help="Report on this channel's current bundle (default: [models] channel).",
)
@click.option(
    "--quick",
    is_flag=True,
    help="Fewer repetitions (2 requests, 8 consecutive turns, quick eval set): about 2 min.",
)
@corpus_option
@json_option("One JSON object: the verdict and the files written.")
@config_option()
def report(
    out_dir: Path,
    bundle: str | None,
    channel: str | None,
    quick: bool,
    corpus: Path | None,
    as_json: bool,
    config_path: Path | None,
) -> None:
    """Measure a bundle on this device and write a launch-review page.

    \b
    Sections: verdict (launch blockers first), model contract, latency (cold
    start, warm p50/p95/p99 per stage, CDF), memory (idle, peak, per engine,
    50 consecutive turns), quality by slice (the eval), capacity (CPU-s per
    audio-s -> streams at 70 %; the language model's KV cache as llama.cpp
    allocates it, conversations per device, RSS over a long conversation),
    operations (alert rules, rollback, privacy, cost, what was not measured).
    A full run takes several minutes; --quick about two. Transcripts and
    audio never enter the report.

    \b
    hearthvox report --out-dir report/
    hearthvox report --channel beta --quick
    """
    from hearthvox.report.build import ReportOptions, measure, write

    cfg = config_mod.load(config_path)
    found = find_corpus(corpus, cfg.eval.corpus)
    if not (found / "corpus.csv").exists():
        raise ConfigError(f"no corpus.csv in {found}; pass --corpus DIR")
    say_if_builtin(found)
    opts = ReportOptions(out_dir, found, quick, bundle, channel, config_path)

    def progress(msg: str) -> None:
        if not quiet():
            click.echo(f"report: {msg} ...", err=True)

    raw = measure(cfg, opts, progress)
    files = write(raw, cfg, out_dir)
    verdict = json.loads(files["figures"].read_text())["verdict"]
    if as_json:
        paths = {name: str(path) for name, path in files.items()}
        click.echo(json.dumps({"verdict": verdict, "out_dir": str(out_dir), "files": paths}))
        return
    click.echo(f"{verdict['summary']}\n{files['html']}\n{files['markdown']}")
