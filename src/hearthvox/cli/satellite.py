"""``hearthvox satellite``: this device as a Wyoming satellite (docs/satellite.md)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import click

from hearthvox import config as config_mod
from hearthvox.audio.sinks import Sink, SpeakerSink
from hearthvox.bundles.active import active_model_paths
from hearthvox.cli.options import audio_io_options, config_option, quiet, refuse
from hearthvox.cli.run import Source, open_sink, open_source
from hearthvox.config import Config
from hearthvox.engines import load_wake
from hearthvox.engines.vad import SileroVad
from hearthvox.errors import ConfigError
from hearthvox.protocol.server import TcpAddress, check_bind, is_loopback, parse_uri
from hearthvox.satellite.ear import Ear
from hearthvox.satellite.info import satellite_info
from hearthvox.satellite.options import DEFAULT_PORT, DEFAULT_URI, SatelliteOptions
from hearthvox.satellite.player import Player
from hearthvox.satellite.server import SatelliteServer
from hearthvox.satellite.session import Satellite
from hearthvox.service.startsignals import StartSignals, StoppedBeforeStart
from hearthvox.settings import engine_config

log = logging.getLogger(__name__)
_MAX_NAME = 64


def _say(msg: str) -> None:
    if not quiet():
        click.echo(f"hearthvox: {msg}", err=True)


def _address(uri: str, allow_remote: bool) -> TcpAddress:
    try:
        address = parse_uri(uri)
        if not isinstance(address, TcpAddress):
            raise ConfigError(
                f"{uri!r}: a satellite listens on tcp://HOST:PORT (Home Assistant adopts it "
                "by host and port)"
            )
        check_bind(address, allow_remote, "pass --allow-remote (or [satellite] allow_remote)")
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--uri") from None
    return address


@dataclass
class _Plan:
    """Everything the running satellite is made of, decided before the loop starts."""

    ear: Ear
    sink: Sink
    options: SatelliteOptions
    source: Source
    address: TcpAddress
    live: bool
    """The input is heard as it comes (the microphone, --realtime)."""
    from_start: bool
    """A recording: it starts at the first run-satellite."""
    announce_as: str | None
    starting: StartSignals


async def _serve(plan: _Plan) -> None:
    sink, options, ear = plan.sink, plan.options, plan.ear
    cues = sink if isinstance(sink, SpeakerSink) else None

    def player(on_played: Callable[[int], Awaitable[None]]) -> Player:
        return Player(sink, options.max_reply_s, on_played)

    sat = Satellite(ear, player, options, live=plan.live, cues=cues, from_start=plan.from_start)
    words = ear.wake_words if options.wake_on == "local" else []
    info = satellite_info(options.name, options.area, words).event()
    server = SatelliteServer(sat, plan.address, info, options)
    bound = await server.start()
    announcement = None
    audio = asyncio.create_task(sat.run_audio(plan.source.chunks), name="hv-sat-audio")
    playing = asyncio.create_task(sat.player.run(), name="hv-sat-player")
    try:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if plan.starting.received is not None:  # a stop while the models loaded
            stop.set()
        if plan.announce_as is not None:
            from hearthvox.protocol.zeroconf import Announcement

            announcement = Announcement(plan.announce_as, bound.host, bound.port)
            await announcement.start()
            _say(f"announced as {plan.announce_as!r} over mDNS ({announcement.host}:{bound.port})")
        what = ", ".join(ear.wake_words) if options.wake_on == "local" else "the server's"
        _say(
            f"satellite listening on {bound.uri()} (wake word: {what}; input: "
            f"{plan.source.label}); waiting for Home Assistant or a hearthvox hub; Ctrl-C stops"
        )
        await stop.wait()
        _say("stopping")
    finally:
        for task in (audio, playing):
            task.cancel()
        await asyncio.gather(audio, playing, return_exceptions=True)
        if announcement is not None:
            with contextlib.suppress(Exception):
                await announcement.close()
        await server.close()


def _config(
    config_path: Path | None, wake_models: tuple[str, ...], device: tuple[str | None, str | None]
) -> Config:
    cfg = config_mod.load(config_path)
    if wake_models:
        cfg = dataclasses.replace(cfg, wake=dataclasses.replace(cfg.wake, models=wake_models))
    input_device, output_device = device
    audio = cfg.audio
    if input_device is not None:
        audio = dataclasses.replace(audio, input_device=input_device)
    if output_device is not None:
        audio = dataclasses.replace(audio, output_device=output_device)
    return dataclasses.replace(cfg, audio=audio)


@click.command()
@click.option(
    "--uri",
    default=None,
    metavar="tcp://HOST:PORT",
    help=f"Where Home Assistant or a hub connects [default: [satellite] uri, else {DEFAULT_URI}]. "
    f"Port {DEFAULT_PORT} is the satellites' usual one; port 0 picks a free one.",
)
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Allow a non-loopback address. The Wyoming protocol has NO authentication: "
    "anyone who can reach the port can hear what follows the wake word and make it play audio.",
)
@click.option("--name", default=None, help="The satellite's name [default: hearthvox-HOSTNAME].")
@click.option("--area", default=None, help="The area (room) it is in, e.g. kitchen.")
@audio_io_options(
    "Where replies are played: the speaker, a WAV file (all replies, written at exit), "
    "or nowhere (the server is then asked for text only: end stage 'handle').",
)
@click.option(
    "--realtime",
    is_flag=True,
    help="Feed a file at the speed of a microphone, as live input (barge-in works over it).",
)
@click.option(
    "--wake-model",
    "wake_models",
    multiple=True,
    help="Wake word to listen for (repeat for more); default: [wake] models.",
)
@click.option(
    "--wake-on",
    type=click.Choice(["local", "server"]),
    default="local",
    show_default=True,
    help="local: the wake word is found here and only the command is sent; server: "
    "everything heard is streamed and the server finds the wake word (a hearthvox hub).",
)
@click.option("--input-device", metavar="INDEX|NAME", help="Microphone, with --input mic.")
@click.option("--output-device", metavar="INDEX|NAME", help="Speaker, with --output speaker.")
@click.option(
    "--zeroconf",
    is_flag=True,
    help="Announce it over mDNS (needs --allow-remote and pip install 'hearthvox[zeroconf]').",
)
@click.option("--zeroconf-name", default=None, help="Name to announce, with --zeroconf.")
@config_option()
def satellite(
    uri: str | None,
    allow_remote: bool,
    name: str | None,
    area: str | None,
    input_: str,
    output: str,
    realtime: bool,
    wake_models: tuple[str, ...],
    wake_on: str,
    input_device: str | None,
    output_device: str | None,
    zeroconf: bool,
    zeroconf_name: str | None,
    config_path: Path | None,
) -> None:
    """Be a Wyoming satellite that Home Assistant or a hearthvox hub adopts.

    The wake word and the end of the command are found here; the command's
    audio goes to the server that adopted the satellite, and its spoken reply is
    played here (earcons as [audio] earcons; the wake word over a reply stops it).
    Nothing is sent before the wake word. With --wake-on server (what a hearthvox
    hub needs) everything heard is streamed and the server finds the wake word.

    \b
    Examples:
      hearthvox satellite                                   # tcp://127.0.0.1:10700
      hearthvox satellite --uri tcp://0.0.0.0:10700 --allow-remote --area kitchen
      hearthvox satellite --uri tcp://0.0.0.0:10700 --allow-remote --wake-on server  # hub
      hearthvox satellite --input request.wav --output reply.wav --uri tcp://127.0.0.1:0
    \b
    One server connection at a time: a new one replaces the old. Listens on
    loopback by default; the protocol has no authentication or encryption, so
    only --allow-remote (or [satellite] allow_remote) makes it listen on other
    addresses. SIGTERM or Ctrl-C stops it (exit status 0).
    """
    cfg = _config(config_path, wake_models, (input_device, output_device))
    sat = cfg.satellite
    address = _address(uri or sat.uri or DEFAULT_URI, allow_remote or sat.allow_remote)
    name = name if name is not None else sat.name or f"hearthvox-{socket.gethostname()}"
    area = area if area is not None else sat.area
    for what, value in (("--name", name), ("--area", area)):
        if len(value) > _MAX_NAME or any(ord(c) < 32 for c in value):
            raise refuse(f"{what} must be at most {_MAX_NAME} characters, no control characters")
    if input_ != "mic" and input_device is not None:
        raise refuse(f"--input-device is for --input mic, not {input_}")
    if input_ == "mic" and realtime:
        raise refuse("--realtime is for a file or stdin: the microphone is live already")
    if wake_on == "server" and input_ != "mic" and not realtime:
        raise refuse("--wake-on server streams the input as it comes: give --realtime with a file")
    announce_as = None
    if zeroconf_name is not None and not zeroconf:
        raise refuse("--zeroconf-name is for --zeroconf")
    if zeroconf:
        if is_loopback(address.host):
            raise click.BadParameter(
                "--zeroconf announces a network address: listen on one with --uri "
                f"tcp://0.0.0.0:{DEFAULT_PORT} --allow-remote",
                param_hint="--zeroconf",
            )
        from hearthvox.protocol.zeroconf import zeroconf_module

        zeroconf_module()  # fail now, not after loading the models
        announce_as = zeroconf_name or f"hearthvox-satellite-{uuid.getnode():012x}"
    options = SatelliteOptions(
        name=name,
        area=area,
        wake_on=wake_on,
        end_stage="handle" if output == "none" else "tts",
    )
    starting = StartSignals().install()  # a stop while the models load is not lost
    try:
        _start(cfg, (input_, output, realtime), options, announce_as, address, starting)
    except StoppedBeforeStart as stop:
        _say(f"stopped ({stop.signal.name} before the start had finished)")
    except KeyboardInterrupt:  # a second Ctrl-C while the models loaded
        _say("stopped")
    finally:
        starting.restore()


def _start(
    cfg: Config,
    io: tuple[str, str, bool],
    options: SatelliteOptions,
    announce_as: str | None,
    address: TcpAddress,
    starting: StartSignals,
) -> None:
    input_, output, realtime = io
    _say("loading the wake word and VAD models ...")
    models = active_model_paths(cfg)  # the configured channel's bundle, checked
    ecfg = engine_config(cfg, models)  # user > bundle > matrix > default
    ear = Ear(
        load_wake(models, ecfg), SileroVad(models.vad, threads=ecfg.vad.threads),
        ecfg.endpoint, ecfg.vad.threshold,
    )  # fmt: skip
    options = dataclasses.replace(
        options,
        barge_in=ecfg.audio.barge_in,
        barge_in_threshold=ecfg.audio.barge_in_threshold,
        earcons=ecfg.audio.earcons,
    )
    starting.check()
    sink = open_sink(output, ecfg)
    source = open_source(input_, ecfg, realtime)
    live = input_ == "mic" or realtime
    plan = _Plan(ear, sink, options, source, address, live, input_ != "mic", announce_as, starting)
    try:
        asyncio.run(_serve(plan))
    except BaseException:
        sink.abort()
        raise
    finally:
        source.close()
    sink.close()
