"""Fixtures of the compat tests: the live tests expect the development host's profile."""

from __future__ import annotations

import pytest

from hearthvox.compat import current_probe, load_matrix, select_profile


@pytest.fixture
def x86_avx2_host() -> None:
    """Skip (saying why) where this machine is not an x86-64 with AVX2 and 8 GB, the
    development host's profile these live tests assert on; the fixture tests cover the rest."""
    profile = select_profile(current_probe(), load_matrix()).profile
    if profile != "x86-avx2":
        pytest.skip(f"expects the development host's profile x86-avx2; this machine is {profile}")
