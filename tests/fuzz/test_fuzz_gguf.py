"""Property-based fuzzing of the GGUF header reader (a user's ``[llm] model`` is hostile).

Any bytes, or the real model's header with bytes changed or cut: either a header whose
KV geometry is within bounds, or one :class:`ModelError` line. Never another exception.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hearthvox.bundles.lock import load_lock, resolve_source
from hearthvox.bundles.optional import LLM_MODEL
from hearthvox.engines.gguf import KvGeometry, read_gguf_header
from hearthvox.errors import ModelError

EXAMPLES = 150


def _real_head() -> bytes:
    artifact = load_lock().artifact(LLM_MODEL)
    path = resolve_source(artifact) / artifact.files[0].name
    if not path.is_file():
        pytest.skip("the [llm] extra is not installed")
    with path.open("rb") as f:
        return f.read(8192)


def _check(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.gguf"
        path.write_bytes(data)
        try:
            header = read_gguf_header(path)
            KvGeometry.from_header(header)
        except ModelError as exc:
            assert "\n" not in str(exc)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048).map(lambda b: b"GGUF\x03\x00\x00\x00" + b))
def test_any_bytes_after_the_magic_are_a_header_or_one_error(data: bytes) -> None:
    _check(data)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(min_value=0, max_value=8191),
    st.binary(min_size=1, max_size=16),
    st.integers(min_value=8, max_value=8192),
)
def test_the_real_header_changed_or_cut_is_a_header_or_one_error(
    at: int, patch: bytes, keep: int
) -> None:
    head = bytearray(_real_head())
    head[at : at + len(patch)] = patch
    _check(bytes(head[:keep]))
