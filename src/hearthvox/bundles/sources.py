"""Where a bundle's objects come from: installed packages and local dirs (the artifacts'
own ``sources``), an exported bundle (tarball or directory), an HTTP(S) bundle index.

Each source stages the objects it has into the install's staging directory,
hashing them as they are written. A file whose size or sha256 differs from the
manifest is refused at once (no other source is tried for it); a source that
simply lacks a file lets the next one try.
"""

from __future__ import annotations

import contextlib
import os
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

from hearthvox.bundles.archive import TAR_ERRORS, capped_stream
from hearthvox.bundles.download import Progress, download
from hearthvox.bundles.fsutil import (
    DigestMismatch,
    file_chunks,
    read_chunks,
    read_regular,
    write_verified,
)
from hearthvox.bundles.joined import PartMissing, joined_chunks
from hearthvox.bundles.lock import Artifact, ArtifactFile, resolve_local, sha256_file
from hearthvox.bundles.manifest import MANIFEST_MAX, Manifest
from hearthvox.bundles.store import Store, Txn
from hearthvox.errors import ModelError

_OBJECT = re.compile(r"^objects/([0-9a-f]{64})$")
MANIFEST_NAME = "manifest.json"


@dataclass
class StageContext:
    manifest: Manifest
    store: Store
    txn: Txn
    others: dict[str, str] = field(default_factory=dict)  # sha256 -> "file X of bundle Y@v"
    progress: Progress = lambda n: None

    def mixed(self, actual: str) -> str:
        other = self.others.get(actual)
        return f"; that file is {other}: files mixed from two manifests" if other else ""

    def refuse(self, exc: DigestMismatch) -> ModelError:
        return ModelError(f"{exc}{self.mixed(exc.actual)}")

    def stage_chunks(self, chunks: Iterator[bytes], sha: str, what: str) -> None:
        size = self.manifest.objects()[sha]
        try:
            write_verified(self.txn.staged(sha), _counted(chunks, self.progress), sha, size, what)
        except DigestMismatch as exc:
            raise self.refuse(exc) from None


def _counted(chunks: Iterator[bytes], progress: Progress) -> Iterator[bytes]:
    for chunk in chunks:
        progress(len(chunk))
        yield chunk


class ObjectSource(Protocol):
    @property
    def label(self) -> str: ...

    def stage(self, needed: dict[str, int], ctx: StageContext) -> set[str]:
        """Stage what this source has of *needed* (sha256 -> size); return those staged."""
        ...


def _files_with(manifest: Manifest, sha: str) -> list[tuple[Artifact, ArtifactFile]]:
    return [(a, f) for a in manifest.artifacts() for f in a.files if f.sha256 == sha]


@dataclass
class ArtifactSources:
    """Each artifact's own sources, in order: ``pypi:``, ``file:``, ``https:``/``http:``."""

    label: str = "the artifacts' sources"
    problems: list[str] = field(default_factory=list)

    def stage(self, needed: dict[str, int], ctx: StageContext) -> set[str]:
        staged = set()
        for sha in needed:
            if self._one(sha, ctx):
                staged.add(sha)
        return staged

    def _one(self, sha: str, ctx: StageContext) -> bool:
        for artifact, f in _files_with(ctx.manifest, sha):
            what = f"{artifact.id}/{f.name}"
            if f.parts:  # joined from parts that other packages carry, never from `sources`
                try:
                    chunks = joined_chunks(f, what)
                except PartMissing as exc:
                    self.problems.append(str(exc))
                    continue
                ctx.stage_chunks(chunks, sha, what)
                return True
            for source in artifact.sources:
                if source.startswith(("https:", "http:")):
                    url = source.rstrip("/") + "/" + f.name
                    try:
                        _download_staged(url, sha, f.size, what, ctx)
                        return True
                    except DigestMismatch as exc:
                        raise ctx.refuse(exc) from None
                    except ModelError as exc:
                        self.problems.append(str(exc))
                    continue
                try:
                    path = resolve_local(source) / f.name
                except ModelError as exc:
                    self.problems.append(f"{what}: {exc}")
                    continue
                if not path.is_file():
                    self.problems.append(f"{what}: {path} is missing")
                    continue
                _stage_local(path, sha, f.size, f"{what} ({path})", ctx)
                return True
        return False


