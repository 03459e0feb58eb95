"""``hearthvox report``: the inference readiness report of a bundle on this device."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hearthvox import config as config_mod
from hearthvox.bundles.manifest import CHANNELS
from hearthvox.cli.bench import corpus_option
from hearthvox.errors import ConfigError


@click.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("report"),
    show_default=True,
    help="Folder for report.html, report.md, report.json and samples.json.",
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
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Config file (default: the user's config.toml, if any).",
)
def report(
    out: Path,
    bundle: str | None,
    channel: str | None,
    quick: bool,
    corpus: Path,
    config_path: Path | None,
) -> None:
    """Measure a bundle on this device and write a launch-review page.

    \b
    Sections: verdict (launch blockers first), model contract, latency (cold
    start, warm p50/p95/p99 per stage, CDF), memory (idle, peak, per engine,
    50 consecutive turns), quality by slice (the eval), capacity (CPU-s per
    audio-s -> streams at 70 %, LLM KV cache), operations (alert rules,
    rollback, privacy, cost, what was not measured). A full run takes several
    minutes; --quick about two. Transcripts and audio never enter the report.

    \b
    hearthvox report --out report/
    hearthvox report --channel beta --quick
    """
    from hearthvox.report.build import ReportOptions, measure, write

    if not (corpus / "corpus.csv").exists():
        raise ConfigError(f"no corpus.csv in {corpus}; pass --corpus DIR")
    cfg = config_mod.load(config_path)
    opts = ReportOptions(out, corpus, quick, bundle, channel, config_path)

    def progress(msg: str) -> None:
        click.echo(f"report: {msg} ...", err=True)

    raw = measure(cfg, opts, progress)
    files = write(raw, cfg, out)
    verdict = json.loads(files["figures"].read_text())["verdict"]["summary"]
    click.echo(f"{verdict}\n{files['html']}\n{files['markdown']}")
