"""Giving freed memory back to the system between turns.

Decoding and synthesis allocate and free tens of megabytes per turn; glibc keeps
freed heap pages for reuse, so a long-running daemon's RSS drifts up to its
worst turn and stays there. :func:`release_free_memory` (``malloc_trim``) hands
them back; it is a no-op where the C library has no such call.

A daemon also caps glibc's malloc arenas (:func:`limit_malloc_arenas`): by default
every thread that allocates may get an arena of its own (up to 8 per core), and
memory freed in one arena is not reused by another, so each reload of the models
(loaded in new threads, run from pool threads) left tens of megabytes behind.

And every process that decodes speech bounds oneDNN's primitive cache
(:func:`bound_primitive_cache`): CTranslate2 runs Whisper's convolutions with
oneDNN on x86, which keeps one compiled primitive per input shape, and the live
decoder's input length changes with every utterance.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
from collections.abc import Callable


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None


def _trim() -> Callable[[int], int] | None:
    fn = getattr(_libc(), "malloc_trim", None)
    return fn if callable(fn) else None


M_ARENA_MAX = -8
DAEMON_ARENAS = 2
"""Arenas for a long-running process: measured over five reloads of the wake, ASR and
voice models with turns between them (in one process, 2 cores), RSS grew 110 MiB with
glibc's default and 50 MiB with 2 arenas, at no measurable cost to the engines' speed
(smaller mmap thresholds held it flat but slowed ASR by a third)."""


def limit_malloc_arenas(arenas: int = DAEMON_ARENAS) -> bool:
    """Cap glibc's malloc arenas for the threads created from now on (call before the
    models load). Left alone when ``MALLOC_ARENA_MAX`` is set (the user's choice) or
    the C library has no ``mallopt``. True when the cap was set."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    fn = getattr(_libc(), "mallopt", None)
    if not callable(fn):
        return False
    return bool(fn(M_ARENA_MAX, arenas))


PRIMITIVE_CACHE = 16
"""oneDNN primitives kept per process (oneDNN's default is 1024). Each new input length
of the encoder added one, about 0.6 MiB: RSS grew 50 MiB over 80 decodes of different
lengths in one process (and ~16 MiB/h in the two-hour soak) with the default, and
stayed within 3 MiB with 16. 16 keeps the batch decoder's fixed 30-second window and
the last few lengths; a miss costs 10-35 ms of a ~250 ms decode, which almost every
live decode already paid (its lengths step by 20 ms)."""

_PRIMITIVE_CACHE_VARS = ("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "DNNL_PRIMITIVE_CACHE_CAPACITY")


def bound_primitive_cache(entries: int = PRIMITIVE_CACHE) -> bool:
    """Cap oneDNN's primitive cache for this process. oneDNN reads the setting when it
    makes its first primitive, so this works until the first decode. Left alone when
    the user set it; True when this call set it."""
    if any(name in os.environ for name in _PRIMITIVE_CACHE_VARS):
        return False
    os.environ[_PRIMITIVE_CACHE_VARS[0]] = str(entries)
    return True


def release_free_memory() -> bool:
    """Return freed heap memory to the system; True if the C library could."""
    trim = _trim()
    if trim is None:
        return False
    trim(0)
    return True
