"""``hearthvox hw``: what this device is, which profile of the compatibility matrix it gets and
why, what hearthvox will run on it; ``--record`` measures the current bundle here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from hearthvox import config as config_mod
from hearthvox.cli.options import config_option, given, json_option, quiet, refuse
from hearthvox.compat.device import LIVE, device_report
from hearthvox.config import Config
from hearthvox.errors import IncompatibleBundleError

# ---------------------------------------------------------------- plain words


def _device_line(p: dict[str, Any]) -> str:
    what = p["board"] or f"{p['arch']} computer"
    mem = f", {p['mem_total_mb'] / 1024:.1f} GB RAM" if p["mem_total_mb"] is not None else ""
    cuda = f"{p['cuda_devices']} CUDA device(s)" if p["cuda_devices"] else "no CUDA device"
    return f"{what}: {p['cpu_model']} ({p['arch']}), {p['cores']} core(s){mem}, {cuda}"


def _plan(v: dict[str, dict[str, Any]]) -> list[str]:
    wake, asr, tts, end = v["wake"], v["asr"], v["tts"], v.get("endpoint", {})

    def threads(s: dict[str, Any]) -> str:
        n = s.get("threads", 1)
        return f"{n} thread{'s' if n != 1 else ''}"

    lines = [
        f"  wake word           {', '.join(wake.get('models', []))} ({threads(wake)})",
        f"  voice activity      Silero VAD ({threads(v['vad'])})",
        f"  speech recognition  {asr.get('model', '?')} on {str(asr.get('device')).upper()} "
        f"{asr.get('compute_type')}, beam {asr.get('beam_size')} ({threads(asr)})",
        f"  speech synthesis    {tts.get('voice', '?')} ({threads(tts)})",
    ]
    if second := v.get("second_asr"):
        lines.append(
            f"  second ASR model    {second['model']}: {'on' if second['enabled'] else 'off'}"
        )
    if end:
        lines.append(
            f"  end of speech       after {end.get('hangover_ms', '?')} ms of silence, "
            f"commands up to {end.get('max_utterance_s', '?')} s"
        )
    return lines


def _figures(entry: dict[str, Any]) -> str:
    f = entry["figures"]
    parts = []
    if "asr_rtf" in f:
        parts.append(f"ASR real-time factor {f['asr_rtf']:.3f}")
    if "tts_first_audio_ms" in f:
        parts.append(f"first audio {f['tts_first_audio_ms']:.0f} ms")
    if "peak_rss_mb" in f:
        parts.append(f"peak memory {f['peak_rss_mb']:.0f} MB")
    return f"{entry['date']} on {entry['device']}: " + ", ".join(parts)


def summary(report: dict[str, Any]) -> str:
    p, b = report["probe"], report["bundle"]
    lines = [
        f"This device: {_device_line(p)}.",
        f"Profile: {report['profile']}"
        + (f" ({report['description']})" if report["description"] else ""),
        "hearthvox will run:",
        *_plan({**report["variants"], "second_asr": report["second_asr"]}),
        "Why:",
        *(f"  - {r}" for r in report["reasons"]),
    ]
    if b["refused"]:
        lines.append(f"Bundle {b['ref']}: REFUSED here: {b['refused']}")
    elif b["verified"]:
        lines.append(f"Bundle {b['ref']}: verified on this profile:")
        lines += [f"  - {_figures(v)}" for v in b["verified"]]
    else:
        lines.append(
            f"Bundle {b['ref']}: not yet verified on this profile "
            "(hearthvox hw --record measures it here)"
        )
    lines += [
        "Hardware:",
        f"  flags:   {' '.join(p['flags']) or 'none of interest'}",
    ]
    if p["mem_available_mb"] is not None:
        lines.append(f"  memory:  {p['mem_available_mb'] / 1024:.1f} GB available")
    if p["l4t_release"]:
        lines.append(f"  Jetson Linux: {p['l4t_release']}")
    listed = ", ".join(p["onnx_listed"]) or "none"
    lines.append(
        f"  ONNX Runtime: a session gets {', '.join(p['onnx_providers']) or 'nothing'} "
        f"(listed: {listed})"
    )
    cuda = f"{p['cuda_devices']} CUDA device(s)" + (
        f" [{p['cuda_error']}]" if p["cuda_error"] else ""
    )
    types = ", ".join(p["cpu_compute_types"]) or "unknown"
    lines.append(f"  CTranslate2: {cuda}; CPU compute types: {types}")
    if p["runtime_crash"]:
        lines.append(f"  runtime check: {p['runtime_crash']}")
    lines.append(f"Matrix: {report['matrix']}")
    if "root" in report:
        lines.append(
            f"(device files from {report['root']}; its runtime facts are assumed: CPU-only "
            "ONNX Runtime, the CUDA devices given with --cuda-devices)"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------- the command


def _record(cfg: Config, audio: Path | None, runs: int, as_json: bool) -> None:
    from hearthvox.audio.wavio import load_wav
    from hearthvox.compat.record import measure, synthesised_speech, verified_entry, write_verified
    from hearthvox.runtime import load_runtime

    def say(msg: str) -> None:
        if not quiet():
            click.echo(f"hearthvox hw: {msg}", err=True)

    say("loading the current bundle with this device's variants ...")
    runtime = load_runtime(cfg)  # refuses a bundle this device must not run
    setup = runtime.device
    if setup is None:
        raise IncompatibleBundleError("the runtime did not report its device set-up")
    if audio is not None:
        speech, what = load_wav(audio, 16000).samples, "a WAV file"
    else:
        speech, what = synthesised_speech(runtime.engines), "speech synthesised by the voice"
    m = measure(
        runtime.engines, speech, load_s=runtime.ready_ms / 1000.0, repeats=runs, progress=say
    )
    entry = verified_entry(
        setup, runtime.engines, runtime.models, m, f"{what}, {len(speech) / 16000:.1f} s"
    )
    path = write_verified(entry, setup.selection.profile)
    if as_json:
        click.echo(json.dumps({"profile": setup.selection.profile, "path": str(path), **entry}))
        return
    click.echo(f"Recorded bundle {runtime.models.bundle_id} on profile '{setup.selection.profile}'")
    click.echo(f"  {_figures(entry)}")
    click.echo(f"  (load {m.load_s:.1f} s; {what}, {m.asr_audio_s:.1f} s)")
    click.echo(f"written to {path}; hearthvox now reads this copy of the matrix")


@click.command("hw")
@json_option("One JSON object on one line.")
@config_option(
    "Config file whose overrides to show (default: $HEARTHVOX_CONFIG, else the user's config.toml)."
)
@click.option(
    "--record",
    is_flag=True,
    help="Measure the current bundle on this device (ASR real-time factor, first TTS audio, "
    "peak memory) and add the result to the user copy of the matrix.",
)
@click.option(
    "--audio",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="With --record: a WAV of speech to time ASR on (default: the voice speaks a request).",
)
@click.option(
    "--runs", type=click.IntRange(1, 20), default=3, show_default=True,
    help="With --record: timed runs per measurement (the median is kept).",
)  # fmt: skip
@click.option(
    "--root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=LIVE,
    hidden=True,
    help="Probe a tree of recorded device files instead of this machine.",
)
@click.option(
    "--matrix",
    "matrix_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    hidden=True,
    help="Use this compat_matrix.yaml instead of the user copy or the packaged one.",
)
@click.option(
    "--cuda-devices", type=click.IntRange(0), hidden=True,
    help="Pretend CTranslate2 sees this many CUDA devices (with --root).",
)  # fmt: skip
def hw(
    as_json: bool,
    config_path: Path | None,
    record: bool,
    audio: Path | None,
    runs: int,
    root: Path,
    matrix_path: Path | None,
    cuda_devices: int | None,
) -> None:
    """Show what this device is and what hearthvox runs on it, and why.

    \b
    Probes the CPU (architecture, cores, AVX2/AVX-512/NEON flags), memory, the board
    (Raspberry Pi, Jetson) and the accelerators, picks the first matching profile of
    the compatibility matrix, and lists the model variants every engine is created
    with, each rule that decided it, and the keys your config.toml overrides.

    \b
    Examples:
      hearthvox hw                 # in plain words
      hearthvox hw --json          # one JSON object
      hearthvox hw --record        # measure the current bundle here, keep the result
    """
    if not record and (wrong := given(click.get_current_context(), "audio", "runs")):
        raise refuse(f"--{wrong[0]} is for --record")
    cfg = config_mod.load(config_path)
    if record:
        if root.resolve() != LIVE or matrix_path is not None or cuda_devices is not None:
            raise click.UsageError("--record measures this device: drop --root/--matrix/--cuda")
        _record(cfg, audio, runs, as_json)
        return
    _setup, report = device_report(
        cfg, root=root, matrix_path=matrix_path, cuda_devices=cuda_devices
    )
    click.echo(json.dumps(report, separators=(",", ":")) if as_json else summary(report))
