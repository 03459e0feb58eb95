"""A wake word of the user's own: check an openWakeWord classifier, derive a signed bundle.

``hearthvox models add-wake NAME FILE.onnx --license L`` checks the file before
anything is stored (a regular file under :data:`MAX_BYTES`, one float input shaped
``[1, frames, 96]`` of openWakeWord embeddings, one output ``[1, 1]``, loads on ONNX
Runtime, scores a silent clip below its threshold), then installs a new version
of the base channel's bundle with the model added to the wake stage (and to
``[wake] models``, with its own threshold), signed by this device's key for the
target channel, on trial like any activation. Promotion to stable goes through
``hearthvox models promote`` and its quality gate.
"""

from __future__ import annotations

import dataclasses
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hearthvox.bundles.default import wake_model_name
from hearthvox.bundles.fsutil import file_chunks
from hearthvox.bundles.install import InstallResult, Policy, install_bundle
from hearthvox.bundles.lock import Artifact, ArtifactFile, sha256_file
from hearthvox.bundles.manifest import Manifest, Stage, StageArtifact, now_utc
from hearthvox.bundles.promote import sign_locally
from hearthvox.bundles.sources import StageContext
from hearthvox.bundles.store import Installed, Store
from hearthvox.engines._onnx import cpu_session
from hearthvox.engines.wake import WakeEngine
from hearthvox.errors import ModelError

MAX_BYTES = 16 * 1024 * 1024
"""Largest wake model accepted (openWakeWord's are 0.5–2 MB)."""
MAX_FRAMES = 64
"""Most embedding frames a classifier may look at (openWakeWord's take 16–34)."""
EMBEDDING_DIM = 96
NAME = re.compile(r"^[a-z][a-z0-9_]{1,31}$")
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}\.onnx$")
LICENSE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+:() -]{0,79}$")
SILENCE_S = 4.0


@dataclass(frozen=True)
class WakeModelFile:
    """A checked wake model: its name, file, digest, and what it scored on silence."""

    name: str
    path: Path
    sha256: str
    size: int
    frames: int
    silence_score: float


def check_name(name: str, license_: str, threshold: float) -> None:
    if not NAME.match(name):
        raise ModelError(
            f"wake word name {name!r}: use 2-32 lower-case letters, digits and _ "
            "(starting with a letter), e.g. hey_kitchen"
        )
    if not LICENSE.match(license_):
        raise ModelError(
            f"licence {license_!r}: give an SPDX id or a short name (letters, digits, . + - : ( ))"
        )
    if not 0.0 < threshold < 1.0:
        raise ModelError(f"threshold {threshold!r} must be between 0 and 1")


def _regular_file(path: Path) -> int:
    if not FILE_NAME.match(path.name):
        raise ModelError(
            f"{path.name!r}: name the file with letters, digits, '.', '_' or '-', ending in .onnx"
        )
    try:
        st = path.stat()
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ModelError(f"{path} is not a regular file")
    if st.st_size > MAX_BYTES:
        raise ModelError(
            f"{path} has {st.st_size} bytes; a wake model may have at most {MAX_BYTES} bytes"
        )
    if st.st_size == 0:
        raise ModelError(f"{path} is empty")
    return st.st_size


def _frames(path: Path) -> int:
    """The classifier's window in embedding frames; refuses other shapes."""
    try:
        session = cpu_session(path, 1)
    except ModelError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ModelError(f"{path} does not load on ONNX Runtime: {first}") from None
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or len(outputs) != 1:
        raise ModelError(
            f"{path} has {len(inputs)} input(s) and {len(outputs)} output(s); an openWakeWord "
            "classifier has one of each"
        )
    shape_in, shape_out = list(inputs[0].shape), list(outputs[0].shape)
    batch_ok = len(shape_in) == 3 and (shape_in[0] == 1 or not isinstance(shape_in[0], int))
    frames = shape_in[1] if len(shape_in) == 3 else None
    frames_ok = isinstance(frames, int) and 1 <= frames <= MAX_FRAMES
    if (
        inputs[0].type != "tensor(float)"
        or not batch_ok
        or not frames_ok
        or (shape_in[2] != EMBEDDING_DIM)
    ):
        raise ModelError(
            f"{path} takes {inputs[0].type} {shape_in}; an openWakeWord classifier takes "
            f"float [1, frames, {EMBEDDING_DIM}] with 1-{MAX_FRAMES} frames"
        )
    if len(shape_out) != 2 or shape_out[-1] != 1:
        raise ModelError(
            f"{path} gives {shape_out}; an openWakeWord classifier gives one score [1, 1]"
        )
    assert isinstance(frames, int)
    return frames


