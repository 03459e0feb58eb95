"""Giving freed memory back to the system between turns.

Decoding and synthesis allocate and free tens of megabytes per turn; glibc keeps
freed heap pages for reuse, so a long-running daemon's RSS drifts up to its
worst turn and stays there. :func:`release_free_memory` (``malloc_trim``) hands
them back; it is a no-op where the C library has no such call.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable


@functools.cache
def _trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    fn = getattr(libc, "malloc_trim", None)
    return fn if callable(fn) else None


def release_free_memory() -> bool:
    """Return freed heap memory to the system; True if the C library could."""
    trim = _trim()
    if trim is None:
        return False
    trim(0)
    return True
