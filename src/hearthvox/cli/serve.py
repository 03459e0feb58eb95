"""``hearthvox serve``: the Wyoming protocol server for Home Assistant."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
import uuid
from pathlib import Path

import click

from hearthvox import config as config_mod
from hearthvox.cli.options import config_option, quiet, refuse
from hearthvox.engines.memory import limit_malloc_arenas
from hearthvox.errors import ConfigError
from hearthvox.protocol.options import ServerOptions
from hearthvox.protocol.server import (
    DEFAULT_PORT,
    DEFAULT_URI,
    Address,
    TcpAddress,
    WyomingServer,
    check_bind,
    is_loopback,
    parse_uri,
)
from hearthvox.protocol.services import Services, make_services
from hearthvox.service.notify import Notifier, ServiceEnv


def _say(msg: str) -> None:
    if not quiet():
        click.echo(f"hearthvox: {msg}", err=True)


async def _watchdog(notifier: Notifier, interval_s: float) -> None:
    """``WATCHDOG=1`` every *interval_s* from the event loop: a blocked loop stops the pings
    and the service manager restarts the server (``WatchdogSec=``)."""
    while True:
        notifier.watchdog()
        await asyncio.sleep(interval_s)


async def _serve(
    services: Services,
    address: Address,
    options: ServerOptions,
    zeroconf_name: str | None,
    env: ServiceEnv,
) -> None:
    server = WyomingServer(services, address, options)
    bound = await server.start()
    announcement = None
    notifier = Notifier(env.notify_socket)
    pinger = None
    try:
        if zeroconf_name is not None and isinstance(bound, TcpAddress):
            from hearthvox.protocol.zeroconf import Announcement

            announcement = Announcement(zeroconf_name, bound.host, bound.port)
            await announcement.start()
            _say(f"announced as {zeroconf_name!r} over mDNS ({announcement.host}:{bound.port})")
        wake = ", ".join(services.wake_names)
        _say(f"serving Wyoming on {bound.uri()} (asr, tts, wake: {wake}); Ctrl-C stops")
        notifier.ready(f"serving Wyoming on {bound.uri()}")
        if env.watchdog_s is not None and notifier.enabled:
            pinger = asyncio.create_task(_watchdog(notifier, env.watchdog_s / 2), name="hv-wd")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        _say("stopping")
        notifier.stopping("stopping")
    finally:
        if pinger is not None:
            pinger.cancel()
            await asyncio.gather(pinger, return_exceptions=True)
        if announcement is not None:
            with contextlib.suppress(Exception):
                await announcement.close()
        await server.close()
        notifier.close()


@click.command()
@click.option(
    "--uri",
    default=DEFAULT_URI,
    show_default=True,
    help=f"Where to listen: tcp://HOST:PORT (port 0 picks a free one) or unix://PATH. "
    f"The default port, {DEFAULT_PORT}, is clear of the Wyoming services' usual ones "
    "(10200, 10300, 10400, 10700).",
)
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Allow a non-loopback address. The Wyoming protocol has NO authentication: "
    "anyone who can reach the port can use the models.",
)
@click.option(
    "--zeroconf",
    is_flag=True,
    help="Announce the server over mDNS for Home Assistant discovery "
    "(needs --allow-remote and pip install 'hearthvox[zeroconf]').",
)
@click.option(
    "--zeroconf-name",
    default=None,
    help="Name to announce, with --zeroconf (default: hearthvox-<id>).",
)
@click.option(
    "--wake-model",
    "wake_models",
    multiple=True,
    help="Wake word model to serve (repeat for more); default: [wake] models from the config.",
)
@click.option(
    "--transcript-streaming/--no-transcript-streaming",
    default=True,
    show_default=True,
    help="Send transcript-start/-chunk/-stop around the transcript (per pause in the speech).",
)
@click.option(
    "--max-connections",
    type=click.IntRange(1, 1024),
    default=32,
    show_default=True,
    help="Clients served at once; one more is refused until another leaves.",
)
@config_option()
def serve(
    uri: str,
    allow_remote: bool,
    zeroconf: bool,
    zeroconf_name: str | None,
    wake_models: tuple[str, ...],
    transcript_streaming: bool,
    max_connections: int,
    config_path: Path | None,
) -> None:
    """Serve speech-to-text, text-to-speech and wake word detection over the
    Wyoming protocol, for Home Assistant's Wyoming integration.

    \b
    Listens on loopback by default. The protocol has no authentication or
    encryption: only --allow-remote makes it listen on other addresses.
    \b
    Examples:
      hearthvox serve                                  # tcp://127.0.0.1:10550
      hearthvox serve --uri unix:///run/user/1000/hearthvox.sock
      hearthvox serve --uri tcp://0.0.0.0:10550 --allow-remote --zeroconf
    \b
    Under systemd (hearthvox-serve.service) it says READY=1 once it listens and
    pings the watchdog while its event loop runs.
    """
    limit_malloc_arenas()  # a long-running process: before any model loads
    try:
        address = parse_uri(uri)
        check_bind(address, allow_remote)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--uri") from None
    announce_as = None
    if zeroconf_name is not None and not zeroconf:
        raise refuse("--zeroconf-name is for --zeroconf")
    if zeroconf:
        if not isinstance(address, TcpAddress) or is_loopback(address.host):
            raise click.BadParameter(
                "--zeroconf announces a network address: listen on one with --uri "
                f"tcp://0.0.0.0:{DEFAULT_PORT} --allow-remote",
                param_hint="--zeroconf",
            )
        from hearthvox.protocol.zeroconf import zeroconf_module

        zeroconf_module()  # fail now, not after loading the models
        announce_as = zeroconf_name or f"hearthvox-{uuid.getnode():012x}"
    env = ServiceEnv.take()  # NOTIFY_SOCKET & co, kept from the processes started below
    cfg = config_mod.load(config_path)
    if wake_models:
        cfg = dataclasses.replace(cfg, wake=dataclasses.replace(cfg.wake, models=wake_models))
    _say("loading models ...")
    from hearthvox.runtime import load_runtime

    runtime = load_runtime(cfg)
    services = make_services(
        runtime.engines, runtime.models, runtime.cfg, transcript_streaming=transcript_streaming
    )
    _say(f"models ready in {runtime.ready_ms / 1000:.1f} s (bundle {runtime.models.bundle_id})")
    options = ServerOptions(max_connections=max_connections)
    asyncio.run(_serve(services, address, options, announce_as, env))
