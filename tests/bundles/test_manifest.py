"""Bundle manifests and signatures: the schema, canonical signing, what is refused."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from hearthvox import config as config_mod
from hearthvox.bundles.lock import load_lock
from hearthvox.bundles.manifest import manifest_from_lock, parse_manifest
from hearthvox.bundles.signing import (
    TrustedKeys,
    envelope_bytes,
    key_id,
    open_envelope,
    parse_public,
    public_text,
    sign,
)
from hearthvox.errors import ConfigError, ModelError
from tests.bundles.helpers import Publisher

DEFAULT = manifest_from_lock(load_lock())


def test_the_default_manifest_round_trips() -> None:
    doc = json.loads(json.dumps(DEFAULT.to_dict()))
    again = parse_manifest(doc, "test")
    assert again == DEFAULT
    assert again.ref == "default-0.1.0@1" and again.hardware == ("any",)
    assert len(again.objects()) == 13 and again.total_size > 140_000_000
    spec = again.spec()
    assert spec == load_lock().bundle("default")


def test_signatures_cover_every_byte_of_the_document(publisher: Publisher) -> None:
    envelope = sign(DEFAULT.to_dict(), publisher.key)
    data = envelope_bytes(envelope)
    assert open_envelope(data, publisher.trusted, "m") == DEFAULT.to_dict()
    assert envelope["signatures"][0]["keyid"] == key_id(publisher.key.public_key())
    changed = copy.deepcopy(envelope)
    changed["signed"]["stages"]["vad"]["artifacts"][0]["files"][0]["size"] += 1
    with pytest.raises(ModelError, match="does not match the content"):
        open_envelope(envelope_bytes(changed), publisher.trusted, "m")
    garbled = copy.deepcopy(envelope)
    garbled["signatures"][0]["sig"] = "not base64!"
    with pytest.raises(ModelError, match="does not match"):
        open_envelope(envelope_bytes(garbled), publisher.trusted, "m")
    with pytest.raises(ModelError, match="does not trust"):
        open_envelope(data, TrustedKeys.of(Publisher().key.public_key()), "m")
    with pytest.raises(ModelError, match="not valid JSON"):
        open_envelope(b"{", publisher.trusted, "m")


def test_public_keys_in_the_config_are_checked(publisher: Publisher) -> None:
    text = public_text(publisher.key.public_key())
    assert key_id(parse_public(text)) == key_id(publisher.key.public_key())
    for bad in ("ssh-ed25519 AAAA", "ed25519:@@@", "ed25519:AAAA"):
        with pytest.raises(ConfigError, match="trusted_keys"):
            parse_public(bad)


Edit = Callable[[dict[str, Any]], None]


def _stage(doc: dict[str, Any], name: str) -> dict[str, Any]:
    stage: dict[str, Any] = doc["stages"][name]
    return stage


def _artifacts(doc: dict[str, Any], name: str) -> list[Any]:
    found: list[Any] = _stage(doc, name)["artifacts"]
    return found


EDITS: list[tuple[str, Edit]] = [
    ("schema_version", lambda d: d.update(schema_version=2)),
    ("not a bundle manifest", lambda d: d.update(type="index")),
    ("channel 'nightly'", lambda d: d.update(channel="nightly")),
    ("version must be", lambda d: d.update(version=0)),
    ("stages must be exactly", lambda d: d["stages"].pop("tts")),
    ("hardware", lambda d: d.update(hardware=[])),
    ("lacks a time zone", lambda d: d.update(expires="2030-01-01T00:00:00")),
    ("one 'features' artifact", lambda d: d["stages"]["wake"]["artifacts"].pop(0)),
    ("bad settings", lambda d: d["stages"]["asr"]["settings"].update(beams=2)),
    ("vocabulary is the user's", lambda d: _stage(d, "asr")["settings"].update(vocabulary="")),
    ("is a vad artifact", lambda d: _stage(d, "asr").update(artifacts=_artifacts(d, "vad"))),
    ("appears twice", lambda d: _artifacts(d, "wake").append(_artifacts(d, "wake")[1])),
]  # fmt: skip


@pytest.mark.parametrize(("fragment", "edit"), EDITS, ids=[e[0] for e in EDITS])
def test_bad_manifests_are_refused(fragment: str, edit: Edit) -> None:
    doc = DEFAULT.to_dict()
    edit(doc)
    with pytest.raises(ModelError, match="<m>") as info:
        parse_manifest(doc, "<m>")
    assert fragment in str(info.value)


def test_the_models_config_section() -> None:
    cfg = config_mod.from_dict({"models": {"channel": "beta", "trial_tries": 5}})
    assert (cfg.models.channel, cfg.models.trial_tries, cfg.models.trust_local_key) == (
        "beta", 5, True,
    )  # fmt: skip
    with pytest.raises(ConfigError, match="channel"):
        config_mod.from_dict({"models": {"channel": "nightly"}})
    with pytest.raises(ConfigError, match="trial_tries must be greater than 0"):
        config_mod.from_dict({"models": {"trial_tries": 0}})
