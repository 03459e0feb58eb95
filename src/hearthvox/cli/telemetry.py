"""``hearthvox telemetry summary|export|purge|check``: the local telemetry, read back."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from hearthvox import config as config_mod
from hearthvox.cli.options import config_option, json_option, output_file_option, quiet, refuse
from hearthvox.cli.render import STAGE_NAMES
from hearthvox.config import Config
from hearthvox.errors import OutputError
from hearthvox.paths import user_paths
from hearthvox.telemetry.check import check as check_rules
from hearthvox.telemetry.export import jsonl_lines, prometheus_registry, write_prometheus
from hearthvox.telemetry.session import keep_text_until
from hearthvox.telemetry.stats import FIRST_AUDIO, summarize
from hearthvox.telemetry.store import Retention, TelemetryStore, default_path

LABELS = {"wake": "wake word", **STAGE_NAMES, "playback": "playback"}
_UNITS = {"m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_since(spec: str, now: float) -> float | None:
    """``30m``, ``24h``, ``7d`` -> the Unix time that far back; ``all`` -> None."""
    if spec == "all":
        return None
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([mhd])", spec.strip())
    if m is None:
        raise click.BadParameter(f"{spec!r}: use e.g. 30m, 24h, 7d or all", param_hint="--since")
    return now - float(m.group(1)) * _UNITS[m.group(2)]


def _store(cfg: Config) -> TelemetryStore | None:
    """The user's store with the config's retention applied, or None if nothing was recorded."""
    path = default_path(user_paths().state_dir)
    if not path.exists():
        return None
    t = cfg.telemetry
    store = TelemetryStore(
        path,
        retention=Retention(t.retention_days, t.retention_turns),
        keep_text_until=keep_text_until(t),
        busy_is_broken=False,  # the daemon may be writing: never move its database aside
    )
    store.apply_retention()
    return store


def _window(cfg: Config, since: str) -> tuple[dict[str, Any], TelemetryStore | None]:
    store = _store(cfg)
    if store is None:
        return summarize([], []), None
    after = parse_since(since, time.time())
    summary = summarize(store.turns(after), store.starts(after))
    summary["dropped"] = store.dropped()
    return summary, store


def _options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--config`` and ``--json``."""
    return json_option("JSON output, one object per line.")(config_option()(fn))


def _since_option(default: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--since",
        default=default,
        show_default=True,
        metavar="30m|24h|7d|all",
        help="Window: turns recorded this recently.",
    )


@click.group("telemetry")
def telemetry() -> None:
    """Local telemetry: where each turn's time went, never what was said.

    \b
    Recorded by 'hearthvox run', 'hearthvox demo' and 'hearthvox hub' (per
    satellite area) into the state directory (telemetry.sqlite3); switch it off
    with [telemetry] enabled = false.
      hearthvox telemetry summary                 # p50/p95/p99 per stage, outcomes
      hearthvox telemetry export --format prometheus -o /var/lib/node_exporter/hv.prom
      hearthvox telemetry check                   # exit 1 when an alert threshold is breached
      hearthvox telemetry purge                   # delete everything recorded
    """


@telemetry.command()
@_since_option("7d")
@_options
def summary(since: str, as_json: bool, config_path: Path | None) -> None:
    """Percentiles per stage (own time and queue time), outcomes, first-audio histogram;
    for the hub's turns, the same per satellite area with its wake arbitration."""
    cfg = config_mod.load(config_path)
    data, store = _window(cfg, since)
    data["window"] = since
    data["path"] = str(store.path if store else default_path(user_paths().state_dir))
    if as_json:
        click.echo(json.dumps(data, separators=(",", ":")))
        return
    click.echo(render_summary(data, recorded=store is not None, enabled=cfg.telemetry.enabled))


def _ms(entry: dict[str, Any], key: str) -> str:
    return f"{entry[key]:8.1f}" if key in entry else f"{'-':>8}"


