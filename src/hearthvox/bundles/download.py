"""HTTP(S) downloads for the model store: small documents, and resumable object downloads.

An object is downloaded into ``downloads/<sha256>.part``, hashed while it is
written. When the connection breaks, the download goes on from where it
stopped with an HTTP ``Range`` request (a few times in one run; a later run of
the same install resumes too). Only a complete file whose size and sha256 match
the manifest leaves ``downloads/``.
"""

from __future__ import annotations

import http.client
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from hearthvox import __version__
from hearthvox.bundles.fsutil import CHUNK, HashingFile, check_digest, hash_existing, step
from hearthvox.errors import ModelError

USER_AGENT = f"hearthvox/{__version__}"
_SMALL_MAX = 8 << 20
_NET_ERRORS = (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError)

Progress = Callable[[int], None]


def _request(url: str, start: int = 0) -> urllib.request.Request:
    headers = {"User-Agent": USER_AGENT}
    if start:
        headers["Range"] = f"bytes={start}-"
    return urllib.request.Request(url, headers=headers)


def _http_problem(url: str, exc: BaseException) -> ModelError:
    if isinstance(exc, urllib.error.HTTPError):
        return ModelError(f"{url}: the server answered HTTP {exc.code} {exc.reason}")
    return ModelError(f"cannot download {url}: {exc}")


def fetch_small(url: str, timeout_s: float = 30.0) -> bytes:
    """A whole document (an index, a manifest) of at most 8 MiB."""
    try:
        with urllib.request.urlopen(_request(url), timeout=timeout_s) as resp:
            data: bytes = resp.read(_SMALL_MAX + 1)
    except (*_NET_ERRORS, OSError) as exc:
        raise _http_problem(url, exc) from exc
    if len(data) > _SMALL_MAX:
        raise ModelError(f"{url} is larger than {_SMALL_MAX >> 20} MiB: refused")
    return data


def download(
    url: str,
    part: Path,
    sha256: str,
    size: int,
    what: str,
    progress: Progress = lambda n: None,
    attempts: int = 3,
    timeout_s: float = 30.0,
) -> None:
    """Download *url* into *part* (resuming what is there) and check its size and sha256."""
    out: HashingFile | None = None
    last: BaseException | None = None
    for _ in range(attempts):
        have = part.stat().st_size if part.exists() else 0
        if have > size:
            part.unlink()
            have = 0
        if have == size:
            out = _rehash(part)
            break
        try:
            out = _get(url, part, have, size, what, progress, timeout_s)
        except urllib.error.HTTPError as exc:
            if exc.code == 416:  # the range is past the end: start again
                part.unlink(missing_ok=True)
                last = exc
                continue
            raise _http_problem(url, exc) from exc
        except _NET_ERRORS as exc:
            last = exc
            continue
        if out.size == size:
            break
        last = ConnectionError(f"the server sent {out.size} of {size} bytes")
    else:
        have = part.stat().st_size if part.exists() else 0
        raise ModelError(
            f"the download of {what} from {url} was interrupted at {have} of {size} bytes "
            f"({last}); run the same command again to resume it"
        )
    try:
        check_digest(out, sha256, size, f"{what} from {url}")
    except ModelError:
        part.unlink(missing_ok=True)
        raise


def _rehash(part: Path) -> HashingFile:
    with part.open("rb") as fh:
        out = HashingFile(fh, part, part.stat().st_size)
        hash_existing(part, out)
    return out


def _get(
    url: str, part: Path, have: int, size: int, what: str, progress: Progress, timeout_s: float
) -> HashingFile:
    with urllib.request.urlopen(_request(url, have), timeout=timeout_s) as resp:
        if have and resp.status == 206:
            content_range = resp.headers.get("Content-Range", "")
            if not content_range.startswith(f"bytes {have}-"):
                raise ModelError(f"{url}: asked for bytes {have}- and got {content_range!r}")
            mode = "ab"
        else:
            have, mode = 0, "wb"  # no range support: start over
        with part.open(mode) as fh:
            out = HashingFile(fh, part, have)
            if have:
                hash_existing(part, out)
            try:
                while chunk := resp.read(min(CHUNK, size - out.size + 1)):
                    if out.size + len(chunk) > size:
                        raise ModelError(f"{what} from {url} is larger than {size} bytes: refused")
                    out.write(chunk)
                    progress(len(chunk))
            finally:
                step("download-sync")
                out.sync()  # keep what arrived for the next attempt
    return out


def partial_size(part: Path) -> int:
    try:
        return os.stat(part).st_size
    except FileNotFoundError:
        return 0
