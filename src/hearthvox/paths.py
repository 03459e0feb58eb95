"""Where the user's files live.

Config in ``$XDG_CONFIG_HOME/hearthvox``, the model store in
``$XDG_DATA_HOME/hearthvox``, telemetry and timers in ``$XDG_STATE_HOME/hearthvox``,
caches in ``$XDG_CACHE_HOME/hearthvox``. ``HEARTHVOX_HOME`` puts all four under one
directory (tests use a temporary one).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from hearthvox.errors import OutputError

APP = "hearthvox"


def make_output_dir(path: Path) -> Path:
    """Create an output folder the user named (with its parents). What a check ahead
    of time cannot see (a read-only or special file system, a race) is an
    :class:`OutputError` (exit 6) here, not a traceback."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot write into {path}: {exc.strerror or exc}") from None
    return path


@dataclass(frozen=True)
class Paths:
    config_dir: Path
    data_dir: Path
    state_dir: Path
    cache_dir: Path

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"


def user_paths() -> Paths:
    home = os.environ.get("HEARTHVOX_HOME")
    if home:
        root = Path(home).expanduser()
        return Paths(root / "config", root / "data", root / "state", root / "cache")
    return Paths(
        Path(platformdirs.user_config_dir(APP)),
        Path(platformdirs.user_data_dir(APP)),
        Path(platformdirs.user_state_dir(APP)),
        Path(platformdirs.user_cache_dir(APP)),
    )
