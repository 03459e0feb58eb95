"""Allocator settings: arenas capped, oneDNN's cache bounded (unless set), heap trimmed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from hearthvox.engines.memory import PRIMITIVE_CACHE, limit_malloc_arenas, release_free_memory

GLIBC = os.confstr("CS_GNU_LIBC_VERSION") if hasattr(os, "confstr") else None


def _said(code: str, env: dict[str, str]) -> str:
    """What ``code`` printed, run in a fresh interpreter under ``env``."""
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.skipif(not GLIBC, reason="glibc's mallopt and malloc_trim")
def test_arenas_are_capped_unless_the_user_set_them() -> None:
    code = "from hearthvox.engines.memory import limit_malloc_arenas as f; print(f())"
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    assert _said(code, env) == "True"
    assert _said(code, {**env, "MALLOC_ARENA_MAX": "4"}) == "False"
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
    assert _said(LOAD_AND_SAY, env) == str(PRIMITIVE_CACHE)
    assert _said(LOAD_AND_SAY, {**env, "ONEDNN_PRIMITIVE_CACHE_CAPACITY": "64"}) == "64"