def render_summary(data: dict[str, Any], *, recorded: bool, enabled: bool) -> str:
    window = "all recorded time" if data["window"] == "all" else f"the last {data['window']}"
    lines = [
        f"telemetry: {data['turns']} turns, {data['starts']} starts in {window} ({data['path']})"
    ]
    if not enabled:
        lines.append("recording is off ([telemetry] enabled = false)")
    if not recorded or not (data["turns"] or data["starts"]):
        lines.append("nothing recorded yet: run 'hearthvox run' or 'hearthvox demo'")
        return "\n".join(lines)
    llm = data.get("llm")
    if llm:
        stops = ", ".join(f"{k} {v}" for k, v in llm["stops"].items())
        lines.append(
            f"language model: {llm['turns']} turns, {llm['new_tokens_p50']} tokens a reply "
            f"at {llm['tokens_per_s_p50']} tokens/s (p50); stopped: {stops}"
        )
        if set(llm.get("backends", {})) - {"local"}:  # a server on the network answered too
            answered = ", ".join(f"{k} {v}" for k, v in llm["backends"].items())
            lines.append(f"  answered by: {answered}")
    if data["bundles"] or data["profiles"]:
        bundles, profiles = ", ".join(data["bundles"]), ", ".join(data["profiles"])
        lines.append(f"bundle {bundles or '?'} · profile {profiles or '?'}")
    lines += [
        "",
        f"{'stage (ms)':<30}{'n':>5}   own: p50     p95     p99  queued: p50     p95     p99",
    ]
    for stage, e in data["stages"].items():
        q = e.get("queue", {})
        own = "".join(_ms(e, f"p{p}_ms") for p in (50, 95, 99))
        queued = "".join(_ms(q, f"p{p}_ms") for p in (50, 95, 99))
        lines.append(f"{LABELS.get(stage, stage):<30}{e['n']:>5}   {own}   {queued}")
    outcomes = " · ".join(f"{k} {v}" for k, v in data["outcomes"].items()) or "none"
    lines += ["", f"outcomes: {outcomes}"]
    if data["wakes"]:
        lines.append(
            f"false-wake proxy: {data['false_wakes']} of {data['wakes']} wakes had no speech "
            f"({data['false_wake_rate']:.0%})"
        )
    if data["errors"]:
        lines.append("errors: " + " · ".join(f"{k} {v}" for k, v in data["errors"].items()))
    if data["cold_start"]["n"]:
        lines.append(
            f"cold start (process start to ready): p50 {data['cold_start']['p50_ms'] / 1000:.2f} s"
            f", models p50 {data['models_load']['p50_ms'] / 1000:.2f} s, {data['starts']} starts"
        )
    if data["rss_mb"]:
        cpu = data["cpu_per_turn"]
        lines.append(
            f"memory: RSS {data['rss_mb']['last']:.0f} MiB at the last turn, "
            f"{data['rss_mb']['max']:.0f} MiB max"
            + (f"; CPU per turn p50 {cpu['p50_ms']:.0f} ms" if cpu["n"] else "")
        )
    if data.get("dropped"):
        lines.append(f"records dropped (writer queue full): {data['dropped']}")
    lines += _histogram(data["first_audio_histogram"])
    lines += _areas(data)
    return "\n".join(lines)


def _areas(data: dict[str, Any]) -> list[str]:
    """The hub's turns per satellite area (only when a turn carries one)."""
    areas: dict[str, Any] = data.get("areas") or {}
    rest = data.get("areas_left_out") or {"areas": 0, "turns": 0}
    if not areas:
        return []
    total = len(areas) + rest["areas"]
    lines = ["", f"per area (hub): {total} area{'s' if total != 1 else ''}"]
    for area, a in areas.items():
        parts = [f"{a['turns']} turns", *(f"{k} {v}" for k, v in a["outcomes"].items())]
        arb = a["arbitration"]
        if arb["won"] or arb["stood_down"]:
            parts.append(f"arbitration: won {arb['won']}, stood down {arb['stood_down']}")
        lines.append(f"{area}: " + " · ".join(parts))
        if a["stages"]:
            lines.append(f"  {'stage (ms)':<30}{'n':>5}   own: p50     p95  queued: p50     p95")
        for stage, e in a["stages"].items():
            q = e.get("queue", {})
            own = "".join(_ms(e, f"p{p}_ms") for p in (50, 95))
            queued = "".join(_ms(q, f"p{p}_ms") for p in (50, 95))
            lines.append(f"  {LABELS.get(stage, stage):<30}{e['n']:>5}   {own}     {queued}")
    if rest["areas"]:
        lines.append(
            f"... and {rest['areas']} more areas ({rest['turns']} turns) left out: "
            f"the {len(areas)} with the most turns are shown"
        )
    return lines


