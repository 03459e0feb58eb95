"""``hearthvox models add-wake``: a wake word from an openWakeWord ONNX file, as a new bundle."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hearthvox import config as config_mod
from hearthvox.bundles.active import (
    ensure_initialised,
    installed_paths,
    open_store,
    policy,
)
from hearthvox.bundles.addwake import add_wake, check_name, check_wake_model
from hearthvox.bundles.manifest import CHANNELS
from hearthvox.cli.options import config_option, json_option, quiet
from hearthvox.compat.refusal import check_manifest
from hearthvox.errors import ModelError
from hearthvox.settings import engine_config


@click.command(name="add-wake")
@click.argument("name")
@click.argument("model", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--license",
    "license_",
    required=True,
    help="The model's licence (an SPDX id such as Apache-2.0 or CC-BY-NC-SA-4.0): yours to check.",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0.0, 1.0, min_open=True, max_open=True),
    default=0.5,
    show_default=True,
    help="Score at which this wake word fires (the other wake words keep theirs).",
)
@click.option(
    "--channel",
    type=click.Choice(CHANNELS),
    default="beta",
    show_default=True,
    help="The channel the new bundle goes on (on trial there; promote it from there).",
)
@click.option(
    "--from",
    "base_channel",
    type=click.Choice(CHANNELS),
    help="The channel whose current bundle it is derived from (default: [models] channel).",
)
@json_option("One JSON object with what was installed.")
@config_option()
def add_wake_command(
    name: str,
    model: Path,
    license_: str,
    threshold: float,
    channel: str,
    base_channel: str | None,
    as_json: bool,
    config_path: Path | None,
) -> None:
    """Add a wake word from an openWakeWord classifier (NAME, FILE.onnx) as a new bundle.

    The file is checked first (a regular file of at most 16 MiB, openWakeWord's
    classifier shapes, loads on ONNX Runtime, stays under its threshold on
    silence). Then a new version of the --from channel's bundle with the model
    added and switched on is signed by this device's key and activated on
    --channel (beta by default), on trial until the daemon's next start passes its
    health check. Promote it with: hearthvox models promote --from beta.

    \b
    hearthvox models add-wake hey_kitchen hey_kitchen.onnx --license Apache-2.0
    hearthvox models add-wake hey_kitchen hey_kitchen.onnx --license MIT --threshold 0.6
    """
    check_name(name, license_, threshold)
    cfg = config_mod.load(config_path)
    store = open_store()
    ensure_initialised(store, cfg)
    source = base_channel or cfg.models.channel
    current = store.read_channel(source).current
    if current is None:
        raise ModelError(f"channel {source} has no bundle to add a wake word to (see --from)")
    base = store.get(current.manifest)
    paths = installed_paths(store, cfg, base, source)
    checked = check_wake_model(
        name, model, threshold, paths.wake_melspectrogram, paths.wake_embedding
    )
    effective = engine_config(cfg, paths)
    result = add_wake(
        store,
        base,
        checked,
        license_=license_,
        threshold=threshold,
        channel=channel,
        policy=policy(cfg, store, check_manifest),
        configured=effective.wake.models,
    )
    ref = result.manifest.ref
    if as_json:
        click.echo(
            json.dumps(
                {
                    "bundle": ref,
                    "channel": channel,
                    "from": base.manifest.ref,
                    "wake_model": name,
                    "sha256": checked.sha256,
                    "size": checked.size,
                    "frames": checked.frames,
                    "threshold": threshold,
                    "silence_score": round(checked.silence_score, 4),
                    "license": license_,
                    "trial": "pending",
                }
            )
        )
    else:
        _say(
            f"{model}: openWakeWord classifier, {checked.frames} frames, "
            f"{checked.size / 1e6:.1f} MB, silence scores {checked.silence_score:.2f} "
            f"(threshold {threshold:.2f})"
        )
        _say(f"channel {channel} now runs {ref} ({base.manifest.ref} + wake word {name}), on trial")
        _say(f'try it: set [models] channel = "{channel}", then hearthvox run')
        _say(f"then: hearthvox models promote --from {channel}")
    if "wake.models" in config_mod.user_keys(cfg):
        _say(
            f"note: your config sets [wake] models, which wins over the bundle: add {name!r} "
            "there to use it"
        )


def _say(msg: str) -> None:
    if not quiet():
        click.echo(f"hearthvox: {msg}", err=True)
