"""``hearthvox say``: speak with the bundle's voice (``transcribe`` is in cli/transcribe.py)."""

from __future__ import annotations

from pathlib import Path

import click

from hearthvox import config as config_mod
from hearthvox.audio.sinks import SpeakerSink, WavFileSink
from hearthvox.bundles.active import active_model_paths, bundle_config
from hearthvox.engines import load_tts
from hearthvox.errors import AudioDeviceError


@click.command()
@click.argument("text")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the speech to this WAV file instead of playing it.",
)
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False))
def say(text: str, output: Path | None, config_path: Path | None) -> None:
    """Speak TEXT with the bundle's voice (or write it to a WAV file with -o)."""
    if not text.strip():
        raise click.BadParameter("nothing to say", param_hint="TEXT")
    cfg = config_mod.load(config_path)
    models = active_model_paths(cfg)  # the configured channel's bundle, checked
    tts = load_tts(models, bundle_config(cfg, models))
    sink: WavFileSink | SpeakerSink
    if output is not None:
        sink = WavFileSink(output)
    else:
        from hearthvox.audio.devices import have_output_device

        if not have_output_device():
            raise AudioDeviceError("no speaker found; write the speech to a file with -o OUT.wav")
        sink = SpeakerSink(cfg.audio.output_device)
    try:
        for sentence in tts.sentences(text):
            sink.write(sentence, tts.rate_hz)
    except BaseException:
        sink.abort()
        raise
    sink.close()
    if output is not None:
        click.echo(f"wrote {output}", err=True)
