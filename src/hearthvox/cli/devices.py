"""``hearthvox devices``: the microphones and speakers PortAudio sees."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from hearthvox import config as config_mod
from hearthvox.audio.devices import Kind, list_devices, pick_device
from hearthvox.cli.options import config_option, json_option
from hearthvox.errors import AudioDeviceError


def _chosen(devices: list[dict[str, Any]], spec: str, kind: Kind) -> int | None:
    """The index ``hearthvox run`` would open for ``spec`` (None: none matches)."""
    default = next((int(d["index"]) for d in devices if d[f"default_{kind}"]), -1)
    try:
        return int(pick_device(devices, spec, kind, default)["index"])
    except AudioDeviceError:
        return None


@click.command()
@json_option("One JSON object per device.")
@config_option(
    "Config file whose [audio] input_device/output_device to show (default: "
    "$HEARTHVOX_CONFIG, else the user's)."
)
def devices(as_json: bool, config_path: Path | None) -> None:
    """List the microphones and speakers, and which ones `hearthvox run` uses.

    \b
    Pick one by index or by part of its name:
      hearthvox run --input-device 2 --output-device "USB Audio"
    or for good in config.toml:
      [audio]
      input_device = "USB Audio"
    """
    cfg = config_mod.load(config_path)
    found = list_devices()
    mic = _chosen(found, cfg.audio.input_device, "input")
    spk = _chosen(found, cfg.audio.output_device, "output")
    for d in found:
        d["used_for_input"] = d["index"] == mic
        d["used_for_output"] = d["index"] == spk
        if as_json:
            click.echo(json.dumps(d))
            continue
        roles = (("mic", d["used_for_input"]), ("speaker", d["used_for_output"]))
        used = [w for w, on in roles if on]
        click.echo(
            f"{d['index']:>3}  {d['name']:<40} in {d['max_input_channels']:>2}  "
            f"out {d['max_output_channels']:>2}  {d['default_samplerate']:>7.0f} Hz"
            + (f"  <- {' and '.join(used)}" if used else "")
        )
    if not as_json and not found:
        click.echo("no audio devices: PortAudio lists none (is a sound server running?)")
    elif not as_json:
        chosen = (("input", mic, cfg.audio.input_device), ("output", spk, cfg.audio.output_device))
        for kind, idx, spec in chosen:
            if idx is None:
                click.echo(f"no {kind} device matches {spec!r}", err=True)
