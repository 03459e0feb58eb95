"""Assembles a ready assistant: config, model paths, engines, skills, timers."""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
import time
from dataclasses import dataclass, field

from hearthvox.bundles.active import record_in_use, start_active_bundle
from hearthvox.bundles.default import ModelPaths
from hearthvox.bundles.health import health_check
from hearthvox.bundles.optional import load_llm, load_second_asr
from hearthvox.compat.refusal import check_bundle_supported, parse_ref
from hearthvox.compat.tuning import DeviceSetup, device_setup
from hearthvox.config import Config
from hearthvox.engines import Engines, load_engines
from hearthvox.engines.executor import EngineExecutor
from hearthvox.engines.llm import LlamaLlm
from hearthvox.engines.llm_remote import RemoteLlm, RemoteOptions
from hearthvox.engines.memory import release_free_memory
from hearthvox.errors import HearthvoxError
from hearthvox.paths import Paths, user_paths
from hearthvox.pipeline.runner import Observer, Pipeline
from hearthvox.settings import engine_config
from hearthvox.skills.base import SkillContext, SystemClock
from hearthvox.skills.registry import SkillRouter, load_skills

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    cfg: Config
    paths: Paths
    models: ModelPaths
    engines: Engines
    skills: SkillContext
    router: SkillRouter
    ready_ms: float
    observers: list[Observer] = field(default_factory=list)
    """Called with every pipeline event (telemetry subscribes here)."""
    device: DeviceSetup | None = None
    """This device's profile and the variants the engines run with (``hearthvox hw``)."""
    llm: LlamaLlm | RemoteLlm | None = None
    """The language model for what no skill answers (``[llm]``), when it runs here (or
    the server of ``[llm] url``, the local model behind it)."""

    def announcements(self) -> list[str]:
        """Texts of the timers that fell due (each returned once)."""
        timers = self.skills.timers
        return [timers.announcement(t) for t in timers.due()]

    def pipeline(self) -> Pipeline:
        return Pipeline(
            self.engines,
            self.router,
            self.cfg,
            self.announcements,
            observers=self.observers,
            llm=self.llm,
        )

    def executors(self) -> list[EngineExecutor]:
        """Every engine's thread, the language model's too (what the watchdog sees)."""
        own = [self.llm.executor] if self.llm is not None else []
        return [*self.engines.executors(), *own]


def start_llm(cfg: Config, paths: Paths | None = None) -> LlamaLlm | None:
    """The local language model of ``[llm]``, loaded now (its header and memory budget
    checked first), or None: ``enabled = false``, the ``[llm]`` extra not installed (said
    once), or a model that does not load or fit (said once, with the numbers; the
    assistant runs without it)."""
    if not cfg.llm.enabled:
        return None
    if not cfg.llm.model and importlib.util.find_spec("llama_cpp") is None:
        log.info("no language model for what no skill answers: the [llm] extra is not installed")
        return None
    try:
        return load_llm(cfg, paths)
    except HearthvoxError as exc:
        log.warning("the language model is off: %s", exc)
        return None


def start_llm_backend(cfg: Config, paths: Paths | None = None) -> LlamaLlm | RemoteLlm | None:
    """What answers what no skill does, as ``[llm] backend`` says: the local model
    (:func:`start_llm`), or the server of ``[llm] url`` with the local model (where it
    loads) behind it, said in one warning line: what no skill answers leaves the device."""
    local = start_llm(cfg, paths)
    if not cfg.llm.enabled or cfg.llm.backend != "openai":
        return local
    remote = RemoteLlm(RemoteOptions.from_config(cfg.llm), local)
    behind = (
        "the local model" if local is not None else "the fallback skill's reply (no local model)"
    )
    log.warning(
        '[llm] backend = "openai": what no skill answers is sent, with the recent turns, off '
        "this device to the server at %s; when it is away or slow, %s answers",
        remote.where,
        behind,
    )
    if cfg.llm.api_key_env and not os.environ.get(cfg.llm.api_key_env):
        log.warning(
            "[llm] api_key_env names %s, which is not set: the server is asked without a key",
            cfg.llm.api_key_env,
        )
    return remote


def start_second_asr(
    engines: Engines, device: DeviceSetup | None, paths: Paths | None, *, wait: bool = False
) -> None:
    """With ``[asr] cascade`` where the second model runs (``hw``), load it in the
    background and hand it to the ASR when ready: its load never delays a turn (until
    then the small model's text stands). A model that cannot load is said once.
    ``wait``: return once it is loaded (measurements: every clip decoded as the daemon
    decodes once the model is in)."""
    cfg = engines.cfg
    if cfg is None or not cfg.asr.cascade or engines.asr.second is not None:
        return
    choice = device.second_asr() if device is not None else None
    if choice is None or not choice.enabled:
        why = choice.reason if choice is not None else "no device profile"
        log.info("[asr] cascade is on, but the second model does not run here: %s", why)
        return
    small = engines.asr

    def load() -> None:
        try:
            small.attach_second(load_second_asr(cfg, paths))
        except HearthvoxError as exc:
            log.warning("the cascade is off: %s", exc)
        else:
            log.info("the cascade's second model is loaded (%s)", choice.model)
        release_free_memory()  # the float16 weights read before the int8 conversion

    thread = threading.Thread(target=load, name="hv-load-second-asr", daemon=True)
    thread.start()
    if wait:
        thread.join()


def load_second_asr_now(engines: Engines, paths: Paths | None = None) -> None:
    """The cascade's second model for a measurement (eval, bench, report): loaded before
    the first clip where ``[asr] cascade`` is on and it runs on this device."""
    if engines.cfg is not None:
        start_second_asr(engines, device_setup(engines.cfg), paths, wait=True)


def share_skill_vocabulary(engines: Engines, router: SkillRouter) -> None:
    """The ASR hears the skills' own words along with a user's or a request's list."""
    engines.asr.skill_vocabulary = router.vocabulary()


def load_runtime(cfg: Config, paths: Paths | None = None, *, wait_second: bool = False) -> Runtime:
    """Resolve the active bundle of the configured channel and load every engine once
    (the cascade's second model in the background, or at once with ``wait_second``)."""
    t0 = time.perf_counter()
    paths = paths or user_paths()
    device = device_setup(cfg)  # probed once per process; the matrix's variant for it

    def load(m: ModelPaths) -> Engines:
        check_bundle_supported(m.hardware, *parse_ref(m.bundle_id))  # known bad: refuse now
        return load_engines(m, engine_config(cfg, m))  # user > bundle > matrix > default

    models, engines = start_active_bundle(  # the configured channel's bundle; trial check
        cfg, paths, load, health_check
    )
    record_in_use(paths, cfg.models.channel, models.bundle_id)
    ctx = SkillContext(clock=SystemClock(), state_dir=paths.state_dir)
    router = SkillRouter(load_skills(cfg.skills.disabled), ctx, cfg.skills.fallback_reply)
    share_skill_vocabulary(engines, router)
    start_second_asr(engines, device, paths, wait=wait_second)
    run_cfg = engines.cfg or cfg  # endpoint timing and the rest, as the engines were tuned
    llm = start_llm_backend(run_cfg, paths)  # its budgets as the matrix sets them for this device
    ready_ms = (time.perf_counter() - t0) * 1000.0
    return Runtime(run_cfg, paths, models, engines, ctx, router, ready_ms, device=device, llm=llm)
