"""``hearthvox hub``: drive Wyoming satellites, one session per satellite (docs/hub.md)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

import click

from hearthvox import config as config_mod
from hearthvox.cli.options import config_option, quiet
from hearthvox.config import MAX_SATELLITES, SatelliteEntry, satellite_address
from hearthvox.engines.memory import limit_malloc_arenas
from hearthvox.errors import ConfigError
from hearthvox.hub.hub import Hub
from hearthvox.telemetry import open_session
from hearthvox.telemetry.privacy import quiet_content_loggers


def _say(msg: str) -> None:
    if not quiet():
        click.echo(f"hearthvox: {msg}", err=True)


def _satellites(uris: tuple[str, ...], cfg: config_mod.Config) -> list[SatelliteEntry]:
    """``--satellite`` URIs (their area is the address) replace ``[[hub.satellites]]``."""
    if not uris:
        listed = list(cfg.hub.satellites)
    else:
        if len(uris) > MAX_SATELLITES:
            raise ConfigError(f"at most {MAX_SATELLITES} satellites, got {len(uris)}")
        listed = []
        for uri in uris:
            host, port = satellite_address(uri)
            if any(e.uri == uri for e in listed):
                raise ConfigError(f"--satellite {uri} is given twice")
            listed.append(SatelliteEntry(uri, f"{host}:{port}"))
    if not listed:
        raise ConfigError(
            "no satellites: give --satellite tcp://HOST:PORT, or [[hub.satellites]] tables "
            "in the config (docs/hub.md)"
        )
    return listed


async def _drive(hub: Hub) -> None:
    task = asyncio.create_task(hub.run(), name="hv-hub")
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


@click.command()
@click.option(
    "--satellite",
    "satellite_uris",
    multiple=True,
    metavar="URI",
    help="A satellite to drive, tcp://HOST:PORT (repeat for more; wyoming-satellite "
    "listens on port 10700). Replaces [[hub.satellites]] of the config.",
)
@config_option()
def hub(satellite_uris: tuple[str, ...], config_path: Path | None) -> None:
    """Drive Wyoming satellites as Home Assistant does: each satellite streams its
    microphone here, the hub runs the wake word, VAD, speech-to-text, the skills and
    the voice for it, and streams the reply back to its speaker.

    \b
    Examples:
      hearthvox hub --satellite tcp://kitchen.local:10700 --satellite tcp://den.local:10700
      hearthvox hub              # the [[hub.satellites]] of the config
    \b
    One session per satellite: one that goes away is retried with backoff (up to
    [hub] reconnect_max_s) and never disturbs the others. When several satellites
    hear the same wake word within [hub] arbitration_window_ms, only the one that
    heard it best answers. The Wyoming protocol has NO authentication: keep the
    satellites on a network you trust (docs/hub.md). Ctrl-C or SIGTERM stops.
    Each satellite's turns are recorded in the local telemetry by area (unless
    [telemetry] enabled = false): see 'hearthvox telemetry summary'.
    """
    limit_malloc_arenas()  # a long-running process: before any model loads
    cfg = config_mod.load(config_path)
    satellites = _satellites(satellite_uris, cfg)
    _say("loading models ...")
    from hearthvox.runtime import load_runtime

    runtime = load_runtime(cfg)
    _say(f"models ready in {runtime.ready_ms / 1000:.1f} s (bundle {runtime.models.bundle_id})")
    quiet_content_loggers()  # the voice's debug line would print every reply
    session = open_session(runtime, "hub")  # one start record; each satellite's turns by area
    try:
        driver = Hub(
            satellites,
            runtime.engines,
            runtime.router,
            runtime.cfg,
            runtime.announcements,
            observer_for=session.observer_for if session else None,
            llm=runtime.llm,
        )
        names = ", ".join(f"{e.area} ({e.uri})" for e in satellites)
        _say(f"driving {len(satellites)} satellite(s): {names}; Ctrl-C stops")
        asyncio.run(_drive(driver))
    finally:
        if session is not None:
            session.close()  # flushes every record, on an error too
    for line in driver.summary():
        _say(line)
    _say("stopped")