def check_wake_model(
    name: str, path: Path, threshold: float, melspectrogram: Path, embedding: Path
) -> WakeModelFile:
    """Every check of the module docstring; :class:`ModelError` names the one that failed."""
    size = _regular_file(path)
    frames = _frames(path)
    engine = WakeEngine(melspectrogram, embedding, {name: path}, threshold=threshold)
    frame = np.zeros(1280, dtype=np.int16)
    rng = np.random.default_rng(0)
    best = 0.0
    for _ in range(int(SILENCE_S * 1000 / 80)):
        room = (rng.standard_normal(1280) * 30).astype(np.int16)  # quiet room tone
        best = max(best, engine.scores(frame + room)[name])
    if best >= threshold:
        raise ModelError(
            f"{path} scores {best:.2f} on a silent clip, over its threshold {threshold:.2f}: "
            "it would wake on silence (a wrong model, or raise --threshold)"
        )
    return WakeModelFile(name, path, sha256_file(path), size, frames, best)


class _OneFile:
    """The object source that stages the checked model file."""

    def __init__(self, model: WakeModelFile) -> None:
        self.model = model

    @property
    def label(self) -> str:
        return str(self.model.path)

    def stage(self, needed: dict[str, int], ctx: StageContext) -> set[str]:
        if self.model.sha256 not in needed:
            return set()
        chunks: Iterator[bytes] = file_chunks(self.model.path)
        ctx.stage_chunks(chunks, self.model.sha256, f"wake model {self.model.path}")
        return {self.model.sha256}


def derived_manifest(
    base: Manifest,
    model: WakeModelFile,
    license_: str,
    threshold: float,
    version: int,
    channel: str,
    configured: tuple[str, ...],
) -> Manifest:
    """*base* with *model* added to its wake stage and switched on with its threshold."""
    wake = base.stages["wake"]
    names = [wake_model_name(e.artifact) for e in wake.artifacts if e.role == "model"]
    if model.name in names:
        raise ModelError(
            f"bundle {base.ref} already has a wake model {model.name!r}: choose another name"
        )
    artifact = Artifact(
        id=f"wake/{model.name}",
        version=model.sha256[:12],
        kind="wake",
        license=license_,
        license_note="Added on this device with hearthvox models add-wake; the licence is "
        "the one its owner declared.",
        sources=(model.path.resolve().parent.as_uri(),),  # where it came from (for --repair)
        files=(ArtifactFile(model.path.name, model.sha256, model.size),),
    )
    settings = dict(wake.settings)
    enabled = list(settings.get("models", configured))
    settings["models"] = [*enabled, model.name]
    own = dict(settings.get("thresholds", {}))
    own[model.name] = threshold
    settings["thresholds"] = own
    stage = Stage((*wake.artifacts, StageArtifact("model", artifact)), settings)
    return dataclasses.replace(
        base,
        version=version,
        channel=channel,
        created=now_utc(),
        stages={**base.stages, "wake": stage},
    )


def next_version(store: Store, base: Manifest, channel: str) -> int:
    """One above every version of *base*'s bundle seen here and on *channel*."""
    seen = [i.manifest.version for i in store.installed() if i.manifest.bundle == base.bundle]
    return max([base.version, store.read_channel(channel).highest_version, *seen]) + 1


def add_wake(
    store: Store,
    base: Installed,
    model: WakeModelFile,
    *,
    license_: str,
    threshold: float,
    channel: str,
    policy: Policy,
    configured: tuple[str, ...],
) -> InstallResult:
    """Install and activate (on trial) *base* plus *model* on *channel*."""
    manifest = derived_manifest(
        base.manifest,
        model,
        license_,
        threshold,
        next_version(store, base.manifest, channel),
        channel,
        configured,
    )
    data = sign_locally(store, manifest)
    return install_bundle(store, data, _OneFile(model), channel, policy, activate=True)
