"""``hearthvox models add-wake``: a wake word from an ONNX file becomes a new signed bundle
on beta that wakes on its phrase; files that are not openWakeWord classifiers are refused.

openWakeWord 0.4.0 ships ``hey_marvin`` (and ``timer``, ``weather``) beside the models of
the default bundle: ``hey_marvin`` stands in for a model a user trained.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from hearthvox.audio.wavio import write_wav
from hearthvox.bundles.default import default_model_paths
from hearthvox.config import Config, from_dict
from hearthvox.engines import Engines
from hearthvox.settings import bundle_config
from tests.conftest import hearthvox_cli, silence, speak16

OWW = default_model_paths().wake_models["hey_jarvis"].parent


def _status(channel: str) -> dict[str, object]:
    proc = hearthvox_cli("models", "status", "--json", "--channel", channel)
    assert proc.returncode == 0, proc.stderr
    record: dict[str, object] = json.loads(proc.stdout.splitlines()[0])
    return record


def test_added_wake_word_is_a_bundle_on_beta_that_wakes_on_its_phrase(
    engines: Engines, tmp_path: Path, hearthvox_home: Path
) -> None:
    model = tmp_path / "hey_marvin.onnx"
    shutil.copyfile(OWW / "hey_marvin_v0.1.onnx", model)
    proc = hearthvox_cli(
        "models",
        "add-wake",
        "hey_marvin",
        str(model),
        "--license",
        "CC-BY-NC-SA-4.0",
        "--threshold",
        "0.6",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    added = json.loads(proc.stdout)
    assert added["channel"] == "beta" and added["wake_model"] == "hey_marvin"
    assert added["frames"] == 16 and added["silence_score"] < 0.6

    beta, stable = _status("beta"), _status("stable")
    assert beta["current"] == added["bundle"] and beta["trial"] == "pending"
    assert stable["current"] == added["from"]  # stable does not move

    listed = [
        json.loads(line) for line in hearthvox_cli("models", "list", "--json").stdout.splitlines()
    ]
    new = next(r for r in listed if r["bundle"] == added["bundle"])
    assert "wake/hey_marvin" in new["artifacts"]["wake"]
    assert new["settings"]["wake"] == {
        "models": ["hey_jarvis", "hey_marvin"],
        "thresholds": {"hey_marvin": 0.6},
    }

    request = tmp_path / "marvin.wav"
    audio = [silence(1.0), speak16(engines, "Hey Marvin. What time is it?"), silence(2.5)]
    write_wav(request, np.concatenate(audio), 16000)
    config = tmp_path / "beta.toml"
    config.write_text('[models]\nchannel = "beta"\n')
    proc = hearthvox_cli(
        "run", "--input", str(request), "--output", "none", "--json", "--config", str(config)
    )
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    wakes = [e for e in events if e["event"] == "wake"]
    assert [w["model"] for w in wakes] == ["hey_marvin"], events
    assert wakes[0]["score"] >= 0.6
    replies = [e for e in events if e["event"] == "reply"]
    assert replies and replies[0]["skill"] == "time", events
    assert _status("beta")["trial"] == "passed"  # the start's health check passed

    # the file is in the store: moving the original away changes nothing
    model.unlink()
    assert hearthvox_cli("models", "verify").returncode == 0


@pytest.mark.parametrize(
    ("name", "file", "says"),
    [
        ("timer", "timer_v0.1.onnx", "gives one score [1, 1]"),  # a 7-class model
        ("mel", "melspectrogram.onnx", "an openWakeWord classifier takes"),
        ("alexa", "alexa_v0.1.onnx", "already has a wake model 'alexa'"),
        ("Hey", "alexa_v0.1.onnx", "lower-case letters"),
    ],
)
def test_files_that_are_not_a_new_classifier_are_refused(
    tmp_path: Path, name: str, file: str, says: str
) -> None:
    proc = hearthvox_cli("models", "add-wake", name, str(OWW / file), "--license", "MIT")
    assert proc.returncode == 5, proc.stderr
    assert says in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert _status("beta")["current"] is None  # nothing was installed


def test_garbage_oversized_and_special_files_are_refused_before_loading(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(os.urandom(4096))
    big = tmp_path / "big.onnx"
    with big.open("wb") as fh:
        fh.truncate(17 * 1024 * 1024)  # sparse: no 17 MB written
    endless = tmp_path / "endless.onnx"
    endless.symlink_to("/dev/zero")
    cases = [
        (str(garbage), "does not load on ONNX Runtime"),
        (str(endless), "not a regular file"),
        (str(big), "at most 16777216 bytes"),
        ("/dev/zero", "name the file"),
        (str(tmp_path / "missing.onnx"), "cannot read"),
    ]
    for path, says in cases:
        proc = hearthvox_cli("models", "add-wake", "hey_x", path, "--license", "MIT")
        assert proc.returncode == 5, (path, proc.stderr)
        assert says in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    proc = hearthvox_cli("models", "add-wake", "hey_x", str(garbage))
    assert proc.returncode == 2 and "--license" in proc.stderr  # the licence is required


def test_per_model_thresholds_and_the_user_keys_over_bundle_settings(engines: Engines) -> None:
    wake = engines.wake.new_stream()
    wake.own_thresholds = {"alexa": 0.9}
    assert wake.threshold_for("alexa") == 0.9 and wake.threshold_for("hey_jarvis") == 0.5
    assert wake.best_hit({"alexa": 0.8, "hey_jarvis": 0.1}) is None
    assert wake.best_hit({"alexa": 0.95, "hey_jarvis": 0.6}) == ("alexa", 0.95)
    wake.strict = 0.8  # while the assistant speaks
    assert wake.best_hit({"hey_jarvis": 0.7}) is None and wake.threshold_for("alexa") == 0.9

    class Paths:
        settings = {"wake": {"models": ["hey_jarvis", "alexa"], "thresholds": {"alexa": 0.7}}}

    user = from_dict({"wake": {"threshold": 0.6}})
    cfg = bundle_config(user, Paths())  # type: ignore[arg-type]  # only .settings is read
    assert cfg.wake.threshold == 0.6  # the user's key survives the bundle's others
    assert cfg.wake.models == ("hey_jarvis", "alexa") and cfg.wake.thresholds == (("alexa", 0.7),)
    assert bundle_config(Config(), Paths()).wake.threshold == 0.5  # type: ignore[arg-type]
