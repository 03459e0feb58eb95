"""What decodes a batch run: the bundle, the variant from the compatibility matrix, settings.

The ASR device and compute type come from ``[asr]`` in the config, or from the
matrix's variant for this device when the device is ``auto``; threads come from the
matrix (capped at the cores this process may use) unless given. Everything that can
change the text goes into the *fingerprint* that keys the manifest: the bundle id,
the sha256 of every ASR and VAD file, device, compute type, decoding and chunking
settings. Threads, jobs and batch size only change the speed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hearthvox.batch.asr import DecodeOptions, ModelSettings
from hearthvox.batch.chunking import ChunkOptions
from hearthvox.batch.manifest import fingerprint
from hearthvox.config import Config
from hearthvox.engines.asr import BiasOptions

if TYPE_CHECKING:
    from hearthvox.bundles.default import ModelPaths

PIPELINE_VERSION = 1
"""Bump when a change to chunking or decoding changes the text of existing outputs."""


@dataclass(frozen=True)
class Overrides:
    """What the user set on the command line (None: take the config or the matrix)."""

    device: str | None = None
    threads: int | None = None
    jobs: int | None = None
    batch_size: int | None = None
    words: bool = False


@dataclass(frozen=True)
class BatchSettings:
    bundle_id: str
    models: dict[str, dict[str, Any]]
    profile: str
    model: ModelSettings
    decode: DecodeOptions
    chunking: ChunkOptions

    def variant(self) -> dict[str, Any]:
        return {"profile": self.profile, **dataclasses.asdict(self.model)}

    def _decode(self) -> dict[str, Any]:
        """The decode options, a vocabulary as its size and digest (none: no entry, as
        before vocabularies, so earlier runs resume)."""
        decode = dataclasses.asdict(self.decode)
        del decode["bias"]
        if self.decode.bias.vocabulary:
            decode["bias"] = self.decode.bias.describe()
        return decode

    def settings(self) -> dict[str, Any]:
        return {
            "pipeline": PIPELINE_VERSION,
            **self._decode(),
            "chunking": dataclasses.asdict(self.chunking),
        }

    def fingerprint(self) -> str:
        decode = {k: v for k, v in self._decode().items() if k != "batch_size"}
        return fingerprint(
            {
                "bundle": self.bundle_id,
                "models": self.models,
                "device": self.model.device,
                "compute_type": self.model.compute_type,
                "decode": decode,
                "chunking": dataclasses.asdict(self.chunking),
                "pipeline": PIPELINE_VERSION,
            }
        )


def _models(paths: ModelPaths) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for stage in ("asr", "vad"):
        artifact = paths.artifacts[stage]
        out[artifact.id] = {
            "version": artifact.version,
            "files": {f.name: f.sha256 for f in artifact.files},
        }
    return out


def default_jobs(device: str, threads: int) -> int:
    """Parallel batches: on CPU two single-threaded workers beat one with two threads
    (measured on 2 cores: 1.3-1.8x); beyond that, workers of two threads each."""
    if device == "cuda":
        return 1
    return threads if threads <= 2 else threads // 2


def resolve(paths: ModelPaths, cfg: Config, over: Overrides) -> BatchSettings:
    """Settings for this device: config, the matrix's ASR variant, then *over*."""
    from hearthvox.compat import load_matrix, probe, select_profile

    selection = select_profile(probe(), load_matrix())
    variant = selection.variants["asr"]
    device = over.device or cfg.asr.device
    if device == "auto":
        device = str(variant.get("device", "cpu"))
        compute_type = str(variant.get("compute_type", cfg.asr.compute_type))
    else:
        compute_type = cfg.asr.compute_type
    threads = over.threads or int(variant.get("threads", cfg.asr.threads))
    jobs = over.jobs or default_jobs(device, threads)
    batch_size = over.batch_size or (16 if device == "cuda" else 8)
    return BatchSettings(
        bundle_id=paths.bundle_id,
        models=_models(paths),
        profile=selection.profile,
        model=ModelSettings(device, compute_type, threads, jobs),
        decode=DecodeOptions(
            beam_size=cfg.asr.beam_size,
            language=cfg.asr.language,
            batch_size=batch_size,
            word_timestamps=over.words,
            bias=BiasOptions.from_config(cfg.asr),
        ),
        chunking=ChunkOptions(threshold=cfg.vad.threshold),
    )
