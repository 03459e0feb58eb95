"""Install, activate, roll back and re-activate on two channels: the other never moves."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from hearthvox import config as config_mod
from hearthvox.bundles.active import active_model_paths
from hearthvox.bundles.install import activate_bundle, install_bundle, rollback_channel
from hearthvox.bundles.manifest import Manifest
from hearthvox.bundles.store import Store
from hearthvox.config import Config, from_dict
from hearthvox.errors import ModelError
from hearthvox.settings import bundle_config
from tests.bundles.helpers import Publisher, mark_passed, tiny_manifest, tree_hash


def _install(store: Store, publisher: Publisher, m: Manifest, activate: bool = False) -> None:
    install_bundle(store, publisher.sign(m), None, m.channel, publisher.policy(), activate=activate)


def _current(store: Store, channel: str) -> str | None:
    ref = store.read_channel(channel).current
    return str(ref) if ref else None


def test_two_channels_move_independently(
    store: Store, publisher: Publisher, files_dir: Path
) -> None:
    pol = publisher.policy()
    s1 = tiny_manifest(files_dir, "home", 1, "stable")
    b1 = tiny_manifest(files_dir, "trial", 1, "beta")
    b2 = tiny_manifest(files_dir, "trial", 2, "beta")
    _install(store, publisher, s1, activate=True)
    _install(store, publisher, b1, activate=True)
    mark_passed(store, "stable")
    mark_passed(store, "beta")
    stable_file = store.channels / "stable.json"
    stable_bytes = stable_file.read_bytes()

    _install(store, publisher, b2)  # installed, not active
    assert _current(store, "beta") == "trial@1"

    state = activate_bundle(store, "beta", "trial@2", pol)
    assert (str(state.current), str(state.previous)) == ("trial@2", "trial@1")
    assert state.trial_state == "pending" and state.highest_version == 2
    assert stable_file.read_bytes() == stable_bytes

    old, new = rollback_channel(store, "beta", None, pol)
    assert (str(old.current), str(new.current), new.previous) == ("trial@2", "trial@1", None)
    assert stable_file.read_bytes() == stable_bytes

    state = activate_bundle(store, "beta", "trial", pol)  # the highest installed version
    assert str(state.current) == "trial@2" and str(state.previous) == "trial@1"
    assert stable_file.read_bytes() == stable_bytes
    actions = ["activate", "trial-passed", "activate", "rollback", "activate"]
    assert [e["action"] for e in state.log] == actions

    # and the other way round: stable moves, beta stays
    beta_bytes = (store.channels / "beta.json").read_bytes()
    s2 = tiny_manifest(files_dir, "home", 2, "stable")
    _install(store, publisher, s2, activate=True)
    rollback_channel(store, "stable", None, pol)
    assert _current(store, "stable") == "home@1"
    assert (store.channels / "beta.json").read_bytes() == beta_bytes


def test_the_daemon_loads_the_channels_bundle_from_the_store(
    store: Store, publisher: Publisher, files_dir: Path, trusting_config: Path
) -> None:
    s1 = tiny_manifest(files_dir, "home", 1, "stable")
    b1 = tiny_manifest(files_dir, "trial", 1, "beta")
    b1.stages["asr"].settings["beam_size"] = 3
    _install(store, publisher, s1, activate=True)
    _install(store, publisher, b1, activate=True)
    base = config_mod.load(trusting_config)
    for channel, m in (("stable", s1), ("beta", b1)):
        models = dataclasses.replace(base.models, channel=channel)  # type: ignore[arg-type]  # a channel name
        cfg = dataclasses.replace(base, models=models)
        paths = active_model_paths(cfg)
        assert paths.bundle_id == m.ref
        asr = m.artifact("asr/test")
        model_bin = paths.asr_dir / "model.bin"
        assert store.root in model_bin.resolve().parents  # from the store, not a package
        source = files_dir / f"{m.bundle}-1" / "asr/test/model.bin"
        assert model_bin.read_bytes() == source.read_bytes()
        assert model_bin.resolve().name == asr.file("model.bin").sha256
        assert set(paths.wake_models) == {"test_word"}
    assert bundle_config(Config(), paths).asr.beam_size == 3  # the bundle's setting ...
    chosen = from_dict({"asr": {"beam_size": 1}})
    assert bundle_config(chosen, paths).asr.beam_size == 1  # ... unless the user chose one


def test_rollback_with_no_previous_bundle_is_refused_and_changes_nothing(
    store: Store, publisher: Publisher, files_dir: Path
) -> None:
    _install(store, publisher, tiny_manifest(files_dir, "home", 1, "stable"), activate=True)
    before = tree_hash(store.root)
    with pytest.raises(ModelError, match="no previous bundle"):
        rollback_channel(store, "stable", None, publisher.policy())
    assert tree_hash(store.root) == before


def test_rollback_to_an_earlier_bundle_of_the_history(
    store: Store, publisher: Publisher, files_dir: Path
) -> None:
    pol = publisher.policy()
    for v in (1, 2, 3):
        _install(store, publisher, tiny_manifest(files_dir, "home", v, "stable"), activate=True)
        if v == 1:
            mark_passed(store, "stable")
    _, new = rollback_channel(store, "stable", "home@1", pol)
    assert str(new.current) == "home@1" and new.highest_version == 3
    with pytest.raises(ModelError, match="lower than 3"):
        activate_bundle(store, "stable", "home@2", pol)  # only an explicit rollback goes down
    activate_bundle(store, "stable", "home@3", pol)
    assert _current(store, "stable") == "home@3"


def test_status_shows_which_bundle_a_running_daemon_uses(
    store: Store, publisher: Publisher, files_dir: Path
) -> None:
    from hearthvox.bundles.active import record_in_use
    from hearthvox.bundles.status import channel_records
    from hearthvox.paths import user_paths

    _install(store, publisher, tiny_manifest(files_dir, "home", 1, "stable"), activate=True)
    paths = user_paths()
    record = record_in_use(paths, "stable", "home@1")  # this process plays the daemon
    dead = record.with_name("999999999.json")  # a record left by a process that is gone
    dead.write_text('{"pid": 999999999, "channel": "beta", "bundle": "gone@1"}')
    rows = {r["channel"]: r for r in channel_records(store, paths, "stable")}
    assert rows["stable"]["in_use"] == "home@1" and rows["stable"]["in_use_pids"] == [os.getpid()]
    assert rows["beta"]["in_use"] is None
    record.unlink()
    assert channel_records(store, paths, "stable", "stable")[0]["in_use"] is None
