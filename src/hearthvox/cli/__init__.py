"""The ``hearthvox`` command line: one click group, one module per verb family.

The library raises :class:`hearthvox.errors.HearthvoxError`; this group turns it
into a one-line message on stderr and the error's exit code. The options every
verb shares and the one spelling per meaning are in :mod:`hearthvox.cli.options`
(docs/cli.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from hearthvox import __version__
from hearthvox.cli.options import add_globals, root_params
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
def main(verbose: int, quiet: bool, as_json: bool, config_path: Path | None) -> None:
    """hearthvox: an on-device voice assistant. Nothing leaves the device.

    \b
    Try it without a microphone:   hearthvox demo
    Run on a recording:            hearthvox run --input request.wav --output reply.wav
    Listen on the microphone:      hearthvox run

    \b
    -v, -q, --json and --config mean the same before or after the verb
    (hearthvox -v hw = hearthvox hw -v). Exit statuses: 0 success, 1 other error,
    2 bad config or usage, 3 no audio device, 4 unreadable audio, 5 model files
    missing or damaged, 6 cannot write an output, 7 promotion refused (docs/cli.md).
    """


main.params.extend(root_params())


def _register() -> None:
    from hearthvox.cli.bench import bench
    from hearthvox.cli.devices import devices
    from hearthvox.cli.eval import eval_
    from hearthvox.cli.hub import hub
    from hearthvox.cli.hw import hw
    from hearthvox.cli.models import models
    from hearthvox.cli.report import report
    from hearthvox.cli.run import demo, run
    from hearthvox.cli.satellite import satellite
    from hearthvox.cli.serve import serve
    from hearthvox.cli.service import service
    from hearthvox.cli.speech import say
    from hearthvox.cli.telemetry import telemetry
    from hearthvox.cli.transcribe import transcribe
    from hearthvox.cli.wake import add_wake_command

    for command in (run, demo, say, transcribe, hw, serve, telemetry, models, bench):
        main.add_command(command)
    models.add_command(add_wake_command)
    main.add_command(service)
    main.add_command(eval_)
    main.add_command(devices)
    main.add_command(report)
    main.add_command(satellite)
    main.add_command(hub)
    add_globals(main)


_register()
