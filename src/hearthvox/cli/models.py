"""``hearthvox models``: the model store, its channels, installs, rollback, verification."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import click

from hearthvox import config as config_mod
from hearthvox.bundles.active import default_bundle_bytes, ensure_initialised, open_store, policy
from hearthvox.bundles.download import Progress
from hearthvox.bundles.install import (
    InstallResult,
    activate_bundle,
    find_installed,
    install_bundle,
    rollback_channel,
)
from hearthvox.bundles.manifest import CHANNELS, now_utc
from hearthvox.bundles.signing import local_public, public_text
from hearthvox.bundles.sources import DirSource, IndexObjects, ObjectSource, TarSource
from hearthvox.bundles.store import Store
from hearthvox.cli.eval import corpus_option, progress_bars, quick_option
from hearthvox.cli.options import (
    config_option,
    json_option,
    output_file_option,
    quiet,
    refuse,
)
from hearthvox.compat.refusal import check_manifest
from hearthvox.config import Config
from hearthvox.errors import ModelError, OutputError
from hearthvox.paths import user_paths

_channel = click.option(
    "--channel",
    type=click.Choice(CHANNELS),
    help="Release channel (default: [models] channel in the config, stable).",
)
_config = config_option()
_json = json_option("One JSON object per line.")
_json_outcome = json_option("One JSON object on stdout with the outcome.")


def _setup(config_path: Path | None, channel: str | None) -> tuple[Config, Store, str]:
    cfg = config_mod.load(config_path)
    store = open_store()
    ensure_initialised(store, cfg)
    return cfg, store, channel or cfg.models.channel


def _say(msg: str) -> None:
    """A note on stderr (not with -q)."""
    if not quiet():
        click.echo(f"hearthvox: {msg}", err=True)


def _emit(record: dict[str, object]) -> None:
    click.echo(json.dumps(record))


@contextlib.contextmanager
def _progress_bar() -> Iterator[Callable[[int], Progress]]:
    """A byte progress bar on stderr (shown on a terminal only)."""
    with progress_bars(unit="B", unit_scale=True) as start:
        yield lambda total: start("", total)


@click.group()
def models() -> None:
    """Model bundles: signed, verified, per channel (stable, beta, canary), with rollback.

    \b
    hearthvox models status                        # each channel: current, previous, trial
    hearthvox models install URL/index.json --channel beta --activate
    hearthvox models rollback --channel beta       # back to the previous bundle
    hearthvox models promote --from beta           # beta -> stable, gated on quality by slice
    hearthvox models verify                        # re-hash every model file in the store
    """


@models.command()
@_channel
@_json
@_config
def status(channel: str | None, as_json: bool, config_path: Path | None) -> None:
    """Per channel: the current and previous bundle, the trial state, what the daemon runs."""
    from hearthvox.bundles.status import channel_records

    cfg, store, _ = _setup(config_path, channel)
    records = channel_records(store, user_paths(), cfg.models.channel, channel)
    if as_json:
        for r in records:
            click.echo(json.dumps(r))
        return
    click.echo(f"{'channel':<10} {'current':<24} {'previous':<24} {'trial':<17} in use")
    for r in records:
        name = r["channel"] + ("*" if r["configured"] else "")
        trial = r["trial"] or "-"
        if r["tries_left"] is not None:
            trial += f" ({r['tries_left']} left)"
        in_use = r["in_use"] or "-"
        click.echo(
            f"{name:<10} {r['current'] or '-':<24} {r['previous'] or '-':<24} {trial:<17} {in_use}"
        )
        if r["message"]:
            click.echo(f"{'':<10} {r['message']}")
    click.echo("* the channel the daemon uses ([models] channel)")
    local = local_public(store.keys)
    if local is not None:
        click.echo(f"this device's signing key: {public_text(local)}")


@models.command(name="list")
@_channel
@_json
@_config
def list_(channel: str | None, as_json: bool, config_path: Path | None) -> None:
    """The bundles installed in the store (of one channel with --channel), each with the
    upstream credits and licence of its models."""
    from hearthvox.bundles.credits import credit_lines
    from hearthvox.bundles.status import bundle_records

    _, store, _ = _setup(config_path, None)
    records = bundle_records(store, now_utc(), channel)
    manifests = {i.sha256: i.manifest for i in store.installed()}
    for r in records:
        r["credits"] = credit_lines(manifests[r["manifest"]].artifacts())
        if as_json:
            click.echo(json.dumps(r))
            continue
        flags = ", ".join(x for x in (r["role"], "expired" if r["expired"] else "") if x)
        click.echo(
            f"{r['bundle']:<24} {r['channel']:<7} {r['size'] / 1e6:7.1f} MB  "
            f"hardware: {','.join(r['hardware'])}  expires {r['expires'][:10]}"
            + (f"  [{flags}]" if flags else "")
        )
        for artifact_id, line in r["credits"].items():
            click.echo(f"  {artifact_id}: {line}")
    if not records and not as_json:
        click.echo("no bundles installed" + (f" for channel {channel}" if channel else ""))


def _report_install(result: InstallResult, channel: str, as_json: bool) -> None:
    m = result.manifest
    if as_json:
        activated = result.state is not None
        _emit(
            {
                "bundle": str(m.ref),
                "manifest": result.sha256,
                "channel": channel,
                "fetched_bytes": result.fetched,
                "reused": result.reused,
                "activated": activated,
                "trial": "pending" if activated else None,
            }
        )
        return
    _say(
        f"installed {m.ref} for channel {channel} ({result.fetched / 1e6:.1f} MB fetched, "
        f"{result.reused} file(s) already in the store)"
    )
    if result.state is not None:
        _say(f"channel {channel} now runs {m.ref} (on trial until its first start passes)")
    else:
        _say(f"switch to it with: hearthvox models activate {m.ref} --channel {channel}")


def _local_source(spec: str, store: Store) -> tuple[bytes, ObjectSource | None]:
    """(manifest bytes, where the objects come from) of a local SOURCE."""
    if spec == "packages":
        return default_bundle_bytes(store), None
    path = Path(spec)
    if path.is_dir():
        folder = DirSource(path)
        return folder.manifest_bytes(), folder
    if path.is_file():
        tar = TarSource(path)
        return tar.manifest_bytes(), tar
    raise ModelError(f"{spec}: no such file or directory, and not an http(s):// index URL")


@models.command()
@click.argument("source", required=False)
@_channel
@click.option("--activate", is_flag=True, help="Also switch the channel to it (on trial).")
@click.option("--bundle", "bundle_name", help="From an index: this bundle (default: the newest).")
@click.option("--version", "bundle_version", type=int, help="From an index: this version.")
@_json_outcome
@_config
def install(
    source: str | None,
    channel: str | None,
    activate: bool,
    bundle_name: str | None,
    bundle_version: int | None,
    as_json: bool,
    config_path: Path | None,
) -> None:
    """Install a bundle into the store, verified, without switching to it (see --activate).

    \b
    SOURCE is one of:
      https://host/path/index.json   a signed bundle index (resumable downloads)
      BUNDLE.tar | DIR               an exported bundle (hearthvox models export)
      packages                       the default bundle, from the installed Python packages
    Without SOURCE, [models] index_url from the config.
    """
    cfg, store, channel = _setup(config_path, channel)
    spec = source or cfg.models.index_url
    if not spec:
        raise click.UsageError("give a SOURCE (or set [models] index_url in the config)")
    pol = policy(cfg, store, check_manifest)
    if spec.startswith(("http://", "https://")):
        from hearthvox.bundles.index import check_index_version, fetch_index

        index = fetch_index(spec, pol.trusted, pol.now)
        check_index_version(store, index)
        entry = index.pick(channel, bundle_name, bundle_version)
        data: bytes = index.manifest_bytes(entry)
        objects: ObjectSource | None = IndexObjects(index.objects_url)
    else:
        data, objects = _local_source(spec, store)
    with _progress_bar() as bar:
        result = install_bundle(store, data, objects, channel, pol, activate=activate, progress=bar)
    _report_install(result, channel, as_json)


@models.command(name="import")
@click.argument("tarball", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@_channel
@click.option("--activate", is_flag=True, help="Also switch the channel to it (on trial).")
@_json_outcome
@_config
def import_(
    tarball: Path, channel: str | None, activate: bool, as_json: bool, config_path: Path | None
) -> None:
    """Install an exported bundle tarball (no network needed)."""
    cfg, store, channel = _setup(config_path, channel)
    tar = TarSource(tarball)
    with _progress_bar() as bar:
        result = install_bundle(
            store,
            tar.manifest_bytes(),
            tar,
            channel,
            policy(cfg, store, check_manifest),
            activate=activate,
            progress=bar,
        )
    _report_install(result, channel, as_json)


@models.command()
@click.argument("bundle", metavar="BUNDLE[@VERSION]")
@_channel
@_json_outcome
@_config
def activate(bundle: str, channel: str | None, as_json: bool, config_path: Path | None) -> None:
    """Switch the channel to an installed bundle (it goes on trial until a start passes)."""
    cfg, store, channel = _setup(config_path, channel)
    old = store.read_channel(channel).current
    state = activate_bundle(store, channel, bundle, policy(cfg, store, check_manifest))
    if as_json:
        changed = state.current != old
        _emit(
            {
                "channel": channel,
                "previous": str(old) if old else None,
                "current": str(state.current),
                "changed": changed,
                "trial": "pending" if changed else None,
            }
        )
    elif state.current == old:
        _say(f"channel {channel} already runs {old}")
    else:
        _say(f"channel {channel}: {old or 'none'} -> {state.current} (on trial)")


@models.command()
@_channel
@click.option("--to", "to", metavar="BUNDLE[@VERSION]", help="An earlier bundle of the history.")
@_json_outcome
@_config
def rollback(channel: str | None, to: str | None, as_json: bool, config_path: Path | None) -> None:
    """Switch the channel back to its previous bundle; no other channel moves."""
    cfg, store, channel = _setup(config_path, channel)
    old, new = rollback_channel(store, channel, to, policy(cfg, store, check_manifest))
    if as_json:
        _emit({"channel": channel, "from": str(old.current), "to": str(new.current)})
        return
    _say(f"channel {channel}: {old.current} -> {new.current} (rolled back)")


@models.command()
@_channel
@click.option("--repair", is_flag=True, help="Fetch damaged or missing files again.")
@_json
@_config
def verify(channel: str | None, repair: bool, as_json: bool, config_path: Path | None) -> None:
    """Re-hash every file of every installed bundle and of the optional models built in the
    store (Whisper base); check signatures and channels."""
    from hearthvox.bundles.verify import repair_store, verify_store

    cfg, store, _ = _setup(config_path, None)
    pol = policy(cfg, store, check_manifest)
    report = verify_store(store, pol, channel)
    if repair and not report.ok:
        repaired = repair_store(store)
        report = verify_store(store, pol, channel)
        report.repaired = repaired
    if as_json:
        click.echo(json.dumps({"ok": report.ok, **dataclasses.asdict(report)}))
    else:
        for line in report.repaired:
            click.echo(f"repaired: {line}")
        for line in report.problems:
            click.echo(f"problem: {line}")
        optional = f", {report.optional} optional model(s)" if report.optional else ""
        click.echo(
            f"{'ok' if report.ok else 'FAILED'}: {report.bundles} bundle(s){optional}, "
            f"{report.objects} file(s), {report.bytes / 1e6:.1f} MB checked"
        )
    if not report.ok:
        raise click.exceptions.Exit(ModelError.exit_code)


@models.command()
@click.argument("bundle", metavar="[BUNDLE[@VERSION]]", required=False)
@output_file_option("The tarball to write.", required=True)
@_channel
@_json_outcome
@_config
def export(
    bundle: str | None, output: Path, channel: str | None, as_json: bool, config_path: Path | None
) -> None:
    """Write a bundle and its files to one tarball (default: the channel's current bundle)."""
    from hearthvox.bundles.publish import export_bundle

    _, store, channel = _setup(config_path, channel)
    current = store.read_channel(channel).current
    selector = bundle or (current.manifest if current else "")
    if not selector:
        raise ModelError(f"channel {channel} has no bundle; name one to export")
    installed = find_installed(store, channel, selector)
    size = export_bundle(store, installed, output)
    if as_json:
        ref = str(installed.manifest.ref)
        _emit({"bundle": ref, "channel": channel, "output": str(output), "size": size})
        return
    _say(
        f"wrote {output} ({installed.manifest.ref}, {size / 1e6:.1f} MB); on another device: "
        f"hearthvox models import {output.name} --channel {channel}"
    )


@models.command()
@click.option(
    "--lock",
    "lock_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The lock to regenerate (default: the packaged models.lock).",
)
@output_file_option(
    "Where to write it (default: over --lock; stdout for the packaged one, or -).",
    special=("-",),
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
)
@json_option("With a file written: one JSON object on stdout saying which.")
def lock(lock_path: Path | None, output: Path | None, as_json: bool) -> None:
    """Regenerate models.lock from the installed packages; fail if a pinned hash differs."""
    from hearthvox.bundles.relock import relock

    target = output or lock_path
    to_stdout = target is None or str(target) == "-"
    if as_json and to_stdout:
        raise refuse("--json reports the file written; here the lock goes to stdout")
    text = relock(lock_path)
    if target is None or to_stdout:
        click.echo(text, nl=False)
        return
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from exc
    if as_json:
        _emit({"output": str(target), "ok": True})
    else:
        _say(f"wrote {target}: every file matches its pin")


@models.command()
@click.option(
    "--from", "source", type=click.Choice(CHANNELS), required=True, help="The channel to promote."
)
@click.option(
    "--to", "target", type=click.Choice(CHANNELS), help="Where to (default: the next one)."
)
@click.option("--force", is_flag=True, help="Promote even over budget (recorded as forced).")
@corpus_option
@quick_option
@_json_outcome
@_config
def promote(
    source: str,
    target: str | None,
    force: bool,
    corpus: Path | None,
    quick: bool,
    as_json: bool,
    config_path: Path | None,
) -> None:
    """Promote a channel's bundle towards stable (canary -> beta -> stable), gated on quality.

    Runs the eval (hearthvox eval, test speakers) on the candidate and on the target
    channel's bundle and compares them clip by clip. It refuses (exit status 7),
    listing the slices, when a slice is worse than the [eval] budgets allow with
    its 95 % interval excluding zero, or when a slice has not enough data to rule
    that out (--force promotes anyway, recorded). The eval results are kept with
    the promotion.
    """
    from hearthvox.cli.eval import run_promote

    cfg, store, _ = _setup(config_path, None)
    run_promote(cfg, store, source, target, force, corpus, quick, as_json=as_json)
