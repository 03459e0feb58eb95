"""Files that can hold user content: created 0600 in a 0700 directory.

Telemetry (with ``keep_transcripts``, what was said) and timers (labels the user
spoke) live in the state directory. :func:`private_dir` creates a directory 0700,
and tightens one that hearthvox owns (its own state directory) if an older version
left it open to others; :func:`private_file` creates a file 0600 (or tightens an
existing one) before anything is written to it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from hearthvox.paths import user_paths

DIR_MODE = 0o700
FILE_MODE = 0o600


def _ours(path: Path) -> bool:
    """hearthvox's own directories (never a folder the user pointed a file into)."""
    try:
        p = user_paths()
    except Exception:  # noqa: BLE001 - no user paths at all: nothing is known to be ours
        return False
    own = {p.state_dir, p.data_dir, p.cache_dir, p.config_dir}
    return path.resolve() in {d.resolve() for d in own}


def private_dir(path: Path) -> None:
    """Make ``path`` (and missing parents) with mode 0700; tighten it if it is ours."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    info = path.stat()
    if stat.S_IMODE(info.st_mode) & 0o077 and info.st_uid == os.getuid() and _ours(path):
        os.chmod(path, DIR_MODE)


def private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if missing; take group/other access away if not."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, FILE_MODE)
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) & 0o077:
            os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
