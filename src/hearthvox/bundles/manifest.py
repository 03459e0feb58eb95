"""Bundle manifests: which artifact (by sha256) serves each stage, its settings, its hardware.

A manifest is the ``signed`` part of a signed envelope (see :mod:`.signing`)::

    {"type": "bundle", "schema_version": 1,
     "bundle": "default-0.1.0", "version": 1,          # version: monotonic per channel
     "channel": "stable",
     "created": "2025-01-01T00:00:00Z", "expires": "2035-01-01T00:00:00Z",
     "hardware": ["any"],                               # profiles of compat_matrix.yaml, or "any"
     "stages": {
       "wake": {"artifacts": [{"role": "features", "id": ..., "files": [{"name", "sha256",
                 "size"}], ...}, {"role": "model", ...}], "settings": {"threshold": 0.5}},
       "vad": {...}, "asr": {...}, "tts": {...}}}

Artifacts carry the same fields as in ``models.lock`` (id, version, kind, license,
sources, files); ``settings`` are keys of the config section of the same name and
replace the built-in defaults (a key the user sets in config.toml wins).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hearthvox import config as config_mod
from hearthvox.bundles.lock import Artifact, ArtifactFile, BundleSpec, LockFile, artifact_from_dict
from hearthvox.bundles.parts import parts_to_dict
from hearthvox.errors import ConfigError, ModelError

SCHEMA_VERSION = 1
STAGES: tuple[str, ...] = ("wake", "vad", "asr", "tts")
CHANNELS: tuple[str, ...] = ("stable", "beta", "canary")
_BUNDLE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$")
_MAX_SEGMENTS = 4
MANIFEST_MAX = 1 << 20
"""The largest manifest read (bytes): the default bundle's is about 6 KB."""


USER_ONLY_KEYS = frozenset({"asr.vocabulary", "asr.second_model"})
"""Config keys a bundle may not set: a file on this device, the device's own choice."""


@dataclass(frozen=True)
class StageArtifact:
    role: str  # "features" (the wake word front end) or "model"
    artifact: Artifact


@dataclass(frozen=True)
class Stage:
    artifacts: tuple[StageArtifact, ...]
    settings: dict[str, Any]


@dataclass(frozen=True)
class Manifest:
    bundle: str
    version: int
    channel: str
    created: datetime
    expires: datetime
    hardware: tuple[str, ...]
    stages: dict[str, Stage]

    @property
    def ref(self) -> str:
        return f"{self.bundle}@{self.version}"

    def artifacts(self) -> Iterator[Artifact]:
        for stage in STAGES:
            for entry in self.stages[stage].artifacts:
                yield entry.artifact

    def artifact(self, artifact_id: str) -> Artifact:
        for a in self.artifacts():
            if a.id == artifact_id:
                return a
        raise ModelError(f"bundle {self.ref} has no artifact {artifact_id!r}")

    def objects(self) -> dict[str, int]:
        """sha256 -> size of every file, each once."""
        return {f.sha256: f.size for a in self.artifacts() for f in a.files}

    def describe(self, sha256: str) -> str:
        """``artifact-id/name`` of the file with this sha256 (for messages)."""
        for a in self.artifacts():
            for f in a.files:
                if f.sha256 == sha256:
                    return f"{a.id}/{f.name}"
        return sha256

    @property
    def total_size(self) -> int:
        return sum(self.objects().values())

    def spec(self) -> BundleSpec:
        wake = self.stages["wake"].artifacts
        features = [e.artifact.id for e in wake if e.role == "features"]
        return BundleSpec(
            id=self.bundle,
            wake_features=features[0],
            wake_models=tuple(e.artifact.id for e in wake if e.role == "model"),
            vad=self.stages["vad"].artifacts[0].artifact.id,
            asr=self.stages["asr"].artifacts[0].artifact.id,
            tts=self.stages["tts"].artifacts[0].artifact.id,
            version=self.version,
        )

    def settings(self) -> dict[str, dict[str, Any]]:
        return {s: dict(self.stages[s].settings) for s in STAGES if self.stages[s].settings}

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires

    def same_content(self, other: Manifest) -> bool:
        """*other* is this manifest signed for another channel (a promotion's copy)."""
        return dataclasses.replace(other, channel=self.channel) == self

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "bundle",
            "schema_version": SCHEMA_VERSION,
            "bundle": self.bundle,
            "version": self.version,
            "channel": self.channel,
            "created": format_time(self.created),
            "expires": format_time(self.expires),
            "hardware": list(self.hardware),
            "stages": {
                name: {
                    "artifacts": [
                        {"role": e.role, **artifact_to_dict(e.artifact)}
                        for e in self.stages[name].artifacts
                    ],
                    "settings": dict(self.stages[name].settings),
                }
                for name in STAGES
            },
        }


