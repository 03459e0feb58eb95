"""Evaluate a bundle: resolve it, load its engines as the daemon would, run the set, cache.

A result depends only on the eval set (its digest), the bundle's model files
(sha256s), the settings its engines run with on this device, and the runtime
versions; that is its *fingerprint*. Results are kept under the cache directory
by fingerprint (figures only, never transcripts), so evaluating the same bundle
again, e.g. a channel's current bundle at each promotion, costs nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from hearthvox import __version__
from hearthvox.bundles.active import installed_paths
from hearthvox.bundles.default import ModelPaths
from hearthvox.bundles.install import find_installed
from hearthvox.bundles.manifest import CHANNELS
from hearthvox.bundles.optional import load_second_asr
from hearthvox.bundles.store import Store
from hearthvox.compat.refusal import check_bundle_supported, parse_ref
from hearthvox.compat.tuning import device_setup
from hearthvox.config import Config
from hearthvox.engines import load_asr, load_wake
from hearthvox.engines.asr import BiasOptions
from hearthvox.engines.memory import release_free_memory
from hearthvox.engines.vad import SileroVad
from hearthvox.errors import ModelError
from hearthvox.evaluation.corpus import find_corpus, load_corpus
from hearthvox.evaluation.evalset import EvalSet, load_or_build
from hearthvox.evaluation.metrics import EvalResult, result_from
from hearthvox.evaluation.recipes import SetSpec
from hearthvox.evaluation.runner import EvalEngines, run_clips
from hearthvox.paths import user_paths
from hearthvox.settings import engine_config
from hearthvox.skills import SkillContext, SkillRouter, SystemClock, load_skills

log = logging.getLogger(__name__)

RESULTS_VERSION = 5
"""4: start hysteresis, digit words, O and 0 one symbol in exact matches; 5: each command
clip through the daemon's Pipeline (endpoints at chunk ends, the pause decoded again with
its whole tail)."""
_RUNTIMES = ("onnxruntime", "ctranslate2", "faster-whisper")


@dataclass(frozen=True)
class EvalOptions:
    corpus: Path
    cache_dir: Path
    quick: bool = False
    seed: int = 0
    split: str = "test"
    """Which speakers (:mod:`.split`): ``test`` to report and gate, ``dev`` to tune."""
    reuse: bool = True
    """Use a cached result of the same fingerprint."""
    keep_text: bool = False
    """Keep each clip's transcript in memory (``eval --clips``): always a fresh run."""


def options_for(
    cfg: Config,
    corpus: Path | None,
    quick: bool,
    reuse: bool = True,
    keep_text: bool = False,
    split: str = "test",
) -> EvalOptions:
    cache = Path(cfg.eval.cache_dir).expanduser() if cfg.eval.cache_dir else None
    return EvalOptions(
        corpus=find_corpus(corpus, cfg.eval.corpus),
        cache_dir=cache or user_paths().cache_dir / "eval",
        quick=quick,
        seed=cfg.eval.seed,
        split=split,
        reuse=reuse,
        keep_text=keep_text,
    )


def prepare_set(
    options: EvalOptions, cfg: Config, on_synth: Callable[[str], None] | None = None
) -> EvalSet:
    """The eval set (built and cached on first use) for the config's first wake word."""
    wake = engine_config(cfg).wake.models[0]
    spec = SetSpec(options.quick, options.seed, wake, options.split)
    return load_or_build(load_corpus(options.corpus), spec, options.cache_dir, on_synth)


# ---------------------------------------------------------------- which bundle


@dataclass(frozen=True)
class Target:
    models: ModelPaths
    cfg: Config
    """The config its engines run with: the bundle's settings, the device's variant,
    the user's keys."""

    @property
    def label(self) -> str:
        return self.models.bundle_id


def target_for(models: ModelPaths, cfg: Config) -> Target:
    return Target(models, engine_config(cfg, models))


