"""One thin class per model runtime, each loaded once: wake, VAD, ASR, TTS.

Every loader creates its engine from the config exactly as given: the caller
passes the settings the engines run with (:func:`hearthvox.settings.engine_config`:
user > bundle > matrix > default), so no loader applies a precedence of its own.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from hearthvox.config import Config
from hearthvox.engines.asr import BiasOptions, CascadeOptions, WhisperAsr
from hearthvox.engines.executor import EngineExecutor
from hearthvox.engines.tts import PiperTts
from hearthvox.engines.vad import SileroVad
from hearthvox.engines.wake import WakeEngine
from hearthvox.errors import ConfigError


class ModelFiles(Protocol):
    """Where a bundle's model files are (:class:`hearthvox.bundles.default.ModelPaths`
    is one): what the loaders read, and nothing of the bundle's own format."""

    @property
    def bundle_id(self) -> str: ...
    @property
    def wake_melspectrogram(self) -> Path: ...
    @property
    def wake_embedding(self) -> Path: ...
    @property
    def wake_models(self) -> dict[str, Path]: ...
    @property
    def vad(self) -> Path: ...
    @property
    def asr_dir(self) -> Path: ...
    @property
    def tts_model(self) -> Path: ...
    @property
    def tts_config(self) -> Path: ...


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

    def executors(self) -> list[EngineExecutor]:
        """Each engine's own thread (the watchdog reads them)."""
        return [self.wake.executor, self.vad.executor, self.asr.executor, self.tts.executor]


T = TypeVar("T")


def _timed(fn: Callable[[], T]) -> tuple[T, float]:
    t0 = time.perf_counter()
    value = fn()
    return value, (time.perf_counter() - t0) * 1000.0


def load_wake(paths: ModelFiles, cfg: Config) -> WakeEngine:
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


def load_asr(paths: ModelFiles, cfg: Config) -> WhisperAsr:
    return WhisperAsr(
        paths.asr_dir,
        device=cfg.asr.device,
        compute_type=cfg.asr.compute_type,
        threads=cfg.asr.threads,
        beam_size=cfg.asr.beam_size,
        language=cfg.asr.language,
        decode=cfg.asr.decode,
        bias=BiasOptions.from_config(cfg.asr),
        cascade=CascadeOptions(enabled=cfg.asr.cascade, logprob_below=cfg.asr.cascade_logprob),
    )


def load_tts(paths: ModelFiles, cfg: Config) -> PiperTts:
    return PiperTts(
        paths.tts_model,
        paths.tts_config,
        length_scale=cfg.tts.length_scale,
        threads=cfg.tts.threads,
        first_clause=cfg.tts.first_clause,
    )


def load_engines(paths: ModelFiles, cfg: Config) -> Engines:
    """Load all four engines, in parallel threads (the runtimes release the GIL)."""
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


def reload_engines(
    paths: ModelFiles, old: Engines, cfg: Config, sections: Collection[str]
) -> tuple[Engines, tuple[str, ...]]:
    """The engines for ``cfg`` when the config ``sections`` changed and the bundle did
    not: only the engines of those sections whose model settings changed (models,
    threads, device, compute type, language) are loaded again; a change of thresholds,
    beam size, vocabulary, cascade or speed retunes the loaded engine (:func:`retune`),
    and the others are kept (the same objects). Each reload of a model leaves some
    memory behind in the runtimes' allocators, so a change of one setting should not
    reload a model. The VAD's threshold is the endpointer's: only a change of its
    threads needs a new session.

    Returns the engines and the names of those loaded anew (in the order wake, vad,
    asr, tts)."""
    was = old.cfg
    loaders: dict[str, Callable[[], object]] = {}
    if "wake" in sections and (was is None or _wake_model_changed(was, cfg)):
        loaders["wake"] = lambda: load_wake(paths, cfg)
    if "vad" in sections and (was is None or was.vad.threads != cfg.vad.threads):
        loaders["vad"] = lambda: SileroVad(paths.vad, threads=cfg.vad.threads)
    if "asr" in sections and (was is None or _asr_model_changed(was, cfg)):
        loaders["asr"] = lambda: load_asr(paths, cfg)
    if "tts" in sections and (was is None or was.tts.threads != cfg.tts.threads):
        loaders["tts"] = lambda: load_tts(paths, cfg)
    loaded: dict[str, tuple[object, float]] = {}
    if loaders:
        with ThreadPoolExecutor(max_workers=len(loaders), thread_name_prefix="hv-load") as pool:
            futures = {name: pool.submit(_timed, fn) for name, fn in loaders.items()}
            loaded = {name: f.result() for name, f in futures.items()}
    kept = retune(old, cfg, [s for s in sections if s not in loaders])
    engines = Engines(
        wake=_kept(loaded, "wake", kept.wake, WakeEngine),
        vad=_kept(loaded, "vad", kept.vad, SileroVad),
        asr=_kept(loaded, "asr", kept.asr, WhisperAsr),
        tts=_kept(loaded, "tts", kept.tts, PiperTts),
        bundle_id=old.bundle_id,
        load_ms={**old.load_ms, **{name: ms for name, (_, ms) in loaded.items()}},
        cfg=cfg,
    )
    return engines, tuple(loaded)


def _wake_model_changed(was: Config, now: Config) -> bool:
    return (was.wake.models, was.wake.threads) != (now.wake.models, now.wake.threads)


def _asr_model_changed(was: Config, now: Config) -> bool:
    a, b = was.asr, now.asr
    return (a.device, a.compute_type, a.threads, a.language, a.second_model) != (
        b.device,
        b.compute_type,
        b.threads,
        b.language,
        b.second_model,
    )


def retune(old: Engines, cfg: Config, sections: Collection[str]) -> Engines:
    """``old``'s loaded models with ``cfg``'s decoding settings for the ``sections``
    that changed (new engine objects: a turn in flight keeps the ones it started with)."""
    wake, asr, tts = old.wake, old.asr, old.tts
    if "wake" in sections:
        wake = wake.retuned(
            threshold=cfg.wake.threshold,
            thresholds=dict(cfg.wake.thresholds),
            refractory_s=cfg.wake.refractory_s,
        )
    if "asr" in sections:
        asr = asr.retuned(
            beam_size=cfg.asr.beam_size,
            decode=cfg.asr.decode,
            bias=BiasOptions.from_config(cfg.asr),
            cascade=CascadeOptions(enabled=cfg.asr.cascade, logprob_below=cfg.asr.cascade_logprob),
        )
    if "tts" in sections:
        tts = tts.retuned(length_scale=cfg.tts.length_scale, first_clause=cfg.tts.first_clause)
    return dataclasses.replace(old, wake=wake, asr=asr, tts=tts, cfg=cfg)


def _kept(loaded: dict[str, tuple[object, float]], name: str, old: T, kind: type[T]) -> T:
    if name not in loaded:
        return old
    engine = loaded[name][0]
    assert isinstance(engine, kind)
    return engine
