"""Trial and rollback rules on small bundles: a rollback (automatic or by command) lands only
on a bundle that passed its health check on this device; with none the start is refused;
a config mistake never counts against the bundle on trial.

The bundles here are too small to run, so *load* returns the model paths and *check*
stands for the health check's verdict; the store, channels and trial logic are real.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hearthvox import config as config_mod
from hearthvox.bundles.active import start_active_bundle
from hearthvox.bundles.default import ModelPaths
from hearthvox.bundles.install import install_bundle, rollback_channel
from hearthvox.bundles.store import Store
from hearthvox.config import Config
from hearthvox.errors import ConfigError, ModelError
from tests.bundles.helpers import Publisher, mark_passed, tiny_manifest


def _config(path: Path, extra: str = "") -> Config:
    path.write_text(path.read_text() + extra)
    return config_mod.load(path)


def _activate(store: Store, publisher: Publisher, files: Path, name: str, v: int, ch: str) -> None:
    m = tiny_manifest(files, name, v, ch)
    install_bundle(store, publisher.sign(m), None, ch, publisher.policy(), activate=True)


def _fails(models: ModelPaths) -> None:
    raise ModelError("health check: the speech recognition did not hear 'What time is it?'")


def _start(cfg: Config, check: object = _fails) -> str:
    models, _ = start_active_bundle(cfg, None, lambda m: m, check)  # type: ignore[arg-type]  # a check callable
    return models.bundle_id


@pytest.fixture
def stable(store: Store, publisher: Publisher, files_dir: Path) -> Store:
    _activate(store, publisher, files_dir, "home", 1, "stable")
    mark_passed(store, "stable")
    return store


def test_automatic_rollback_skips_a_bundle_never_checked_here(
    stable: Store, publisher: Publisher, files_dir: Path, trusting_config: Path
) -> None:
    cfg = _config(trusting_config)
    _activate(stable, publisher, files_dir, "home", 2, "stable")  # never started
    _activate(stable, publisher, files_dir, "home", 3, "stable")
    with pytest.raises(ModelError, match="1 start"):
        _start(cfg)
    assert _start(cfg) == "home@1"  # the last try: back to the bundle that passed here
    state = stable.read_channel("stable")
    assert str(state.current) == "home@1" and state.trial is not None
    assert state.trial.state == "failed" and str(state.trial.rolled_back_from) == "home@3"
    assert _start(cfg, check=None) == "home@1"  # the next start runs it, no check


def test_with_no_bundle_that_passed_the_start_is_refused(
    stable: Store, publisher: Publisher, files_dir: Path, trusting_config: Path
) -> None:
    cfg = _config(trusting_config, '\nchannel = "beta"\n')
    assert cfg.models.channel == "beta"
    _activate(stable, publisher, files_dir, "small", 1, "beta")
    _activate(stable, publisher, files_dir, "small", 2, "beta")
    with pytest.raises(ModelError, match="1 start"):
        _start(cfg)
    with pytest.raises(ModelError) as info:
        _start(cfg)
    message = str(info.value)
    assert info.value.exit_code == 5 and "\n" not in message
    assert "no earlier bundle that passed its health check" in message
    assert "hearthvox models install SOURCE --channel beta --activate" in message
    state = stable.read_channel("beta")
    assert str(state.current) == "small@2" and state.trial_state == "failed"
    assert state.passed == ()  # nothing was marked as checked
    with pytest.raises(ModelError, match="no earlier bundle that passed"):
        _start(cfg, check=None)  # every later start is refused too, nothing runs unchecked
    assert stable.read_channel("stable").trial_state == "passed"  # stable never moved


def test_rollback_by_command_goes_only_to_a_bundle_that_passed(
    stable: Store, publisher: Publisher, files_dir: Path
) -> None:
    pol = publisher.policy()
    _activate(stable, publisher, files_dir, "home", 2, "stable")
    _activate(stable, publisher, files_dir, "home", 3, "stable")
    with pytest.raises(ModelError, match="home@2 never passed its health check"):
        rollback_channel(stable, "stable", "home@2", pol)
    _, new = rollback_channel(stable, "stable", None, pol)
    assert str(new.current) == "home@1" and new.trial_state == "passed"


def test_a_config_error_never_counts_against_the_bundle_on_trial(
    stable: Store, publisher: Publisher, files_dir: Path, trusting_config: Path
) -> None:
    cfg = _config(trusting_config, '\n[wake]\nmodels = ["hey_nobody"]\n')
    _activate(stable, publisher, files_dir, "home", 2, "stable")
    tries = stable.read_channel("stable").trial
    for _ in range(3):
        with pytest.raises(ConfigError, match="'hey_nobody' is not a wake word") as info:
            _start(cfg)
        assert info.value.exit_code == 2
    assert stable.read_channel("stable").trial == tries  # no try used up

    def config_error_at_load(models: ModelPaths) -> ModelPaths:
        raise ConfigError("[asr] threads: 100000 is above the 2 CPUs")

    good_path = trusting_config.with_name("ok.toml")
    good_path.write_text(trusting_config.read_text().split("[wake]")[0])
    good = config_mod.load(good_path)
    with pytest.raises(ConfigError):
        start_active_bundle(good, None, config_error_at_load, lambda e: None)
    state = stable.read_channel("stable")
    assert state.trial is not None and state.trial.tries_left == tries.tries_left  # type: ignore[union-attr]  # set above
    assert _start(good, check=lambda e: None) == "home@2"
    assert stable.read_channel("stable").trial_state == "passed"
