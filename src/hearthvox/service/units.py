"""The systemd units: the packaged texts, and the user unit for this installation.

Both units ship in the package data (``hearthvox/data/hearthvox.service`` for
the system, ``hearthvox/data/hearthvox-user.service`` for a user manager;
``packaging/systemd/`` links to them) with the Debian package's command,
``/opt/hearthvox/bin/hearthvox``. ``hearthvox service install`` writes the user
unit with the command of the hearthvox it runs from instead.
"""

from __future__ import annotations

import importlib.resources
import os
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

UNIT_NAME = "hearthvox.service"
PACKAGED_COMMAND = "/opt/hearthvox/bin/hearthvox"
Kind = Literal["system", "user"]
_FILES: dict[Kind, str] = {"system": "hearthvox.service", "user": "hearthvox-user.service"}


def packaged_unit(kind: Kind) -> str:
    """The unit as the Debian package installs it."""
    return (importlib.resources.files("hearthvox") / "data" / _FILES[kind]).read_text("utf-8")


def this_command() -> str:
    """How to start the hearthvox this process runs from (absolute, no PATH needed)."""
    script = Path(sys.executable).parent / "hearthvox"
    if script.is_file() and os.access(script, os.X_OK):
        return str(script)
    return f"{shlex.quote(sys.executable)} -m hearthvox"


def user_unit(command: str, environ: Mapping[str, str] | None = None) -> str:
    """The user unit starting ``command`` (and keeping ``HEARTHVOX_HOME`` if it is set)."""
    env = os.environ if environ is None else environ
    text = packaged_unit("user").replace(PACKAGED_COMMAND, command)
    home = env.get("HEARTHVOX_HOME")
    if home:
        line = f'Environment="HEARTHVOX_HOME={Path(home).expanduser().resolve()}"\n'
        text = text.replace("NotifyAccess=main\n", f"NotifyAccess=main\n{line}", 1)
    return text


def user_unit_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/systemd/user`` (``~/.config/systemd/user``)."""
    env = os.environ if environ is None else environ
    config = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "systemd" / "user"
