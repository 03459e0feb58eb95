"""Reading exported bundle tarballs with bounded memory.

:func:`capped_stream` gives tarfile the archive's bytes (gzip, bzip2 and xz are
decompressed as they are read) and refuses any single read larger than
:data:`READ_MAX`: members are read in chunks, so only a header that declares a huge
size (a pax or GNU long-name header, as a small "zip bomb" can hold) asks for more.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
import zlib
from pathlib import Path
from typing import IO, cast

TAR_ERRORS = (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError, ValueError)
"""What reading a truncated or damaged archive raises."""

READ_MAX = 8 << 20
"""The most bytes tarfile may ask for in one read."""


def decompressed(path: Path) -> IO[bytes]:
    """*path* as a stream of tar bytes: gzip, bzip2 and xz are decompressed as they are read."""
    with path.open("rb") as fh:
        magic = fh.read(6)
    if magic.startswith(b"\x1f\x8b"):
        return cast(IO[bytes], gzip.GzipFile(path, "rb"))
    if magic.startswith(b"BZh"):
        return bz2.BZ2File(path, "rb")
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(path, "rb")
    return path.open("rb")


class CappedReads(io.RawIOBase):
    """A seekable stream that refuses any single read larger than :data:`READ_MAX`."""

    def __init__(self, inner: IO[bytes]) -> None:
        self.inner = inner

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0 or size > READ_MAX:
            raise tarfile.ReadError(f"an entry header declares more than {READ_MAX} bytes")
        return self.inner.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.inner.seek(offset, whence)

    def tell(self) -> int:
        return self.inner.tell()

    def close(self) -> None:
        self.inner.close()
        super().close()


def capped_stream(path: Path) -> CappedReads:
    return CappedReads(decompressed(path))
