"""Durable writes for the model store: stage, hash while writing, flush, fsync, rename.

Every write goes to a temporary file on the store's file system first; only a
complete, verified and fsynced file is renamed to its final name, and the
directory is fsynced after the rename. A full disk (ENOSPC/EDQUOT) at write,
flush or fsync becomes a :class:`ModelError` that says so.

:func:`step` marks each durable step. It does nothing unless a test installs a
hook with :func:`set_step_hook` (the crash tests stop a real subprocess there and
kill it with SIGKILL).
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO

from hearthvox.errors import ModelError

CHUNK = 1 << 20
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}
_hook: Callable[[str], None] | None = None


def set_step_hook(hook: Callable[[str], None] | None) -> None:
    """Call *hook* with a label at every durable step (crash-injection tests)."""
    global _hook
    _hook = hook


def step(label: str) -> None:
    if _hook is not None:
        _hook(label)


def is_no_space(exc: OSError) -> bool:
    return exc.errno in _NO_SPACE


def no_space_error(where: Path, exc: OSError, doing: str) -> ModelError:
    return ModelError(
        f"not enough disk space in {where} while {doing} ({exc.strerror}); nothing was changed: "
        f"free some space and run the command again"
    )


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_free_space(where: Path, needed: int, margin: int = 1 << 20) -> None:
    """Refuse before writing when *where* has less than *needed* (+ a margin) bytes free."""
    free = shutil.disk_usage(where).free
    if needed + margin > free:
        raise ModelError(
            f"not enough disk space in {where}: the install needs {_mb(needed + margin)} and "
            f"{_mb(free)} is free; free some space and run the command again"
        )


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


class HashingFile:
    """An open staging file that hashes and counts what is written to it."""

    def __init__(self, fh: IO[bytes], path: Path, start_size: int = 0, label: str = "") -> None:
        self.fh = fh
        self.path = path
        self.label = label or path.name
        self.size = start_size
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> None:
        step("write")
        try:
            self.fh.write(data)
        except OSError as exc:
            if is_no_space(exc):
                raise no_space_error(self.path.parent, exc, f"writing {self.label}") from exc
            raise
        self.digest.update(data)
        self.size += len(data)

    def sync(self) -> None:
        """Flush and fsync; a full disk here is reported like one at write."""
        for doing, action in (("flushing", self.fh.flush), ("syncing", self._fsync)):
            step(doing)
            try:
                action()
            except OSError as exc:
                if is_no_space(exc):
                    where = self.path.parent
                    raise no_space_error(where, exc, f"{doing} {self.label}") from exc
                raise

    def _fsync(self) -> None:
        os.fsync(self.fh.fileno())


def hash_existing(path: Path, into: HashingFile) -> None:
    """Seed *into*'s hash with the bytes already in *path* (a resumed download)."""
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            into.digest.update(chunk)


def write_verified(dest: Path, chunks: Iterable[bytes], sha256: str, size: int, what: str) -> None:
    """Write *chunks* to the new file *dest*, fsync it, and check its size and sha256.

    Bytes past *size* are hashed (for the message) but not written. On any failure
    *dest* is removed. *what* names the file in messages.
    """
    try:
        with dest.open("xb") as fh:
            out = HashingFile(fh, dest, label=what)
            extra = 0
            for chunk in chunks:
                if extra or out.size + len(chunk) > size:
                    extra += len(chunk)
                    out.digest.update(chunk)
                    continue
                out.write(chunk)
            out.sync()
        out.size += extra
        check_digest(out, sha256, size, what)
        os.chmod(dest, 0o444)
    except BaseException:
        dest.unlink(missing_ok=True)
        raise


class DigestMismatch(ModelError):
    """A file's sha256 or size is not what the manifest gives (``actual`` is its sha256)."""

    def __init__(self, message: str, actual: str) -> None:
        super().__init__(message)
        self.actual = actual


def check_digest(out: HashingFile, sha256: str, size: int, what: str) -> None:
    actual = out.digest.hexdigest()
    if out.size != size:
        raise DigestMismatch(
            f"{what} has {out.size} bytes, the manifest gives {size}: refused", actual
        )
    if actual != sha256:
        raise DigestMismatch(
            f"{what} has sha256 {actual}, the manifest gives {sha256}: refused "
            f"(the file is corrupt or was tampered with)",
            actual,
        )


def file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        yield from read_chunks(fh)


def read_chunks(fh: IO[bytes], limit: int | None = None) -> Iterator[bytes]:
    """*fh*'s bytes in chunks; with *limit*, at most that many bytes (one more is read, so a
    source longer than it says is seen)."""
    left = None if limit is None else limit + 1
    while left is None or left > 0:
        chunk = fh.read(CHUNK if left is None else min(CHUNK, left))
        if not chunk:
            return
        if left is not None:
            left -= len(chunk)
        yield chunk


def atomic_write(dest: Path, data: bytes, staging: Path) -> None:
    """Replace *dest* with *data*: staged in *staging* (same file system), fsynced, renamed."""
    tmp = staging / f".{dest.name}.{os.getpid()}.{os.urandom(4).hex()}"
    try:
        with tmp.open("xb") as fh:
            out = HashingFile(fh, tmp)
            out.write(data)
            out.sync()
        step("rename")
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    step("fsync-dir")
    fsync_dir(dest.parent)


def read_regular(path: Path, cap: int, what: str) -> bytes:
    """The bytes of *path*, a regular file (not a link, a device or a pipe) of at most *cap*
    bytes; anything else is refused before a byte is read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ModelError(f"{what} {path} is a symbolic link, not a file: refused") from None
        raise ModelError(f"{what} {path} cannot be read: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ModelError(f"{what} {path} is not a regular file: refused")
        if st.st_size > cap:
            raise ModelError(f"{what} {path} is larger than {cap} bytes: refused")
        try:
            data = fh.read(cap + 1)
        except OSError as exc:
            raise ModelError(f"{what} {path} cannot be read: {exc.strerror}") from None
    if len(data) > cap:
        raise ModelError(f"{what} {path} is larger than {cap} bytes: refused")
    return data


def inside(path: Path, root: Path) -> bool:
    """Whether *path*, resolved (every link followed), is *root* (resolved) or under it."""
    resolved = path.resolve()
    base = root.resolve()
    return resolved == base or base in resolved.parents
