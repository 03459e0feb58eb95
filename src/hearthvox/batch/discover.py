"""Finding the recordings under the paths a user gives, and naming their outputs.

A file given by name is taken whatever its extension (it may still fail to
decode). A folder is searched recursively for the extensions in
:data:`AUDIO_EXTENSIONS`; hidden files and folders, and the output folder itself,
are left out. A file whose path is not valid UTF-8 (it cannot be written into a
transcript, a manifest or JSON) is reported as failed; the rest go on. Each input
gets an output *stem*: its path relative to the folder it
was found in, without the extension (``talks/day1/keynote.mp3`` under ``talks`` ->
``day1/keynote``); two inputs that would share a stem keep their extensions
(``a.wav`` and ``a.mp3`` -> ``a.wav`` and ``a.mp3``), and the same name from two
arguments is numbered (``x/a.wav``, ``y/a.wav`` -> ``a``, ``a-2``).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

AUDIO_EXTENSIONS = frozenset(
    {".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".mp4", ".aac", ".webm", ".wma"}
)


@dataclass(frozen=True)
class Input:
    path: Path
    """As found (the user's argument joined with the path under it)."""
    stem: PurePosixPath
    """Output name without extension, relative to the output folder."""


@dataclass(frozen=True)
class Missing:
    path: Path
    reason: str


def printable(path: Path | str) -> str:
    """``path`` as text that can be printed and written anywhere (undecodable bytes as \\xNN)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _utf8(path: Path) -> bool:
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:  # os.walk keeps undecodable bytes as lone surrogates
        return False
    return True


_NOT_UTF8 = (
    "the file name is not valid UTF-8, so its transcript cannot be named or recorded; "
    "rename it (e.g. `convmv -f latin1 -t utf-8 --notest FILE`)"
)


def _walk(folder: Path, skip: Path | None) -> list[Path]:
    found: list[Path] = []
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".") and (skip is None or (here / d).resolve() != skip)
        )
        for name in sorted(files):
            if not name.startswith(".") and Path(name).suffix.lower() in AUDIO_EXTENSIONS:
                found.append(here / name)
    return found


_NOT_REGULAR = "not a regular file (a device, a pipe, a socket); give a recording's file"


def discover(paths: list[Path], out_dir: Path | None = None) -> tuple[list[Input], list[Missing]]:
    """Inputs in a stable order (arguments in order, folders sorted), and the paths not found."""
    skip = out_dir.resolve() if out_dir is not None else None
    pairs: list[tuple[Path, PurePosixPath]] = []
    missing: list[Missing] = []
    seen: set[Path] = set()
    for arg in paths:
        if arg.is_dir():
            entries = [(p, PurePosixPath(p.relative_to(arg).as_posix())) for p in _walk(arg, skip)]
            if not entries:
                missing.append(Missing(arg, "folder holds no recordings"))
        elif arg.is_file():
            entries = [(arg, PurePosixPath(arg.name))]
        elif arg.exists():
            missing.append(Missing(arg, _NOT_REGULAR))
            continue
        else:
            missing.append(Missing(arg, "no such file or folder; check the path"))
            continue
        for path, rel in entries:
            if not _utf8(path):
                missing.append(Missing(path, _NOT_UTF8))
                continue
            if not path.is_file():  # a pipe in a folder would block its decoder
                missing.append(Missing(path, _NOT_REGULAR))
                continue
            real = path.resolve()
            if real not in seen:
                seen.add(real)
                pairs.append((path, rel))
    return _name(pairs), missing


def _name(pairs: list[tuple[Path, PurePosixPath]]) -> list[Input]:
    bare = Counter(rel.with_suffix("") for _, rel in pairs)
    stems = [rel.with_suffix("") if bare[rel.with_suffix("")] == 1 else rel for _, rel in pairs]
    # the same name from two arguments (x/a.wav, y/a.wav): number the later ones
    taken: Counter[PurePosixPath] = Counter()
    inputs: list[Input] = []
    for (path, _), stem in zip(pairs, stems, strict=True):
        taken[stem] += 1
        if taken[stem] > 1:
            stem = stem.with_name(f"{stem.name}-{taken[stem]}")
        inputs.append(Input(path, stem))
    return inputs
