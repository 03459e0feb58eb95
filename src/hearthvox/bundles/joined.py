"""Reading a joined file's parts (see :mod:`hearthvox.bundles.parts`) from their sources.

Every part is located and checked before a byte of any part is read: its source must
resolve (the package installed at the pinned version), the part must be a regular file
inside that source's directory (a link out of it is refused), and its size must be the
pinned one. The parts are then streamed in order; each part's sha256 is checked when its
last byte has been read, and the consumer (the store's staging, which hashes what it
writes) checks the joined file's own size and sha256. A caller therefore never sees the
joined bytes of a missing, truncated, longer or altered part as a good file.

:func:`check_files` checks every file of an artifact, joined or not.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from hearthvox.bundles.fsutil import CHUNK, DigestMismatch, inside
from hearthvox.bundles.lock import Artifact, ArtifactFile, resolve_local, sha256_file
from hearthvox.bundles.parts import FilePart
from hearthvox.errors import ModelError


class PartMissing(ModelError):
    """A part's package or file is not there (nothing is wrong with what is there)."""


@dataclass(frozen=True)
class LocatedPart:
    part: FilePart
    path: Path


def locate_part(part: FilePart, what: str) -> LocatedPart:
    """*part*'s path, checked: inside its source directory, a regular file, the pinned size."""
    try:
        root = resolve_local(part.source)
    except ModelError as exc:
        raise PartMissing(f"{what}: part {part.name}: {exc}") from None
    path = root / part.name
    if not path.exists() and not path.is_symlink():
        raise PartMissing(f"{what}: part {path} is missing")
    if not inside(path, root):
        raise ModelError(f"{what}: part {path} leaves its source directory {root}: refused")
    st = path.lstat()
    if not stat.S_ISREG(st.st_mode):  # a link, a folder, a device or a pipe
        raise ModelError(f"{what}: part {path} is not a regular file: refused")
    if st.st_size != part.size:
        raise ModelError(
            f"{what}: part {path} has {st.st_size} bytes, models.lock gives {part.size}: "
            f"refused (the part is truncated, altered or from another release)"
        )
    return LocatedPart(part, path)


def joined_chunks(f: ArtifactFile, what: str) -> Iterator[bytes]:
    """The bytes of the joined file *f*: every part is located and checked first (raises
    :class:`PartMissing` or ModelError here), then read lazily, part by part."""
    if not f.parts:
        raise ModelError(f"{what} is not a file joined from parts")
    located = [locate_part(p, what) for p in f.parts]
    return _stream(located, what)


def _stream(located: list[LocatedPart], what: str) -> Iterator[bytes]:
    for lp in located:
        digest = hashlib.sha256()
        left = lp.part.size
        try:
            fd = os.open(lp.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            raise ModelError(f"{what}: part {lp.path} cannot be read: {exc.strerror}") from None
        with os.fdopen(fd, "rb") as fh:
            while left > 0 and (chunk := fh.read(min(CHUNK, left))):
                left -= len(chunk)
                digest.update(chunk)
                yield chunk
            grew = fh.read(1)
        if left or grew:
            raise ModelError(f"{what}: part {lp.path} changed size while it was read: refused")
        actual = digest.hexdigest()
        if actual != lp.part.sha256:
            raise DigestMismatch(
                f"{what}: part {lp.path} has sha256 {actual}, models.lock gives "
                f"{lp.part.sha256}: refused (the part is corrupt or was tampered with)",
                actual,
            )


def check_joined(artifact: Artifact, f: ArtifactFile) -> str:
    """Read every part of *f* and check it and the joined whole against the pins; the
    joined sha256 (ModelError on any difference)."""
    what = f"{artifact.id}/{f.name}"
    digest = hashlib.sha256()
    size = 0
    for chunk in joined_chunks(f, what):
        digest.update(chunk)
        size += len(chunk)
    actual = digest.hexdigest()
    if (size, actual) != (f.size, f.sha256):
        raise ModelError(
            f"{what}: the joined parts have sha256 {actual} ({size} bytes), models.lock gives "
            f"{f.sha256} ({f.size} bytes): refused"
        )
    return actual


def check_files(artifact: Artifact, root: Path, full_hash: bool) -> None:
    """Check every file of *artifact* under *root*: size always, sha256 when *full_hash*.

    A file joined from parts is not under *root*: its parts are checked instead (located and
    sized; with *full_hash* also read, each part and the joined whole hashed)."""
    for f in artifact.files:
        if f.parts:
            if full_hash:
                check_joined(artifact, f)
            else:
                for part in f.parts:
                    locate_part(part, f"model {artifact.id!r}: {f.name}")
            continue
        path = root / f.name
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise ModelError(f"model {artifact.id!r}: file {path} is missing") from None
        except OSError as exc:
            raise ModelError(f"model {artifact.id!r}: cannot read {path}: {exc}") from exc
        if size != f.size:
            raise ModelError(
                f"model {artifact.id!r}: {path} has size {size} bytes, expected {f.size} "
                f"(models.lock); the file may be tampered with or corrupt"
            )
        if full_hash:
            try:
                actual = sha256_file(path)
            except OSError as exc:
                raise ModelError(f"model {artifact.id!r}: cannot read {path}: {exc}") from exc
            if actual != f.sha256:
                raise ModelError(
                    f"model {artifact.id!r}: {path} has sha256 {actual}, expected {f.sha256} "
                    f"(models.lock); the file may be tampered with or corrupt"
                )
