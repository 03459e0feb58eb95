"""``hearthvox say`` and ``hearthvox transcribe``: one engine each, no wake word."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hearthvox import config as config_mod
from hearthvox.audio.sinks import SpeakerSink, WavFileSink
from hearthvox.audio.wavio import load_wav
from hearthvox.bundles.default import default_model_paths
from hearthvox.engines import load_asr, load_tts
from hearthvox.errors import AudioDeviceError, HearthvoxError


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
    tts = load_tts(default_model_paths(), cfg)
    sink: WavFileSink | SpeakerSink
    if output is not None:
        sink = WavFileSink(output)
    else:
        from hearthvox.cli.run import have_speaker

        if not have_speaker():
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


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per input file.")
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False))
def transcribe(paths: tuple[Path, ...], as_json: bool, config_path: Path | None) -> None:
    """Transcribe WAV files, one line per file: PATH<TAB>text.

    A file that cannot be read is reported on stderr and the others still run;
    the exit status is then non-zero.
    """
    cfg = config_mod.load(config_path)
    models = default_model_paths()
    asr = load_asr(models, cfg)
    failed = 0
    for path in paths:
        try:
            audio = load_wav(path, cfg.audio.rate_hz)
            result = asr.transcribe(audio.samples)
        except HearthvoxError as exc:
            failed += 1
            click.echo(f"hearthvox: error: {exc}", err=True)
            continue
        if as_json:
            record = {
                "path": str(path),
                "text": result.text,
                "duration_s": round(audio.duration_s, 3),
                "bundle": models.bundle_id,
            }
            click.echo(json.dumps(record))
        else:
            click.echo(f"{path}\t{result.text}")
    if failed:
        raise click.exceptions.Exit(4)
