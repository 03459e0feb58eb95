"""Fixtures for the eval tests: one eval cache per session (synthesised clips, results),
the quick eval set built from the shared corpus, and the default bundle's quick result."""

from __future__ import annotations

from pathlib import Path

import pytest

from hearthvox.bundles.default import default_model_paths
from hearthvox.config import Config
from hearthvox.evaluation.evalset import EvalSet
from hearthvox.evaluation.evaluate import EvalOptions, evaluate, prepare_set, target_for
from hearthvox.evaluation.metrics import EvalResult


@pytest.fixture(scope="session")
def eval_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shared by every eval test of the session: the voice's clips are synthesised once."""
    return tmp_path_factory.mktemp("eval-cache")


@pytest.fixture(scope="session")
def quick_options(corpus_dir: Path, eval_cache: Path) -> EvalOptions:
    return EvalOptions(corpus=corpus_dir, cache_dir=eval_cache, quick=True)


@pytest.fixture(scope="session")
def quick_set(quick_options: EvalOptions) -> EvalSet:
    return prepare_set(quick_options, Config())


@pytest.fixture(scope="session")
def default_result(quick_set: EvalSet, quick_options: EvalOptions) -> EvalResult:
    """The default bundle (from the installed packages) on the quick set, run fresh."""
    return evaluate(target_for(default_model_paths(), Config()), quick_set, quick_options)


@pytest.fixture
def eval_config(hearthvox_home: Path, eval_cache: Path, corpus_dir: Path) -> Path:
    """The user's config.toml, pointing the eval at the session's cache and the corpus."""
    path = hearthvox_home / "config" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'[eval]\ncache_dir = "{eval_cache}"\ncorpus = "{corpus_dir}"\n')
    return path
