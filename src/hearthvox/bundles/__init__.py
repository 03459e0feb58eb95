"""hearthvox.bundles: the model lock, artifact resolution and checks, the default bundle."""

from hearthvox.bundles.default import ModelPaths, default_model_paths, model_paths
from hearthvox.bundles.joined import check_files
from hearthvox.bundles.lock import (
    Artifact,
    ArtifactFile,
    BundleSpec,
    LockFile,
    PypiSource,
    load_lock,
    parse_lock,
    parse_pypi_source,
    resolve_source,
    sha256_file,
)

__all__ = [
    "Artifact",
    "ArtifactFile",
    "BundleSpec",
    "LockFile",
    "ModelPaths",
    "PypiSource",
    "check_files",
    "default_model_paths",
    "load_lock",
    "model_paths",
    "parse_lock",
    "parse_pypi_source",
    "resolve_source",
    "sha256_file",
]
