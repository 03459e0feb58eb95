"""Apply a new config to a running assistant (SIGHUP).

The engines are reloaded only when their settings changed (``[wake]``, ``[vad]``,
``[asr]``, ``[tts]`` as tuned for this device, or ``[models]``): then the new
bundle's engines are loaded beside the old ones, and a failure keeps the old.
Everything else (skills, replies, endpoint timing, telemetry, service) applies
without touching the models. ``[audio]`` changes need a restart: the input is
open and stays as it is.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from hearthvox.bundles.active import bundle_config
from hearthvox.compat.tuning import effective_config
from hearthvox.config import Config
from hearthvox.runtime import Runtime, load_runtime
from hearthvox.skills.registry import SkillRouter

ENGINE_SECTIONS = ("wake", "vad", "asr", "tts", "models")


@dataclass(frozen=True)
class Reloaded:
    runtime: Runtime
    engines_changed: tuple[str, ...]
    """The sections whose change reloaded the engines (empty: the engines were kept)."""
    notes: tuple[str, ...] = ()

    def summary(self) -> str:
        done = (
            f"models reloaded ({', '.join(self.engines_changed)} changed)"
            if self.engines_changed
            else "models kept"
        )
        return "; ".join((done, *self.notes))


def reload_runtime(runtime: Runtime, cfg: Config) -> Reloaded:
    """The runtime for ``cfg``; raises HearthvoxError (and changes nothing) when it cannot."""
    notes: list[str] = []
    if cfg.audio != runtime.cfg.audio:
        notes.append("[audio] changes take effect at the next start")
        cfg = dataclasses.replace(cfg, audio=runtime.cfg.audio)
    tuned = effective_config(bundle_config(cfg, runtime.models))
    changed = tuple(s for s in ENGINE_SECTIONS if getattr(tuned, s) != getattr(runtime.cfg, s))
    if changed:
        return Reloaded(load_runtime(cfg, runtime.paths), changed, tuple(notes))
    router = SkillRouter.from_config(cfg.skills, runtime.skills)
    return Reloaded(dataclasses.replace(runtime, cfg=tuned, router=router), (), tuple(notes))
