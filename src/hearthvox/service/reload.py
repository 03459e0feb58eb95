"""Apply a new config to a running assistant (SIGHUP).

The engines change only when their settings changed (``[wake]``, ``[vad]``,
``[asr]``, ``[tts]`` as tuned for this device, or ``[models]``), and only those: a
decoding setting (a threshold, the beam size, the vocabulary, the voice's speed)
retunes the loaded model; a model setting (the models, threads, device, compute type,
language) loads that stage's model again and keeps the others
(:func:`hearthvox.engines.reload_engines`); ``[models]`` loads the (new) bundle's
four. New engines are loaded beside the old ones, and a failure keeps the old.
Everything else (skills, replies, endpoint timing, telemetry, service) applies
without touching the models. ``[audio]`` changes need a restart: the input is
open and stays as it is.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from hearthvox.config import Config
from hearthvox.engines import reload_engines
from hearthvox.runtime import (
    Runtime,
    load_runtime,
    share_skill_vocabulary,
    start_llm_backend,
    start_second_asr,
)
from hearthvox.settings import engine_config
from hearthvox.skills.registry import SkillRouter

ENGINE_SECTIONS = ("wake", "vad", "asr", "tts", "models")
ENGINE_NAMES = ("wake", "vad", "asr", "tts")


@dataclass(frozen=True)
class Reloaded:
    runtime: Runtime
    engines_changed: tuple[str, ...]
    """The engine sections whose settings changed (empty: the engines were kept)."""
    notes: tuple[str, ...] = ()
    loaded: tuple[str, ...] = ()
    """The engines loaded anew (``wake``, ``vad``, ``asr``, ``tts``)."""

    def summary(self) -> str:
        changed = ", ".join(self.engines_changed)
        if self.loaded:
            done = f"models reloaded: {', '.join(self.loaded)} ({changed} changed)"
        elif self.engines_changed:
            done = f"models kept ({changed} changed, applied without a reload)"
        else:
            done = "models kept"
        return "; ".join((done, *self.notes))


def reload_runtime(runtime: Runtime, cfg: Config) -> Reloaded:
    """The runtime for ``cfg``; raises HearthvoxError (and changes nothing) when it cannot."""
    notes: list[str] = []
    if cfg.audio != runtime.cfg.audio:
        notes.append("[audio] changes take effect at the next start")
        cfg = dataclasses.replace(cfg, audio=runtime.cfg.audio)
    tuned = engine_config(cfg, runtime.models)
    changed = tuple(s for s in ENGINE_SECTIONS if getattr(tuned, s) != getattr(runtime.cfg, s))
    if "models" in changed:  # another bundle, or the trial rules: a full start
        return Reloaded(load_runtime(cfg, runtime.paths), changed, tuple(notes), ENGINE_NAMES)
    router = SkillRouter.from_config(cfg.skills, runtime.skills)
    llm = runtime.llm
    if tuned.llm != runtime.cfg.llm:  # the language model again, or none (a failure: none)
        llm = start_llm_backend(tuned, runtime.paths)
        changed = (*changed, "llm")
    if not any(s in ENGINE_NAMES for s in changed):
        share_skill_vocabulary(runtime.engines, router)
        new = dataclasses.replace(runtime, cfg=tuned, router=router, llm=llm)
        return Reloaded(new, changed, tuple(notes), ("llm",) if "llm" in changed else ())
    engines, loaded = reload_engines(runtime.models, runtime.engines, tuned, changed)
    share_skill_vocabulary(engines, router)
    start_second_asr(engines, runtime.device, runtime.paths)
    new = dataclasses.replace(runtime, cfg=tuned, engines=engines, router=router, llm=llm)
    return Reloaded(new, changed, tuple(notes), (*loaded, *(("llm",) if "llm" in changed else ())))
