"""``hearthvox models promote`` and ``hearthvox eval`` in real processes: a bundle built to
be worse (the same weights, a VAD threshold that loses the quiet ends of speech) is refused
with its slices named, nothing moves; --force promotes it and the record says so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hearthvox import config as config_mod
from hearthvox.bundles.active import ensure_initialised, open_store, policy
from hearthvox.bundles.install import install_bundle
from hearthvox.bundles.promote import derive_bundle, records
from hearthvox.compat.refusal import check_manifest
from hearthvox.evaluation import recipes
from hearthvox.evaluation.metrics import EvalResult

WORSE = {"vad": {"threshold": 0.9}}


def hv(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HEARTHVOX_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "hearthvox", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def _candidate(channel: str, name: str = "default-vad90", version: int = 2) -> str:
    """A bundle from the default's weights with WORSE settings, active on *channel*."""
    cfg = config_mod.load()
    store = open_store()
    ensure_initialised(store, cfg)
    current = store.read_channel("stable").current
    assert current is not None
    data = derive_bundle(
        store,
        store.get(current.manifest),
        bundle=name,
        version=version,
        channel=channel,
        settings=WORSE,
    )
    result = install_bundle(
        store, data, None, channel, policy(cfg, store, check_manifest), activate=True
    )
    return result.manifest.ref


@pytest.mark.usefixtures("eval_config", "default_result")
def test_a_worse_bundle_is_refused_then_forced(hearthvox_home: Path) -> None:
    ref = _candidate("beta")
    store = open_store()
    before = {c: store.read_channel(c) for c in ("stable", "beta")}

    refused = hv("models", "promote", "--from", "beta", "--quick", home=hearthvox_home)
    assert refused.returncode == 7, refused.stderr
    assert f"{ref} regresses" in refused.stderr and "far_field" in refused.stderr
    assert "OVER BUDGET" in refused.stdout and "far_field" in refused.stdout
    assert {c: store.read_channel(c) for c in ("stable", "beta")} == before
    (record,) = records(store)
    assert record["outcome"] == "refused" and record["forced"] is False
    assert any(line.startswith("far_field: VAD F1") for line in record["failed"])
    assert record["candidate"]["settings"] == WORSE
    assert record["baseline"]["bundle"] == "default-0.1.0@1"

    forced = hv("models", "promote", "--from", "beta", "--quick", "--force", home=hearthvox_home)
    assert forced.returncode == 0, forced.stderr
    assert f"channel stable now runs {ref}" in forced.stderr and "FORCED" in forced.stderr
    stable = store.read_channel("stable")
    assert str(stable.current) == ref and stable.trial_state == "pending"
    assert stable.log[-1]["action"] == "promote" and "FORCED" in stable.log[-1]["note"]
    assert store.read_channel("beta") == before["beta"]
    last = records(store)[-1]
    assert last["outcome"] == "promoted" and last["forced"] is True and last["gate"] == "failed"
    assert last["failed"] == record["failed"]
    assert Path(last["path"]).name in stable.log[-1]["note"]
    installed = store.get(stable.current.manifest)  # type: ignore[union-attr]
    assert installed.manifest.channel == "stable" and installed.manifest.settings() == WORSE

    assert str(stable.previous) == "default-0.1.0@1"


@pytest.mark.usefixtures("eval_config")
def test_eval_cli_json_and_compare(hearthvox_home: Path, default_result: EvalResult) -> None:
    _candidate("beta")
    out = hv("eval", "--quick", "--json", "--compare", "beta", home=hearthvox_home)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["slice"] for r in rows] == [s.slice for s in default_result.slices]
    for row in rows:
        assert {"slice", "split", "n_utterances", "n_speakers", "wer", "wer_ci95"} <= set(row)
        assert {"entity_error", "compare"} <= set(row) and row["split"] == "test"
        assert row["bundle"] == "default-0.1.0@1"
        assert ("outcomes" in row) is (row["slice"] not in (*recipes.VIEWS, recipes.ALL))
    clean = rows[0]
    expected = default_result.slices[0].to_json()
    assert {k: clean[k] for k in expected} == expected
    assert clean["compare"]["bundle"] == "default-vad90@2"
    assert clean["compare"]["vad_f1"]["other"] < clean["vad_f1"]

    table = hv("eval", "--quick", "--channel", "beta", "--compare", "stable", home=hearthvox_home)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].startswith("default-vad90@2: 63 clips") and "quick" in lines[0]
    assert "test speakers" in lines[0]
    assert any(line.startswith("far_field") and "OVER BUDGET" in line for line in lines)
    assert "metric(s) over budget: " in lines[-1]

    saved = hearthvox_home / "default.jsonl"
    saved.write_text(out.stdout)
    same = hv("eval", "--quick", "--compare", str(saved), home=hearthvox_home)
    assert same.returncode == 0, same.stderr
    assert same.stdout.splitlines()[-1] == "every slice within budget"
    worse = hv("eval", "--quick", "--channel", "beta", "--compare", str(saved), home=hearthvox_home)
    assert worse.returncode == 0 and "over budget: far_field" in worse.stdout.splitlines()[-1]


def test_promotion_refusals(hearthvox_home: Path) -> None:
    backwards = hv("models", "promote", "--from", "stable", "--to", "beta", home=hearthvox_home)
    assert backwards.returncode == 5 and "towards stable" in backwards.stderr
    empty = hv("models", "promote", "--from", "canary", home=hearthvox_home)
    assert empty.returncode == 5 and "channel canary has no bundle" in empty.stderr
    no_corpus = hv("eval", "--corpus", str(hearthvox_home / "nowhere"), home=hearthvox_home)
    assert no_corpus.returncode == 1 and "corpus.csv" in no_corpus.stderr


def test_a_promoted_copy_is_the_same_content(hearthvox_home: Path) -> None:
    """The copy signed for another channel does not block installing the original again;
    a bundle of the same version with other settings still does."""
    from hearthvox.bundles.promote import signed_copy
    from hearthvox.errors import ModelError

    cfg = config_mod.load()
    ref = _candidate("canary")
    store = open_store()
    pol = policy(cfg, store, check_manifest)
    original = next(i for i in store.installed() if i.manifest.channel == "canary")
    install_bundle(store, signed_copy(store, original, "beta"), None, "beta", pol)
    again = install_bundle(store, original.data, None, "canary", pol)
    assert again.manifest.ref == ref and again.sha256 == original.sha256
    other = derive_bundle(
        store,
        original,
        bundle="default-vad90",
        version=2,
        channel="beta",
        settings={"asr": {"beam_size": 5}},
    )
    with pytest.raises(ModelError, match="already installed with different content"):
        install_bundle(store, other, None, "beta", pol)
