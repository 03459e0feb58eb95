"""``hearthvox say``: speak with the bundle's voice (``transcribe`` is in cli/transcribe.py)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hearthvox import config as config_mod
from hearthvox.audio.sinks import SpeakerSink, WavFileSink
from hearthvox.bundles.active import active_model_paths
from hearthvox.cli.options import config_option, json_option, output_file_option, quiet
from hearthvox.engines import load_tts
from hearthvox.errors import AudioDeviceError
from hearthvox.settings import engine_config


@click.command()
@click.argument("text")
@output_file_option("Write the speech to this WAV file instead of playing it.")
@json_option("One JSON object with what was spoken: where, how long, the bundle.")
@config_option()
def say(text: str, output: Path | None, as_json: bool, config_path: Path | None) -> None:
    """Speak TEXT with the bundle's voice (or write it to a WAV file with -o)."""
    if not text.strip():
        raise click.BadParameter("nothing to say", param_hint="TEXT")
    cfg = config_mod.load(config_path)
    models = active_model_paths(cfg)  # the configured channel's bundle, checked
    tts = load_tts(models, engine_config(cfg, models))
    sink: WavFileSink | SpeakerSink
    if output is not None:
        sink = WavFileSink(output)
    else:
        from hearthvox.audio.devices import have_output_device

        if not have_output_device():
            raise AudioDeviceError("no speaker found; write the speech to a file with -o OUT.wav")
        sink = SpeakerSink(cfg.audio.output_device)
    samples = 0
    try:
        for sentence in tts.sentences(text):
            sink.write(sentence, tts.rate_hz)
            samples += len(sentence)
    except BaseException:
        sink.abort()
        raise
    sink.close()
    if as_json:
        record = {
            "output": str(output) if output is not None else "speaker",
            "duration_s": round(samples / tts.rate_hz, 3),
            "bundle": models.bundle_id,
        }
        click.echo(json.dumps(record))
    elif output is not None and not quiet():
        click.echo(f"wrote {output}", err=True)
