"""The daemon's allocator settings: arenas capped unless the user chose, heap trimmed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from hearthvox.engines.memory import limit_malloc_arenas, release_free_memory

GLIBC = os.confstr("CS_GNU_LIBC_VERSION") if hasattr(os, "confstr") else None


@pytest.mark.skipif(not GLIBC, reason="glibc's mallopt and malloc_trim")
def test_arenas_are_capped_unless_the_user_set_them() -> None:
    code = "from hearthvox.engines.memory import limit_malloc_arenas as f; print(f())"
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    capped = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert capped.stdout.strip() == "True", capped.stderr
    chosen = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "MALLOC_ARENA_MAX": "4"},
        capture_output=True,
        text=True,
    )
    assert chosen.stdout.strip() == "False", chosen.stderr
    assert release_free_memory()


def test_a_cap_is_harmless_to_call_twice() -> None:
    first, second = limit_malloc_arenas(), limit_malloc_arenas()
    assert first == second
