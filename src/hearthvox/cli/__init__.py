"""The ``hearthvox`` command line: one click group, one module per verb family."""

from __future__ import annotations

import click

from hearthvox import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hearthvox")
def main() -> None:
    """hearthvox: an on-device voice assistant. Nothing leaves the device."""


def _register() -> None:
    # Each verb family lives in its own module and is added here.
    pass


_register()