def _histogram(bins: list[dict[str, Any]]) -> list[str]:
    if not bins:
        return []
    top = max(b["n"] for b in bins)
    lines = ["", f"{LABELS[FIRST_AUDIO]} (ms):"]
    for b in bins:
        bar = "#" * round(30 * b["n"] / top) if top else ""
        lines.append(f"  {b['from_ms']:>6.0f} - {b['to_ms']:<6.0f} | {bar:<30} {b['n']}")
    return lines


@telemetry.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "prometheus"]),
    default="jsonl",
    show_default=True,
    help="JSON lines (one object per turn and per start) or Prometheus text exposition.",
)
@output_file_option(
    "Write to this file (Prometheus: atomically, for node_exporter's textfile "
    "collector); default: standard output.",
    deprecated="--out",
)
@click.option(
    "--with-transcripts",
    is_flag=True,
    help="Add kept transcript and reply text (only exists with telemetry.keep_transcripts).",
)
@_since_option("all")
@json_option("With -o: one JSON object on stdout saying what was written.")
@config_option()
def export(
    fmt: str,
    output: Path | None,
    with_transcripts: bool,
    since: str,
    as_json: bool,
    config_path: Path | None,
) -> None:
    """Export the recorded turns: JSON lines or Prometheus text."""
    if as_json and output is None:
        raise refuse("--json reports the file written with -o; without -o the export is stdout")
    out = output
    cfg = config_mod.load(config_path)
    store = _store(cfg)
    after = parse_since(since, time.time())
    turns = store.turns(after) if store else []
    starts = store.starts(after) if store else []
    if fmt == "prometheus":
        registry = prometheus_registry(turns, starts, store.dropped() if store else 0)
        text = write_prometheus(out, registry)
        if text is not None:
            click.echo(text.decode("utf-8"), nl=False)
        else:
            _wrote(out, "prometheus", len(turns) + len(starts), as_json)
        return
    content = store.content(after) if store and with_transcripts else []
    lines = list(jsonl_lines(turns, starts, content))
    if out is None:
        for line in lines:
            click.echo(line)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        out.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write {out}: {exc.strerror or exc}") from exc
    _wrote(out, "jsonl", len(lines), as_json)


def _wrote(out: Path | None, fmt: str, records: int, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"output": str(out), "format": fmt, "records": records}))
    elif not quiet():
        click.echo(f"hearthvox: wrote {records} records to {out}", err=True)


@telemetry.command()
@click.option(
    "--transcripts-only", is_flag=True, help="Delete only kept transcript and reply text."
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_options
def purge(transcripts_only: bool, yes: bool, as_json: bool, config_path: Path | None) -> None:
    """Delete recorded telemetry (everything, or only kept text), overwriting it on disk."""
    cfg = config_mod.load(config_path)
    what = "kept transcripts and replies" if transcripts_only else "all recorded telemetry"
    if not yes:
        click.confirm(f"Delete {what}?", abort=True)
    store = _store(cfg)
    counts = store.purge(content_only=transcripts_only) if store else {}
    if as_json:
        click.echo(json.dumps({"purged": what, **counts}))
    elif store is None:
        click.echo("nothing recorded: nothing to purge")
    else:
        click.echo(f"deleted {what}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@telemetry.command("check")
@click.option(
    "--since",
    default=None,
    metavar="30m|24h|7d|all",
    help="Window (default: [telemetry] check_window_h, 24 hours).",
)
@_options
def check(since: str | None, as_json: bool, config_path: Path | None) -> None:
    """Compare against the [telemetry] alert_* thresholds; exit 1 when one is breached.

    For cron or a systemd timer: p95 end of speech to first audio, error rate,
    false-wake rate (wakes with no speech) and RSS, over the window.
    """
    cfg = config_mod.load(config_path)
    window = since or f"{cfg.telemetry.check_window_h:g}h"
    data, _ = _window(cfg, window)
    results = check_rules(data, cfg.telemetry)
    for r in results:
        if as_json:
            click.echo(json.dumps({**r.as_dict(), "window": window}))
        else:
            click.echo(f"{r.status.upper():<9}{r.rule:<20} {r.note} (n={r.n}, window {window})")
    if any(r.status == "breached" for r in results):
        click.get_current_context().exit(1)
