"""Fixtures for the store tests: a publisher key, a store in the private HEARTHVOX_HOME."""

from __future__ import annotations

from pathlib import Path

import pytest

from hearthvox.bundles.signing import public_text
from hearthvox.bundles.store import Store
from tests.bundles.helpers import Publisher


@pytest.fixture
def publisher() -> Publisher:
    return Publisher()


@pytest.fixture
def store(hearthvox_home: Path) -> Store:
    return Store.open(hearthvox_home / "data")


@pytest.fixture
def files_dir(tmp_path: Path) -> Path:
    """Where test artifacts live before they are installed (their file: sources)."""
    path = tmp_path / "artifacts"
    path.mkdir()
    return path


@pytest.fixture
def trusting_config(hearthvox_home: Path, publisher: Publisher) -> Path:
    """The user's config.toml, trusting the publisher's key (for CLI runs)."""
    path = hearthvox_home / "config" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    key = public_text(publisher.key.public_key())
    path.write_text(f'[models]\ntrusted_keys = ["{key}"]\ntrial_tries = 2\n')
    return path
