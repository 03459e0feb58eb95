"""Trial: a bundle whose health check fails (a wake model that does not hear its phrase) is
rolled back by itself after N starts; a good bundle passes and leaves trial."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hearthvox import config as config_mod
from hearthvox.bundles.active import open_store
from hearthvox.bundles.install import install_bundle
from hearthvox.bundles.lock import ArtifactFile, load_lock, resolve_source
from hearthvox.bundles.manifest import Stage, StageArtifact, manifest_from_lock
from hearthvox.errors import ModelError
from hearthvox.runtime import load_runtime
from tests.bundles.helpers import Publisher

REPO = Path(__file__).resolve().parents[2]


def _deaf_wake_bundle(tmp_path: Path, publisher: Publisher) -> tuple[bytes, int]:
    """The default bundle with one file swapped: the hey_jarvis model file holds the alexa
    model, so the health check's spoken "hey jarvis" is never detected."""
    lock = load_lock()
    jarvis, alexa = lock.artifact("wake/hey_jarvis"), lock.artifact("wake/alexa")
    name = jarvis.files[0].name
    folder = tmp_path / "deaf-wake"
    folder.mkdir()
    data = (resolve_source(alexa) / alexa.files[0].name).read_bytes()
    (folder / name).write_bytes(data)
    entry = ArtifactFile(name, hashlib.sha256(data).hexdigest(), len(data))
    deaf = dataclasses.replace(
        jarvis, id="wake/hey_jarvis", version="deaf", files=(entry,), sources=(folder.as_uri(),)
    )
    base = manifest_from_lock(lock)
    wake = base.stages["wake"]
    artifacts = tuple(
        StageArtifact(e.role, deaf) if e.artifact.id == "wake/hey_jarvis" else e
        for e in wake.artifacts
    )
    manifest = dataclasses.replace(
        base,
        bundle="deaf-wake",
        version=2,
        stages={**base.stages, "wake": Stage(artifacts, wake.settings)},
    )
    return publisher.sign(manifest), len(data)


def _status() -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-m", "hearthvox", "models", "status", "--json", "--channel", "stable"],
        capture_output=True, text=True, timeout=120, env=os.environ.copy(), cwd=REPO,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    row: dict[str, object] = json.loads(proc.stdout)
    return row


def test_a_bundle_that_fails_its_health_check_is_rolled_back_after_n_starts(
    tmp_path: Path,
    publisher: Publisher,
    trusting_config: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cfg = config_mod.load(trusting_config)
    assert cfg.models.trial_tries == 2
    first = load_runtime(cfg)  # first start: the default bundle, built, checked, passed
    assert first.models.bundle_id == "default-0.1.0@1"
    store = open_store()
    assert store.read_channel("stable").trial_state == "passed"

    data, config_size = _deaf_wake_bundle(tmp_path, publisher)
    result = install_bundle(store, data, None, "stable", publisher.policy(), activate=True)
    assert config_size > 0 and result.fetched == 0  # alexa's file is in the store already
    assert result.reused == len(result.manifest.objects())
    assert store.read_channel("stable").trial_state == "pending"

    with pytest.raises(ModelError) as info:
        load_runtime(cfg)  # start 1 of 2: fails, stays on trial
    message = str(info.value)
    assert "deaf-wake@2 is on trial and failed its health check" in message
    assert "was not detected" in message and "1 start(s) left" in message
    state = store.read_channel("stable")
    assert str(state.current) == "deaf-wake@2" and state.trial is not None
    assert (state.trial.state, state.trial.tries_left) == ("pending", 1)

    with caplog.at_level(logging.WARNING, logger="hearthvox.bundles.active"):
        runtime = load_runtime(cfg)  # start 2 of 2: fails, rolls back, runs the previous
    assert runtime.models.bundle_id == "default-0.1.0@1"
    assert any("automatic rollback" in r.getMessage() for r in caplog.records)
    row = _status()
    assert (row["current"], row["trial"], row["rolled_back_from"]) == (
        "default-0.1.0@1", "failed", "deaf-wake@2",
    )  # fmt: skip
    assert "failed its health check at 2 start(s)" in str(row["message"])
    assert row["previous"] is None
