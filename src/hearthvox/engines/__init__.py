"""One thin class per model runtime, each loaded once: wake, VAD, ASR, TTS.

Every loader creates its engine from the config tuned for this device
(:func:`hearthvox.compat.effective_config`: the compatibility matrix's variant of the
device's profile, under the keys the user set), so the matrix drives the runtime.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from hearthvox.compat.tuning import effective_config
from hearthvox.config import Config
from hearthvox.engines.asr import WhisperAsr
from hearthvox.engines.tts import PiperTts
from hearthvox.engines.vad import SileroVad
from hearthvox.engines.wake import WakeEngine
from hearthvox.errors import ConfigError

if TYPE_CHECKING:
    from hearthvox.bundles.default import ModelPaths


@dataclass
class Engines:
    wake: WakeEngine
    vad: SileroVad
    asr: WhisperAsr
    tts: PiperTts
    bundle_id: str
    load_ms: dict[str, float]
    cfg: Config | None = None
    """The config the engines were created with (tuned for this device)."""


T = TypeVar("T")


def _timed(fn: Callable[[], T]) -> tuple[T, float]:
    t0 = time.perf_counter()
    value = fn()
    return value, (time.perf_counter() - t0) * 1000.0


def load_wake(paths: ModelPaths, cfg: Config) -> WakeEngine:
    cfg = effective_config(cfg)
    missing = [m for m in cfg.wake.models if m not in paths.wake_models]
    if missing:  # the config's mistake (exit 2), said as the start and a reload say it
        known = ", ".join(sorted(paths.wake_models))
        raise ConfigError(
            f"[wake] models: {missing[0]!r} is not a wake word of bundle {paths.bundle_id} "
            f"(it has: {known})"
        )
    return WakeEngine(
        paths.wake_melspectrogram,
        paths.wake_embedding,
        {m: paths.wake_models[m] for m in cfg.wake.models},
        threshold=cfg.wake.threshold,
        thresholds=dict(cfg.wake.thresholds),
        refractory_s=cfg.wake.refractory_s,
        threads=cfg.wake.threads,
    )


def load_asr(paths: ModelPaths, cfg: Config) -> WhisperAsr:
    cfg = effective_config(cfg)
    return WhisperAsr(
        paths.asr_dir,
        device=cfg.asr.device,
        compute_type=cfg.asr.compute_type,
        threads=cfg.asr.threads,
        beam_size=cfg.asr.beam_size,
        language=cfg.asr.language,
        decode=cfg.asr.decode,
    )


def load_tts(paths: ModelPaths, cfg: Config) -> PiperTts:
    cfg = effective_config(cfg)
    return PiperTts(
        paths.tts_model,
        paths.tts_config,
        length_scale=cfg.tts.length_scale,
        threads=cfg.tts.threads,
        first_clause=cfg.tts.first_clause,
    )


def load_engines(paths: ModelPaths, cfg: Config) -> Engines:
    """Load all four engines, in parallel threads (the runtimes release the GIL)."""
    cfg = effective_config(cfg)
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="hv-load") as pool:
        wake = pool.submit(_timed, lambda: load_wake(paths, cfg))
        vad = pool.submit(_timed, lambda: SileroVad(paths.vad, threads=cfg.vad.threads))
        asr = pool.submit(_timed, lambda: load_asr(paths, cfg))
        tts = pool.submit(_timed, lambda: load_tts(paths, cfg))
        (w, w_ms), (v, v_ms), (a, a_ms), (t, t_ms) = (
            wake.result(),
            vad.result(),
            asr.result(),
            tts.result(),
        )
    return Engines(
        w, v, a, t, paths.bundle_id, {"wake": w_ms, "vad": v_ms, "asr": a_ms, "tts": t_ms}, cfg
    )