def _stage_local(path: Path, sha: str, size: int, what: str, ctx: StageContext) -> None:
    actual_size = path.stat().st_size
    if actual_size != size:
        actual = sha256_file(path)
        raise ModelError(
            f"{what} has {actual_size} bytes, the manifest gives {size}: refused{ctx.mixed(actual)}"
        )
    ctx.stage_chunks(file_chunks(path), sha, what)


def _download_staged(url: str, sha: str, size: int, what: str, ctx: StageContext) -> None:
    part = ctx.store.downloads / f"{sha}.part"
    try:
        download(url, part, sha, size, what, ctx.progress)
    except DigestMismatch as exc:
        raise ctx.refuse(exc) from None
    os.chmod(part, 0o444)
    os.replace(part, ctx.txn.staged(sha))


def check_members(names: list[str], ctx: StageContext, where: str) -> None:
    """An exported bundle holds one manifest and only objects that manifest names, each once."""
    seen: set[str] = set()
    for name in names:
        check_member(name, seen, ctx, where)
    if MANIFEST_NAME not in seen:
        raise ModelError(f"{where} must hold exactly one {MANIFEST_NAME}")


def check_member(name: str, seen: set[str], ctx: StageContext, where: str) -> None:
    """One entry of an exported bundle (*seen*: the entries before it, this one is added)."""
    if name in seen:
        raise ModelError(f"{where} holds {name[:80]!r} twice: refused")
    seen.add(name)
    if name == MANIFEST_NAME:
        return
    if name.endswith(".json") and "manifest" in name:
        raise ModelError(
            f"{where} holds a second manifest ({name[:80]}): files mixed from two manifests; "
            f"refused"
        )
    m = _OBJECT.match(name)
    if m is None:
        raise ModelError(f"{where} holds an unexpected entry {name[:80]!r}: refused")
    if m[1] not in ctx.manifest.objects():
        other = ctx.others.get(m[1])
        why = f"it is {other}: files mixed from two manifests" if other else "unexpected"
        raise ModelError(
            f"{where} holds object {m[1]}, which manifest {ctx.manifest.ref} does not name "
            f"({why}); refused"
        )


def _max_entries(ctx: StageContext) -> int:
    return len(ctx.manifest.objects()) + 1


@dataclass
class DirSource:
    """An exported bundle unpacked into a directory: manifest.json + objects/<sha256>."""

    root: Path

    @property
    def label(self) -> str:
        return str(self.root)

    def manifest_bytes(self) -> bytes:
        if not self.root.is_dir():
            raise ModelError(f"{self.root} is not a directory")
        return read_regular(self.root / MANIFEST_NAME, MANIFEST_MAX, "the bundle manifest")

    def stage(self, needed: dict[str, int], ctx: StageContext) -> set[str]:
        names = self._entries(_max_entries(ctx))
        check_members(names, ctx, str(self.root))
        staged = set()
        for sha, size in needed.items():
            path = self.root / "objects" / sha
            if path.is_file() and not path.is_symlink():
                _stage_local(path, sha, size, f"{ctx.manifest.describe(sha)} ({path})", ctx)
                staged.add(sha)
        return staged

    def _entries(self, cap: int) -> list[str]:
        """Every file under the directory (links and other non-directories included, so
        they are refused by name), at most *cap* of them; links to folders are not followed."""
        names: list[str] = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            here = Path(dirpath)
            for name in filenames + [d for d in dirnames if (here / d).is_symlink()]:
                rel = (here / name).relative_to(self.root).as_posix()
                path = here / name
                if path.is_symlink() or not path.is_file():
                    raise ModelError(f"{self.root}: {rel[:80]} is not a regular file: refused")
                names.append(rel)
                if len(names) > cap:
                    raise ModelError(
                        f"{self.root} holds more than {cap} files; an exported bundle holds its "
                        f"manifest and {cap - 1} objects: refused"
                    )
        return names