def artifact_to_dict(a: Artifact) -> dict[str, Any]:
    return {
        "id": a.id,
        "version": a.version,
        "kind": a.kind,
        "license": a.license,
        "license_note": a.license_note,
        "sources": list(a.sources),
        "files": [file_to_dict(f) for f in a.files],
    }


def file_to_dict(f: ArtifactFile) -> dict[str, Any]:
    """A file entry; ``parts`` only for a joined file (so other entries keep their bytes)."""
    out: dict[str, Any] = {"name": f.name, "sha256": f.sha256, "size": f.size}
    if f.parts:
        out["parts"] = parts_to_dict(f.parts)
    return out


def format_time(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: object, where: str) -> datetime:
    if not isinstance(value, str):
        raise ModelError(f"{where} must be a UTC time like 2030-01-01T00:00:00Z")
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ModelError(f"{where}: {value!r} is not an ISO 8601 time") from None
    if t.tzinfo is None:
        raise ModelError(f"{where}: {value!r} lacks a time zone (use ...Z)")
    return t


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# ---------------------------------------------------------------- parsing


def parse_manifest(doc: dict[str, Any], what: str) -> Manifest:
    """Validate the signed document *doc* of a bundle manifest."""
    if doc.get("type") != "bundle":
        raise ModelError(f"{what} is not a bundle manifest (type {doc.get('type')!r})")
    if doc.get("schema_version") != SCHEMA_VERSION:
        raise ModelError(
            f"{what}: schema_version {doc.get('schema_version')!r}; this hearthvox reads "
            f"{SCHEMA_VERSION} (a newer hearthvox may be needed)"
        )
    bundle = doc.get("bundle")
    if not isinstance(bundle, str) or not _BUNDLE_ID.match(bundle):
        raise ModelError(f"{what}: bundle id {bundle!r} is not a short name of [A-Za-z0-9._-]")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelError(f"{what}: version must be an integer >= 1, got {version!r}")
    channel = doc.get("channel")
    if channel not in CHANNELS:
        raise ModelError(f"{what}: channel {channel!r} is not one of {', '.join(CHANNELS)}")
    hardware = doc.get("hardware")
    if (
        not isinstance(hardware, list)
        or not hardware
        or not all(isinstance(h, str) and h for h in hardware)
    ):
        raise ModelError(f"{what}: hardware must be a non-empty list of profile names or 'any'")
    raw_stages = doc.get("stages")
    if not isinstance(raw_stages, dict) or set(raw_stages) != set(STAGES):
        raise ModelError(f"{what}: stages must be exactly {', '.join(STAGES)}")
    stages = {name: _stage(name, raw_stages[name], f"{what}: stage {name}") for name in STAGES}
    manifest = Manifest(
        bundle=bundle,
        version=version,
        channel=str(channel),
        created=parse_time(doc.get("created"), f"{what}: created"),
        expires=parse_time(doc.get("expires"), f"{what}: expires"),
        hardware=tuple(hardware),
        stages=stages,
    )
    _check_consistent(manifest, what)
    return manifest


