"""The ``hearthvox`` command line: one click group, one module per verb family.

The library raises :class:`hearthvox.errors.HearthvoxError`; this group turns it
into a one-line message on stderr and the error's exit code.
"""

from __future__ import annotations

import logging
from typing import Any

import click

from hearthvox import __version__
from hearthvox.errors import HearthvoxError


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HearthvoxError as exc:
            click.echo(f"hearthvox: error: {exc}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hearthvox")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
def main(verbose: int) -> None:
    """hearthvox: an on-device voice assistant. Nothing leaves the device.

    \b
    Try it without a microphone:   hearthvox demo
    Run on a recording:            hearthvox run --input request.wav --output reply.wav
    Listen on the microphone:      hearthvox run
    """
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="hearthvox: %(levelname)s %(name)s: %(message)s")


def _register() -> None:
    from hearthvox.cli.bench import bench
    from hearthvox.cli.devices import devices
    from hearthvox.cli.eval import eval_
    from hearthvox.cli.hw import hw
    from hearthvox.cli.models import models
    from hearthvox.cli.report import report
    from hearthvox.cli.run import demo, run
    from hearthvox.cli.serve import serve
    from hearthvox.cli.service import service
    from hearthvox.cli.speech import say
    from hearthvox.cli.telemetry import telemetry
    from hearthvox.cli.transcribe import transcribe

    for command in (run, demo, say, transcribe, hw, serve, telemetry, models, bench):
        main.add_command(command)
    main.add_command(service)
    main.add_command(eval_)
    main.add_command(devices)
    main.add_command(report)


_register()
