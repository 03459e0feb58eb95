"""Every refusal leaves the store byte for byte as it was (the whole tree is hashed)."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from hearthvox.bundles.install import activate_bundle, install_bundle
from hearthvox.bundles.manifest import Manifest
from hearthvox.bundles.signing import envelope_bytes
from hearthvox.bundles.sources import DirSource, TarSource
from hearthvox.bundles.store import Store
from hearthvox.errors import IncompatibleBundleError, ModelError
from tests.bundles.helpers import Publisher, tiny_manifest, tree_hash


@dataclass
class World:
    store: Store
    publisher: Publisher
    files: Path
    installed: dict[str, Manifest]

    def install(self, m: Manifest, data: bytes | None = None, **kw: object) -> None:
        install_bundle(
            self.store,
            data if data is not None else self.publisher.sign(m),
            kw.pop("source", None),  # type: ignore[arg-type]  # an ObjectSource or None
            m.channel,
            self.publisher.policy(),
            activate=bool(kw.pop("activate", False)),
        )


@pytest.fixture
def world(store: Store, publisher: Publisher, files_dir: Path) -> Iterator[World]:
    w = World(store, publisher, files_dir, {})
    for name, version, channel in (
        ("home", 1, "stable"),
        ("home", 2, "stable"),
        ("trial", 1, "beta"),
    ):
        m = tiny_manifest(files_dir, name, version, channel)
        w.install(m, activate=True)
        w.installed[m.ref] = m
    before = tree_hash(store.root)
    channels = {p.name: p.read_bytes() for p in store.channels.iterdir()}
    yield w
    assert tree_hash(store.root) == before, "a refused install changed the store"
    assert {p.name: p.read_bytes() for p in store.channels.iterdir()} == channels


def _refused(fragment: str, action: Callable[[], object]) -> str:
    with pytest.raises(ModelError) as info:
        action()
    message = str(info.value)
    assert fragment in message, message
    assert "refused" in message or isinstance(info.value, IncompatibleBundleError), message
    return message


def _source_file(w: World, m: Manifest, artifact_id: str, name: str) -> Path:
    return w.files / f"{m.bundle}-{m.version}" / artifact_id / name


def test_a_byte_changed_in_a_model_file(world: World) -> None:
    m = tiny_manifest(world.files, "home", 3, "stable")
    path = _source_file(world, m, "asr/test", "model.bin")
    data = bytearray(path.read_bytes())
    data[1000] ^= 0x40
    path.write_bytes(bytes(data))
    msg = _refused("sha256", lambda: world.install(m, activate=True))
    assert "asr/test/model.bin" in msg and m.artifact("asr/test").file("model.bin").sha256 in msg


def test_a_file_of_another_size(world: World) -> None:
    m = tiny_manifest(world.files, "home", 3, "stable")
    path = _source_file(world, m, "tts/test", "voice.onnx")
    path.write_bytes(path.read_bytes() + b"\0")
    _refused("4097 bytes, the manifest gives 4096", lambda: world.install(m))


def test_a_manifest_changed_after_signing(world: World) -> None:
    m = tiny_manifest(world.files, "home", 3, "stable")
    envelope = json.loads(world.publisher.sign(m))
    envelope["signed"]["hardware"] = ["any", "jetson-orin"]
    _refused("does not match the content", lambda: world.install(m, envelope_bytes(envelope)))


def test_a_manifest_without_signature(world: World) -> None:
    m = tiny_manifest(world.files, "home", 3, "stable")
    envelope = {"signed": m.to_dict(), "signatures": []}
    _refused("has no signature", lambda: world.install(m, envelope_bytes(envelope)))


def test_a_manifest_signed_by_an_unknown_key(world: World) -> None:
    m = tiny_manifest(world.files, "home", 3, "stable")
    stranger = Publisher()
    msg = _refused("does not trust", lambda: world.install(m, stranger.sign(m)))
    assert "trusted_keys" in msg


def test_a_version_lower_than_the_channel_has_seen(world: World) -> None:
    m = tiny_manifest(world.files, "other", 1, "stable")
    msg = _refused("lower than 2", lambda: world.install(m, activate=True))
    assert "rollback" in msg
    home1 = world.installed["home@1"]
    _refused(
        "lower than 2",
        lambda: activate_bundle(world.store, "stable", home1.ref, world.publisher.policy()),
    )


def test_an_expired_manifest(world: World) -> None:
    m = tiny_manifest(world.files, "home", 3, "stable", expires_in=-timedelta(minutes=1))
    _refused("expired", lambda: world.install(m, activate=True))


def test_a_bundle_for_other_hardware(world: World) -> None:
    m = tiny_manifest(world.files, "home", 3, "stable", hardware=("jetson-orin",))
    with pytest.raises(IncompatibleBundleError, match="jetson-orin"):
        world.install(m, activate=True)


def _tar(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _objects(w: World, m: Manifest) -> list[tuple[str, bytes]]:
    return [
        (f"objects/{f.sha256}", _source_file(w, m, a.id, f.name).read_bytes())
        for a in m.artifacts()
        for f in a.files
    ]


def test_a_tarball_with_two_manifests(world: World, tmp_path: Path) -> None:
    m3 = tiny_manifest(world.files, "home", 3, "stable")
    m4 = tiny_manifest(world.files, "home", 4, "stable")
    data3, data4 = world.publisher.sign(m3), world.publisher.sign(m4)
    tar = _tar(
        tmp_path / "mixed.tar",
        [("manifest.json", data3), *_objects(world, m3), ("manifest-2.json", data4)],
    )
    source = TarSource(tar)
    _refused("mixed from two manifests", lambda: world.install(m3, data3, source=source))


def test_a_tarball_holding_another_bundles_file(world: World, tmp_path: Path) -> None:
    m3 = tiny_manifest(world.files, "home", 3, "stable")
    data3 = world.publisher.sign(m3)
    other = _objects(world, world.installed["trial@1"])[0]
    tar = _tar(tmp_path / "mixed.tar", [("manifest.json", data3), *_objects(world, m3), other])
    msg = _refused(
        "files mixed from two manifests", lambda: world.install(m3, data3, source=TarSource(tar))
    )
    assert "trial@1" in msg


def test_a_directory_where_one_file_comes_from_another_manifest(
    world: World, tmp_path: Path
) -> None:
    m3 = tiny_manifest(world.files, "home", 3, "stable")
    data3 = world.publisher.sign(m3)
    export = tmp_path / "export"
    (export / "objects").mkdir(parents=True)
    (export / "manifest.json").write_bytes(data3)
    for name, content in _objects(world, m3):
        (export / name).write_bytes(content)
    # the ASR weights of trial@1 under the name of home@3's ASR weights
    sha = m3.artifact("asr/test").file("model.bin").sha256
    trial = world.installed["trial@1"]
    (export / "objects" / sha).write_bytes(
        _source_file(world, trial, "asr/test", "model.bin").read_bytes()
    )
    msg = _refused(
        "files mixed from two manifests", lambda: world.install(m3, data3, source=DirSource(export))
    )
    assert "file asr/test/model.bin of bundle trial@1" in msg


def test_a_bundle_signed_for_another_channel(world: World) -> None:
    m = tiny_manifest(world.files, "home", 3, "beta")
    data = world.publisher.sign(m)
    _refused(
        "signed for channel beta, not stable",
        lambda: install_bundle(world.store, data, None, "stable", world.publisher.policy()),
    )


def test_the_same_version_with_other_content(world: World) -> None:
    m = tiny_manifest(world.files, "home", 2, "stable", seed="something else")
    _refused("already installed with different content", lambda: world.install(m))
