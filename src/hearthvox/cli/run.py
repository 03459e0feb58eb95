"""``hearthvox run`` (the daemon loop) and ``hearthvox demo``."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

from hearthvox import config as config_mod
from hearthvox.audio.devices import have_output_device, import_sounddevice
from hearthvox.audio.earcons import Earcons
from hearthvox.audio.resample import resample_int16
from hearthvox.audio.sinks import NullSink, Sink, SpeakerSink, WavFileSink
from hearthvox.audio.sources import MicOptions, MicSource, array_source, stream_source
from hearthvox.audio.wavio import load_wav, open_wav_stream, write_wav
from hearthvox.cli.options import (
    audio_io_options,
    check_output_file,
    config_option,
    given,
    json_option,
    output_file_option,
    quiet,
    refuse,
)
from hearthvox.cli.render import render, stage_summary
from hearthvox.config import Config
from hearthvox.engines.memory import limit_malloc_arenas
from hearthvox.errors import AudioDeviceError, HearthvoxError
from hearthvox.events import (
    AudioChunk,
    Event,
    Reply,
    Transcript,
    TtsFirstAudio,
    TurnDone,
    WakeDetected,
)
from hearthvox.pipeline.jsonl import event_record
from hearthvox.runtime import Runtime, load_runtime
from hearthvox.service import (
    Daemon,
    DaemonLock,
    DaemonOptions,
    Notifier,
    ServiceEnv,
    StateLog,
    health_check,
    install_debug_hooks,
    to_journal,
    use_journal_format,
)
from hearthvox.service.serving import ServeAlongside, serve_settings
from hearthvox.service.startsignals import StartSignals, StoppedBeforeStart

log = logging.getLogger(__name__)


def _say(msg: str) -> None:
    """A note on stderr (not with -q)."""
    if not quiet():
        click.echo(f"hearthvox: {msg}", err=True)


@dataclass
class Source:
    chunks: AsyncIterator[AudioChunk]
    label: str
    close: Callable[[], None]
    realtime: bool = True
    """It comes at the speed of speech (the microphone, or a file with ``--realtime``)."""


def open_source(spec: str, cfg: Config, realtime: bool, wait_for_device: bool = False) -> Source:
    """``mic``, ``-`` (a WAV on stdin) or a WAV file; fails fast with a clear error.

    With no microphone, an interactive run stops (exit status 3) and says how to
    run from a file or the demo; with ``wait_for_device`` (a service) it says so
    and waits for one to appear.
    """
    rate, chunk_ms = cfg.audio.rate_hz, cfg.audio.chunk_ms
    if spec == "mic":
        mic = MicSource(cfg.audio.input_device, rate, chunk_ms, MicOptions(wait=True))
        import_sounddevice("input")  # no PortAudio at all: waiting cannot help
        try:
            mic.open()
        except AudioDeviceError as exc:  # a daemon waits for the device (docs/audio.md)
            if not wait_for_device:
                raise AudioDeviceError(
                    f"{exc} (a service waits instead: `hearthvox run --wait-for-device`)"
                ) from exc
            _say(f"{exc}; waiting for a microphone (retrying)")
        return Source(mic.chunks(), "the microphone", mic.close)
    if spec == "-":
        wav = open_wav_stream(sys.stdin.buffer, rate)
        chunks = stream_source(wav, chunk_ms, realtime)
        return Source(chunks, "standard input", lambda: None, realtime)
    audio = load_wav(Path(spec), rate)
    for note in audio.conversions:
        _say(f"{spec}: {note}")
    chunks = array_source(audio.samples, rate, chunk_ms, realtime)
    return Source(chunks, f"{spec} ({audio.duration_s:.1f} s)", lambda: None, realtime)


def open_sink(spec: str, cfg: Config) -> Sink:
    if spec == "none":
        return NullSink()
    if spec == "speaker":
        if not have_output_device():
            _say("no speaker found: replies are not played (use --output FILE.wav to keep them)")
            return NullSink()
        return SpeakerSink(cfg.audio.output_device)
    return WavFileSink(Path(spec))


def run_loop(
    runtime: Runtime,
    source: Source,
    sink: Sink,
    on_event: Callable[[Event], None],
    command: str = "run",
) -> None:
    """Run the pipeline to the end of the source; commit the sink only on success.

    Telemetry (when enabled) records this start and every turn; each turn is also
    logged at INFO with its stage times, never its text. SIGTERM or Ctrl-C lets
    the turn in progress finish (see :class:`hearthvox.service.Daemon`).
    """
    state = StateLog(Notifier(None), journal=False, quiet=True)
    options = DaemonOptions(command=command, reload=False, realtime=source.realtime)
    try:
        Daemon(runtime, source.chunks, sink, on_event, state=state, options=options).run()
    finally:
        source.close()


@click.command()
@audio_io_options(
    "Where replies go: the speaker, a WAV file (all replies in order), or nowhere.",
)
@click.option(
    "--realtime",
    is_flag=True,
    help=(
        "Feed a file at the speed of a microphone, so latencies are what a user would hear. "
        "Without it a file is read as fast as it can be and heard as if every decode took "
        "no time: the same turns, ended at the same moments, on every run."
    ),
)
@json_option("One JSON object per pipeline event.")
@click.option(
    "--input-device",
    metavar="INDEX|NAME",
    help="Microphone by index or part of its name (see `hearthvox devices`); with --input mic.",
)
@click.option(
    "--output-device",
    metavar="INDEX|NAME",
    help="Speaker by index or part of its name (see `hearthvox devices`); with --output speaker.",
)
@click.option(
    "--wait-for-device/--no-wait-for-device",
    default=None,
    help="With no microphone, wait for one instead of exiting with status 3 "
    "(default: wait only under systemd); with --input mic.",
)
@click.option(
    "--serve",
    "serve_uri",
    metavar="tcp://HOST:PORT|unix://PATH",
    help="Also serve Wyoming (Home Assistant) here, with the same models, loaded once; "
    "the assistant's own turns go first (docs/wyoming.md). Loopback only unless "
    "[serve] allow_remote. Same as [serve] with_run and uri in the config.",
)
@config_option()
def run(
    input_: str,
    output: str,
    realtime: bool,
    as_json: bool,
    input_device: str | None,
    output_device: str | None,
    wait_for_device: bool | None,
    serve_uri: str | None,
    config_path: Path | None,
) -> None:
    """Run the assistant: wake word, listen, transcribe, answer, speak.

    \b
    Examples:
      hearthvox run                                   # microphone and speaker
      hearthvox run --input request.wav --json        # events as JSON lines
      hearthvox run --input request.wav --output reply.wav --realtime
      arecord -f S16_LE -r 16000 -c 1 | hearthvox run --input -
      hearthvox run --serve tcp://127.0.0.1:10550   # and a Wyoming server, one process

    \b
    As a service (docs/service.md): on the microphone, or under systemd, one
    daemon at a time (a second one exits with status 1). Under systemd it says
    READY=1 once the models passed their health check and the input is open,
    pings the watchdog while every worker lives, logs in the journal's format,
    re-reads the config on SIGHUP (a bad one is reported and the old one kept),
    and on SIGTERM lets the turn in progress finish ([service] drain_s), then
    exits 0.
    """
    _refuse_inapplicable(input_, output)
    env = ServiceEnv.take()
    journal = to_journal()
    if journal:
        use_journal_format()
    state = StateLog(Notifier(env.notify_socket), journal, quiet=quiet())  # -q: no state lines
    lock = DaemonLock().acquire() if input_ == "mic" or env.notify_socket else None
    starting = StartSignals().install()  # a stop while the models load is not lost
    try:
        devices = (input_device, output_device)
        wait = bool(env.notify_socket) if wait_for_device is None else wait_for_device
        left = _serve(
            env, state, input_, output, realtime, as_json, config_path, devices, wait, serve_uri,
            starting,
        )  # fmt: skip
    except StoppedBeforeStart as stop:
        state(f"stopped ({stop.signal.name} before the start had finished)")
        return
    except HearthvoxError as exc:
        state.notifier.status(f"failed: {exc}")
        raise
    except KeyboardInterrupt:  # before the models were loaded; later Ctrl-C drains
        state("stopped")
        return
    finally:
        starting.restore()
        if lock is not None:
            lock.release()
    if left:  # a stuck engine call: its thread would keep the process alive
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _refuse_inapplicable(input_: str, output: str) -> None:
    """Options that cannot apply to this input or output are refused (exit status 2)."""
    ctx = click.get_current_context()
    if input_ != "mic":
        for name in given(ctx, "input_device", "wait_for_device"):
            flag = "--input-device" if name == "input_device" else "--wait-for-device"
            raise refuse(f"{flag} is for --input mic, not {input_}")
    elif given(ctx, "realtime"):
        raise refuse("--realtime paces a file or stdin; the microphone is real time already")
    if output != "speaker" and given(ctx, "output_device"):
        raise refuse(f"--output-device is for --output speaker, not {output}")


def _with_devices(cfg: Config, input_device: str | None, output_device: str | None) -> Config:
    """The config with the devices given on the command line (they win over the file)."""
    audio = cfg.audio
    if input_device is not None:
        audio = dataclasses.replace(audio, input_device=input_device)
    if output_device is not None:
        audio = dataclasses.replace(audio, output_device=output_device)
    return dataclasses.replace(cfg, audio=audio)


def _serve(
    env: ServiceEnv,
    state: StateLog,
    input_: str,
    output: str,
    realtime: bool,
    as_json: bool,
    config_path: Path | None,
    devices: tuple[str | None, str | None] = (None, None),
    wait_for_device: bool = False,
    serve_uri: str | None = None,
    starting: StartSignals | None = None,
) -> bool:
    """Load, check, open, then run the daemon; True when stuck calls were left behind.
    ``starting``: the stop signals taken over for the start (checked between its steps)."""
    starting = starting or StartSignals()
    limit_malloc_arenas()  # before any model loads or pool thread starts
    state.notifier.status("starting")
    cfg = _with_devices(config_mod.load(config_path), *devices)
    serving = serve_settings(cfg, serve_uri)  # a bad address fails before the models load
    source = open_source(input_, cfg, realtime, wait_for_device)
    sink = open_sink(output, cfg)
    starting.check()
    state("loading models")
    runtime = load_runtime(cfg)
    starting.check()
    bundle = runtime.engines.bundle_id
    state.line(f"models ready in {runtime.ready_ms / 1000:.1f} s (bundle {bundle})")
    if env.notify_socket:  # the service starts only once a real inference worked
        state("checking health")
        report = health_check(runtime.engines)
        state.line(f"health check passed in {report.took_ms / 1000:.1f} s")
        starting.check()
    install_debug_hooks(runtime)
    earcons = Earcons(sink) if isinstance(sink, SpeakerSink) and cfg.audio.earcons else None
    # the microphone hears the speaker: barge-in, and its own sound kept out of the input
    overheard = sink if isinstance(sink, SpeakerSink) and input_ == "mic" else None
    printing = as_json or not to_journal(sys.stdout)
    if not printing:
        state.line("stdout is the journal: events (what was said) are not printed there")

    def on_event(event: Event) -> None:
        if earcons is not None:
            earcons.observe(event)
        if as_json:
            record = event_record(event)
            if record is not None:
                click.echo(json.dumps(record))
        elif printing:
            line = render(event)
            if line is not None:
                click.echo(line)

    wake_words = ", ".join(runtime.engines.wake.model_names)
    options = DaemonOptions(
        ready_status=f"listening on {source.label} for {wake_words}",
        config_path=config_path,
        overrides=lambda file_cfg: _with_devices(file_cfg, *devices),
        early_stop=lambda: starting.received,
        realtime=source.realtime,
    )
    along = ServeAlongside.of(runtime, serving)
    daemon = Daemon(
        runtime,
        source.chunks,
        sink,
        on_event,
        env=env,
        state=state,
        options=options,
        serving=along,
        overheard=overheard,
    )
    del runtime  # the daemon's now: a reload that loads new models must free these
    try:
        left = daemon.run()
    finally:
        source.close()
    if isinstance(sink, WavFileSink):
        _say(f"replies written to {output}")
    return left


DEMO_REQUEST = "Hey Jarvis. What time is it?"


def demo_request(runtime: Runtime) -> Path:
    """The spoken request, synthesised with the TTS at first use and cached."""
    path = runtime.paths.cache_dir / "demo" / "hey-jarvis-what-time-is-it.wav"
    if path.exists():
        return path
    rate = runtime.cfg.audio.rate_hz
    speech = np.concatenate(list(runtime.engines.tts.sentences(DEMO_REQUEST)))
    speech16 = resample_int16(speech, runtime.engines.tts.rate_hz, rate)
    silence = np.zeros(rate, dtype=np.int16)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_wav(path, np.concatenate([silence, speech16, silence, silence]), rate)
    return path


@click.command()
@output_file_option(
    "Where to write the spoken reply, a WAV file (default: in the cache directory).",
    deprecated="--out",
)
@click.option("--play/--no-play", default=True, help="Also play the reply if a speaker exists.")
@json_option("One JSON object with the turn: wake word, transcript, reply, stage times, file.")
@config_option()
def demo(output: Path | None, play: bool, as_json: bool, config_path: Path | None) -> None:
    """The whole loop on a built-in spoken request; no microphone needed.

    Synthesises "Hey Jarvis. What time is it?" (cached after the first run),
    runs it through wake word, endpointing, speech recognition, the skills and
    speech synthesis, prints the turn and writes the spoken reply to a WAV file.
    """
    cfg = config_mod.load(config_path)
    lines: list[str] = []
    say = lines.append if as_json else click.echo
    say("hearthvox demo: the whole voice loop on a built-in spoken request")
    runtime = load_runtime(cfg)
    say(f"  models ready in {runtime.ready_ms / 1000:.2f} s (bundle {runtime.engines.bundle_id})")
    request = demo_request(runtime)
    say(f"  request:      {DEMO_REQUEST!r} ({request})")
    reply_path = output or check_output_file(runtime.paths.cache_dir / "demo" / "reply.wav")
    sink = WavFileSink(reply_path)
    source = open_source(str(request), cfg, realtime=False)
    events: list[Event] = []
    run_loop(runtime, source, sink, events.append, command="demo")
    record: dict[str, object] = {
        "bundle": runtime.engines.bundle_id,
        "request": DEMO_REQUEST,
        "request_path": str(request),
    }
    for event in events:
        match event:
            case WakeDetected():
                wake = {"model": event.model, "t_audio_ms": event.t_audio_ms}
                record["wake"] = wake | {"score": round(event.score, 3)}
                say(
                    f"  wake word:    {event.model} at {event.t_audio_ms / 1000:.2f} s "
                    f"(score {event.score:.2f})"
                )
            case Transcript():
                record["transcript"] = event.text
                say(f"  heard:        {event.text!r}")
            case Reply(announcement=False):
                record |= {"reply": event.text, "skill": event.skill}
                say(f"  answered:     {event.text!r} (skill: {event.skill})")
            case TtsFirstAudio():
                pass
            case TurnDone():
                record |= {"outcome": event.outcome, "stages_ms": event.stages_ms}
                say(f"  stage times:  {stage_summary(event.stages_ms)}")
    if not any(isinstance(e, TurnDone) and e.outcome == "answered" for e in events):
        raise click.ClickException("the demo turn was not answered; run with -v for details")
    reply = load_wav(reply_path, cfg.audio.rate_hz)
    record |= {"output": str(reply_path), "duration_s": round(reply.duration_s, 3)}
    say(f"  reply written to {reply_path} ({reply.duration_s:.1f} s of speech)")
    played = play and have_output_device()
    if played:
        speaker = SpeakerSink(cfg.audio.output_device)
        speaker.write(reply.samples, reply.rate_hz)
        speaker.close()
    elif play:
        say("  (no speaker found, so the reply was not played)")
    if as_json:
        click.echo(json.dumps(record | {"played": played}))