def _stage(name: str, raw: object, where: str) -> Stage:
    if not isinstance(raw, dict):
        raise ModelError(f"{where} is not an object")
    raw_artifacts = raw.get("artifacts")
    if not isinstance(raw_artifacts, list) or not raw_artifacts:
        raise ModelError(f"{where}: no artifacts")
    entries: list[StageArtifact] = []
    for i, item in enumerate(raw_artifacts):
        if not isinstance(item, dict):
            raise ModelError(f"{where}: artifact #{i + 1} is not an object")
        role = item.get("role", "model")
        if role not in ("features", "model") or (role == "features" and name != "wake"):
            raise ModelError(f"{where}: artifact #{i + 1} has role {role!r}")
        artifact = artifact_from_dict({k: v for k, v in item.items() if k != "role"}, where, i)
        check_relative(artifact.id, f"{where}: artifact id")
        for f in artifact.files:
            check_relative(f.name, f"{where}: artifact {artifact.id!r}: file name")
        if artifact.kind != name:
            raise ModelError(f"{where}: {artifact.id!r} is a {artifact.kind} artifact")
        entries.append(StageArtifact(str(role), artifact))
    features = [e for e in entries if e.role == "features"]
    models = [e for e in entries if e.role == "model"]
    if name == "wake" and (len(features) != 1 or not models):
        raise ModelError(f"{where}: needs one 'features' artifact and at least one 'model'")
    if name != "wake" and len(models) != 1:
        raise ModelError(f"{where}: needs exactly one artifact")
    settings = raw.get("settings", {})
    if not isinstance(settings, dict):
        raise ModelError(f"{where}: settings must be an object")
    local = sorted(f"{name}.{k}" for k in settings if f"{name}.{k}" in USER_ONLY_KEYS)
    if local:
        raise ModelError(f"{where}: {local[0]} is the user's to set, not a bundle's")
    try:
        config_mod.from_dict({name: settings})
    except ConfigError as exc:
        raise ModelError(f"{where}: bad settings: {exc}") from None
    return Stage(tuple(entries), settings)


def check_relative(value: str, where: str) -> None:
    """*value* is a short relative path of plain names (no ``..``, no ``/`` at either end,
    no dot files): joined to any root it stays inside that root."""
    parts = value.split("/")
    if len(parts) > _MAX_SEGMENTS or not all(_SEGMENT.match(p) for p in parts):
        raise ModelError(
            f"{where} {value[:80]!r} is not a relative path of at most {_MAX_SEGMENTS} names "
            f"of [A-Za-z0-9._+-] (no '..', no leading '/' or '.'): refused"
        )


def link_paths(manifest: Manifest) -> dict[str, str]:
    """Each file's path in the bundle's file tree (``<artifact id>/<name>``) -> its sha256.

    Refuses two files on one path, and a path that is also the folder of another."""
    paths: dict[str, str] = {}
    for a in manifest.artifacts():
        for f in a.files:
            path = f"{a.id}/{f.name}"
            if path in paths:
                raise ModelError(
                    f"bundle {manifest.ref}: two artifacts put a file at {path!r}: refused"
                )
            paths[path] = f.sha256
    folders = {"/".join(p.split("/")[:i]) for p in paths for i in range(1, p.count("/") + 1)}
    clash = sorted(folders & set(paths))
    if clash:
        raise ModelError(
            f"bundle {manifest.ref}: {clash[0]!r} is both a file and the folder of another "
            f"artifact's files: refused"
        )
    return paths


def _check_consistent(manifest: Manifest, what: str) -> None:
    ids: set[str] = set()
    sizes: dict[str, int] = {}
    for a in manifest.artifacts():
        if a.id in ids:
            raise ModelError(f"{what}: artifact {a.id!r} appears twice")
        ids.add(a.id)
        for f in a.files:
            if sizes.setdefault(f.sha256, f.size) != f.size:
                raise ModelError(f"{what}: two files have sha256 {f.sha256} but different sizes")
    for stage, kind in (("asr", "model.bin"), ("tts", ".onnx.json")):
        names = [f.name for f in manifest.stages[stage].artifacts[0].artifact.files]
        if not any(n.endswith(kind) for n in names):
            raise ModelError(f"{what}: the {stage} artifact has no *{kind} file")
    link_paths(manifest)


# ---------------------------------------------------------------- from the lock


def manifest_from_lock(
    lock: LockFile,
    name: str = "default",
    *,
    channel: str = "stable",
    now: datetime | None = None,
    valid_for: timedelta = timedelta(days=3650),
    hardware: tuple[str, ...] = ("any",),
) -> Manifest:
    """The manifest of the lock's ``[bundle.NAME]``: every artifact as pinned there."""
    spec = lock.bundle(name)
    created = now or now_utc()

    def stage(*ids: tuple[str, str]) -> Stage:
        return Stage(tuple(StageArtifact(role, lock.artifact(i)) for role, i in ids), {})

    return Manifest(
        bundle=spec.id,
        version=spec.version,
        channel=channel,
        created=created,
        expires=created + valid_for,
        hardware=hardware,
        stages={
            "wake": stage(
                ("features", spec.wake_features), *(("model", m) for m in spec.wake_models)
            ),
            "vad": stage(("model", spec.vad)),
            "asr": stage(("model", spec.asr)),
            "tts": stage(("model", spec.tts)),
        },
    )