@dataclass
class TarSource:
    """An exported bundle: a tarball of manifest.json (first) and objects/<sha256>.

    Every member's name, type and size is checked before a byte of it is read; members
    are streamed, the manifest up to :data:`MANIFEST_MAX` bytes."""

    path: Path

    @property
    def label(self) -> str:
        return str(self.path)

    def manifest_bytes(self) -> bytes:
        with self._open() as tar:
            try:
                first = tar.next()
                if first is None or first.name != MANIFEST_NAME or not first.isfile():
                    raise ModelError(f"{self.path}: the first entry must be {MANIFEST_NAME}")
                if first.size > MANIFEST_MAX:
                    raise ModelError(
                        f"{self.path}: {MANIFEST_NAME} has {first.size} bytes, more than "
                        f"{MANIFEST_MAX}: refused"
                    )
                data = _read_member(tar, first).read(MANIFEST_MAX + 1)
            except TAR_ERRORS as exc:
                raise self._broken(exc) from None
        if len(data) != first.size:
            raise ModelError(f"{self.path} is truncated (in {MANIFEST_NAME}): refused")
        return data

    def stage(self, needed: dict[str, int], ctx: StageContext) -> set[str]:
        with self._open() as tar:
            try:
                members = self._members(tar, ctx)
                check_members([m.name for m in members], ctx, str(self.path))
                staged = set()
                for member in members:
                    m = _OBJECT.match(member.name)
                    if m is None or m[1] not in needed:
                        continue
                    what = f"{ctx.manifest.describe(m[1])} ({self.path}:{member.name})"
                    chunks = read_chunks(_read_member(tar, member), member.size)
                    ctx.stage_chunks(chunks, m[1], what)
                    staged.add(m[1])
            except TAR_ERRORS as exc:
                raise self._broken(exc) from None
        return staged

    def _members(self, tar: tarfile.TarFile, ctx: StageContext) -> list[tarfile.TarInfo]:
        """The members' headers, each checked (its name; a regular file; an object of the size
        the manifest gives; one entry per object), before any member is read."""
        wanted = ctx.manifest.objects()
        cap = _max_entries(ctx)
        members: list[tarfile.TarInfo] = []
        seen: set[str] = set()
        while (member := tar.next()) is not None:
            check_member(member.name, seen, ctx, str(self.path))
            members.append(member)
            if len(members) > cap:
                raise ModelError(
                    f"{self.path} holds more than {cap} entries; an exported bundle holds its "
                    f"manifest and {cap - 1} objects: refused"
                )
            name = member.name[:80]
            if not member.isfile():
                raise ModelError(f"{self.path}: {name!r} is not a regular file: refused")
            m = _OBJECT.match(member.name)
            if m is not None and m[1] in wanted and member.size != wanted[m[1]]:
                raise ModelError(
                    f"{self.path}: {name} has {member.size} bytes, the manifest gives "
                    f"{wanted[m[1]]}: refused"
                )
        return members

    def _broken(self, exc: BaseException) -> ModelError:
        if isinstance(exc, ModelError):
            return exc
        why = str(exc) or type(exc).__name__
        return ModelError(
            f"the bundle tarball {self.path} is truncated or damaged ({why}): refused"
        )

    @contextlib.contextmanager
    def _open(self) -> Iterator[tarfile.TarFile]:
        if not self.path.is_file():
            raise ModelError(f"{self.path} is not a regular file: refused")
        try:
            stream = capped_stream(self.path)
        except OSError as exc:
            raise ModelError(f"cannot read the bundle tarball {self.path}: {exc}") from None
        try:
            with tarfile.open(fileobj=stream, mode="r:") as tar:
                yield tar
        except TAR_ERRORS as exc:
            raise self._broken(exc) from None
        finally:
            stream.close()


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> IO[bytes]:
    fh = tar.extractfile(member)
    if fh is None:
        raise ModelError(f"{member.name[:80]} is not a regular file: refused")
    return fh


@dataclass
class IndexObjects:
    """Objects served by a bundle index: ``<objects base URL><sha256>``."""

    base_url: str

    @property
    def label(self) -> str:
        return self.base_url

    def stage(self, needed: dict[str, int], ctx: StageContext) -> set[str]:
        for sha, size in needed.items():
            _download_staged(self.base_url + sha, sha, size, ctx.manifest.describe(sha), ctx)
        return set(needed)
