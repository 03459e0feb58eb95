"""Small signed test bundles built from tiny generated files, and a store to put them in."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hearthvox.bundles.install import Policy
from hearthvox.bundles.lock import Artifact, ArtifactFile
from hearthvox.bundles.manifest import Manifest, Stage, StageArtifact, now_utc
from hearthvox.bundles.signing import TrustedKeys, envelope_bytes, sign
from hearthvox.bundles.store import Store
from hearthvox.compat.refusal import check_manifest

# stage -> [(role, artifact id, file names)]
LAYOUT: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {
    "wake": [
        ("features", "wake/test-features", ("melspectrogram.onnx", "embedding_model.onnx")),
        ("model", "wake/test_word", ("test_word.onnx",)),
    ],
    "vad": [("model", "vad/test", ("vad.onnx",))],
    "asr": [("model", "asr/test", ("model.bin", "config.json"))],
    "tts": [("model", "tts/test", ("voice.onnx", "voice.onnx.json"))],
}


def tree_hash(root: Path) -> str:
    """One sha256 over every path, file content, symlink target and mode under *root*."""
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            st = path.lstat()
            digest.update(f"{path.relative_to(root)}\0{st.st_mode:o}\0".encode())
            if path.is_symlink():
                digest.update(os.readlink(path).encode())
            elif path.is_file():
                digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass
class Publisher:
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)

    @property
    def trusted(self) -> TrustedKeys:
        return TrustedKeys.of(self.key.public_key())

    def policy(self, tries: int = 2, now: datetime | None = None) -> Policy:
        return Policy(self.trusted, tries, now or now_utc(), check_manifest)

    def sign(self, manifest: Manifest) -> bytes:
        return envelope_bytes(sign(manifest.to_dict(), self.key))


def make_artifacts(
    files_dir: Path, seed: str, size: int = 4096, only: str | None = None
) -> dict[str, Stage]:
    """Tiny artifact files under *files_dir*/<artifact id>/ (content from *seed*), and the
    stages naming them with ``file:`` sources. With *only*, just that stage's files differ."""
    stages: dict[str, Stage] = {}
    for stage, entries in LAYOUT.items():
        items = []
        for role, artifact_id, names in entries:
            root = files_dir / artifact_id
            root.mkdir(parents=True, exist_ok=True)
            files = []
            for name in names:
                own = seed if only is None or only == stage else "base"
                data = _bytes(f"{own}/{artifact_id}/{name}", size)
                (root / name).write_bytes(data)
                files.append(ArtifactFile(name, hashlib.sha256(data).hexdigest(), len(data)))
            artifact = Artifact(
                id=artifact_id,
                version="1",
                kind=stage,  # type: ignore[arg-type]  # the stage names are the kinds
                license="MIT",
                license_note="test data",
                sources=(root.as_uri(),),
                files=tuple(files),
            )
            items.append(StageArtifact(role, artifact))
        stages[stage] = Stage(tuple(items), {})
    return stages


def _bytes(seed: str, size: int) -> bytes:
    out = b""
    block = hashlib.sha256(seed.encode()).digest()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return out[:size]


def tiny_manifest(
    files_dir: Path,
    bundle: str,
    version: int,
    channel: str,
    *,
    seed: str | None = None,
    size: int = 4096,
    hardware: tuple[str, ...] = ("any",),
    expires_in: timedelta = timedelta(days=30),
) -> Manifest:
    created = now_utc()
    stages = make_artifacts(files_dir / f"{bundle}-{version}", seed or f"{bundle}{version}", size)
    return Manifest(
        bundle=bundle,
        version=version,
        channel=channel,
        created=created,
        expires=created + expires_in,
        hardware=hardware,
        stages=stages,
    )


def with_hardware(manifest: Manifest, *hardware: str) -> Manifest:
    return replace(manifest, hardware=hardware)


def new_store(root: Path) -> Store:
    return Store.open(root)


def object_file(files_dir: Path, m: Manifest) -> Callable[[str], Path]:
    """Where tiny_manifest put the file with this sha256."""
    where = {
        f.sha256: files_dir / f"{m.bundle}-{m.version}" / a.id / f.name
        for a in m.artifacts()
        for f in a.files
    }
    return where.__getitem__


def publish(out: Path, files_dir: Path, publisher: Publisher, *manifests: Manifest) -> Path:
    """A bundle index directory listing *manifests* (signed by *publisher*)."""
    from hearthvox.bundles.publish import publish_bundle

    index = out / "index.json"
    for m in manifests:
        index = publish_bundle(
            out,
            m,
            publisher.key,
            object_file(files_dir, m),
            index_expires=now_utc() + timedelta(days=7),
        )
    return index


def mark_passed(store: Store, channel: str) -> None:
    """Record that the channel's current bundle passed its health check on this device (the
    tiny test bundles cannot run a real one)."""
    store.write_channel(store.read_channel(channel).trial_passed(now_utc()))


def make_tar(path: Path, members: list[tuple[str, bytes]], mode: str = "w") -> Path:
    """A tarball of regular files (*mode*: "w", "w:gz" ...)."""
    import io
    import tarfile

    with tarfile.open(path, mode) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def export_members(files_dir: Path, m: Manifest, data: bytes) -> list[tuple[str, bytes]]:
    """manifest.json (*data*) and every object of *m*, as an export holds them."""
    where = object_file(files_dir, m)
    objects = {f.sha256 for a in m.artifacts() for f in a.files}
    return [("manifest.json", data)] + [(f"objects/{s}", where(s).read_bytes()) for s in objects]


class Zeros(io.RawIOBase):
    """*n* zero bytes, read without holding them (a large tar member costs no memory)."""

    def __init__(self, n: int) -> None:
        self.left = n

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        n = min(len(buf), self.left)
        buf[:n] = bytes(n)
        self.left -= n
        return n