def resolve(cfg: Config, store: Store, bundle: str | None, channel: str | None) -> Target:
    """``--bundle NAME[@VERSION]`` (of ``--channel``, or of any channel), else the current
    bundle of ``--channel`` (default: ``[models] channel``)."""
    if bundle:
        found = []
        for name in [channel] if channel else CHANNELS:
            try:
                found.append(find_installed(store, name, bundle))
            except ModelError:
                continue
        if not found:
            have = ", ".join(sorted({i.manifest.ref for i in store.installed()})) or "none"
            raise ModelError(f"no bundle {bundle!r} is installed (installed: {have})")
        installed = max(found, key=lambda i: i.manifest.version)
        models = installed_paths(store, cfg, installed, installed.manifest.channel)
        return target_for(models, cfg)
    name = channel or cfg.models.channel
    current = store.read_channel(name).current
    if current is None:
        raise ModelError(f"channel {name} has no bundle to evaluate")
    return target_for(installed_paths(store, cfg, store.get(current.manifest), name), cfg)


def fingerprint(target: Target, evalset: EvalSet) -> dict[str, Any]:
    """Everything a result depends on."""
    cfg = target.cfg
    return {
        "results_version": RESULTS_VERSION,
        "hearthvox": __version__,
        "set": evalset.digest,
        "models": {
            role: sorted(f.sha256 for f in a.files)
            for role, a in sorted(target.models.artifacts.items())
        },
        "settings": {
            s: dataclasses.asdict(getattr(cfg, s)) for s in ("wake", "vad", "endpoint", "asr")
        },
        "runtimes": {name: metadata.version(name) for name in _RUNTIMES},
        **({"vocabulary": _vocabulary(cfg)} if cfg.asr.vocabulary else {}),
        "skills": [skill.name for skill in load_skills(cfg.skills.disabled)],
    }


def _vocabulary(cfg: Config) -> dict[str, Any]:
    """The vocabulary file's size and digest: a changed file is another result."""
    return BiasOptions.from_config(cfg.asr).describe()


def load_engines_for(target: Target) -> EvalEngines:
    """The bundle's wake, VAD and ASR engines (the voice is not needed)."""
    models, cfg = target.models, target.cfg
    check_bundle_supported(models.hardware, *parse_ref(models.bundle_id))
    asr = load_asr(models, cfg)
    if cfg.asr.cascade:  # measured as it runs: the second model loaded before the first clip
        choice = device_setup(cfg).second_asr()
        if choice.enabled:
            asr.attach_second(load_second_asr(cfg))
            release_free_memory()
        else:
            log.warning(
                "[asr] cascade is on, but the second model does not run here: %s", choice.reason
            )
    return EvalEngines(
        models.bundle_id,
        load_wake(models, cfg),
        SileroVad(models.vad, threads=cfg.vad.threads),
        asr,
        cfg,
        listed=asr.bias.vocabulary.written(),
        commands=_skill_commands(cfg),
    )


def _skill_commands(cfg: Config) -> Callable[[str], bool]:
    """Whether the configured skills take a transcript as a whole request, as ``run``'s
    listener asks them (nothing is set or changed: ``SkillRouter.complete``)."""
    ctx = SkillContext(clock=SystemClock(), state_dir=user_paths().state_dir)
    router = SkillRouter(load_skills(cfg.skills.disabled), ctx, cfg.skills.fallback_reply)
    return router.complete


def evaluate(
    target: Target,
    evalset: EvalSet,
    options: EvalOptions,
    progress: Callable[[int], None] | None = None,
) -> EvalResult:
    """Run the set against the bundle (or take the cached result of the same fingerprint)."""
    key = hashlib.sha256(json.dumps(fingerprint(target, evalset), sort_keys=True).encode())
    path = options.cache_dir / "results" / f"{key.hexdigest()[:32]}.json"
    if options.reuse and not options.keep_text:
        cached = _read_result(path)
        if cached is not None:
            return dataclasses.replace(cached, bundle=target.label, extra={"cached": True})
    t0 = time.perf_counter()
    engines = load_engines_for(target)
    outcomes = tuple(run_clips(engines, evalset.clips, progress))
    seconds = round(time.perf_counter() - t0, 1)
    spec = evalset.spec
    result = result_from(
        target.label, evalset.digest, spec.quick, outcomes, seconds, key.hexdigest(), spec.split
    )
    _write_result(path, result)
    return result


def _read_result(path: Path) -> EvalResult | None:
    try:
        return EvalResult.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_result(path: Path, result: EvalResult) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(result.to_dict()))
    os.replace(tmp, path)
