"""Allocator settings: arenas capped, oneDNN's cache bounded (unless set), heap trimmed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from hearthvox.engines.memory import PRIMITIVE_CACHE, limit_malloc_arenas, release_free_memory

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


LOAD_AND_SAY = (
    "import os\n"
    "from hearthvox.bundles.default import default_model_paths\n"
    "from hearthvox.engines.asr import load_whisper\n"
    "load_whisper(default_model_paths().asr_dir, device='cpu', compute_type='int8', threads=1)\n"
    "print(os.environ.get('ONEDNN_PRIMITIVE_CACHE_CAPACITY'))\n"
)


def test_loading_whisper_bounds_onednns_primitive_cache_unless_the_user_set_it() -> None:
    env = {k: v for k, v in os.environ.items() if "PRIMITIVE_CACHE" not in k}
    bounded = subprocess.run(
        [sys.executable, "-c", LOAD_AND_SAY], env=env, capture_output=True, text=True
    )
    assert bounded.stdout.strip() == str(PRIMITIVE_CACHE), bounded.stderr
    chosen = subprocess.run(
        [sys.executable, "-c", LOAD_AND_SAY],
        env={**env, "ONEDNN_PRIMITIVE_CACHE_CAPACITY": "64"},
        capture_output=True,
        text=True,
    )
    assert chosen.stdout.strip() == "64", chosen.stderr
