"""SIGHUP's config applied to a running assistant: engines kept unless their settings changed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from hearthvox.bundles.default import default_model_paths
from hearthvox.config import Config, from_dict
from hearthvox.engines import Engines
from hearthvox.errors import ConfigError
from hearthvox.paths import user_paths
from hearthvox.runtime import Runtime
from hearthvox.service.reload import reload_runtime
from hearthvox.skills.base import SkillContext, SystemClock
from hearthvox.skills.registry import SkillRouter


def _runtime(engines: Engines, state: Path) -> Runtime:
    cfg = engines.cfg or Config()
    ctx = SkillContext(clock=SystemClock(), state_dir=state)
    router = SkillRouter.from_config(cfg.skills, ctx)
    return Runtime(cfg, user_paths(), default_model_paths(), engines, ctx, router, 0.0)


def test_skills_and_replies_apply_without_touching_the_models(
    engines: Engines, tmp_path: Path
) -> None:
    old = _runtime(engines, tmp_path)
    cfg = from_dict({"skills": {"disabled": ["time"], "fallback_reply": "Not now."}})
    done = reload_runtime(old, cfg)
    assert done.engines_changed == () and done.runtime.engines is engines
    assert done.runtime.skills is old.skills  # timers and their state carry over
    skill, result = done.runtime.router.answer("what time is it")
    assert result.text == "Not now."
    assert done.summary() == "models kept"


def test_audio_changes_wait_for_a_restart(engines: Engines, tmp_path: Path) -> None:
    old = _runtime(engines, tmp_path)
    cfg = from_dict({"audio": {"input_device": "USB"}})
    done = reload_runtime(old, cfg)
    assert done.runtime.cfg.audio == old.cfg.audio
    assert "[audio] changes take effect at the next start" in done.summary()


def test_engine_settings_reload_the_models_and_a_failure_changes_nothing(
    engines: Engines, tmp_path: Path
) -> None:
    old = _runtime(engines, tmp_path)
    before = dataclasses.replace(old)
    with pytest.raises(ConfigError, match="'nope' is not a wake word of bundle"):
        reload_runtime(old, from_dict({"wake": {"models": ["nope"]}}))
    assert old == before and old.engines is engines


def test_only_the_changed_stage_is_loaded_again(engines: Engines, tmp_path: Path) -> None:
    old = _runtime(engines, tmp_path)
    threads = old.cfg.asr.threads % 2 + 1  # a model setting: the session is created anew
    done = reload_runtime(old, from_dict({"asr": {"threads": threads}}))
    new = done.runtime.engines
    assert done.engines_changed == ("asr",) and done.loaded == ("asr",)
    assert new.asr is not engines.asr and new.asr.model is not engines.asr.model
    assert (new.wake, new.vad, new.tts) == (engines.wake, engines.vad, engines.tts)
    assert done.runtime.cfg.asr.threads == threads and new.cfg is not None
    assert done.summary() == "models reloaded: asr (asr changed)"


def test_decoding_settings_retune_the_loaded_models(engines: Engines, tmp_path: Path) -> None:
    old = _runtime(engines, tmp_path)
    beam = old.cfg.asr.beam_size + 1
    cfg = from_dict(
        {
            "asr": {"beam_size": beam, "correct_threshold": 0.95},
            "wake": {"threshold": 0.61, "refractory_s": 3.0},
            "tts": {"length_scale": 1.2, "first_clause": False},
        }
    )
    done = reload_runtime(old, cfg)
    new = done.runtime.engines
    assert done.engines_changed == ("wake", "asr", "tts") and done.loaded == ()
    # new engine objects on the same loaded models and sessions
    assert new.asr is not engines.asr and new.asr.model is engines.asr.model
    assert (new.asr.beam_size, new.asr.bias.threshold) == (beam, 0.95)
    assert engines.asr.beam_size == old.cfg.asr.beam_size  # a turn in flight keeps its own
    assert new.wake is not engines.wake and new.wake.model_names == engines.wake.model_names
    assert new.wake.threshold_for(new.wake.model_names[0]) == 0.61
    assert new.wake.refractory_ms == 3000.0
    assert new.tts is not engines.tts and new.tts.chunking.first_clause is False
    assert new.tts.rate_hz == engines.tts.rate_hz and new.vad is engines.vad
    assert done.summary() == "models kept (wake, asr, tts changed, applied without a reload)"
    # the retuned engines still work
    assert new.asr.transcribe(np.zeros(16000, dtype=np.int16)).text == ""
    assert sum(len(a) for a in new.tts.sentences("Hello.")) > 0


def test_a_vad_threshold_needs_no_new_model(engines: Engines, tmp_path: Path) -> None:
    old = _runtime(engines, tmp_path)
    done = reload_runtime(old, from_dict({"vad": {"threshold": 0.55}}))
    new = done.runtime.engines
    assert done.engines_changed == ("vad",) and done.loaded == ()
    assert (new.wake, new.vad, new.asr, new.tts) == (
        engines.wake, engines.vad, engines.asr, engines.tts
    )  # fmt: skip
    assert done.runtime.cfg.vad.threshold == 0.55  # what the endpointer reads
    assert done.summary() == "models kept (vad changed, applied without a reload)"


def test_service_keys_are_checked_at_load() -> None:
    cfg = from_dict({"service": {"drain_s": 2, "stall_s": 45}})
    assert (cfg.service.drain_s, cfg.service.stall_s) == (2.0, 45.0)
    with pytest.raises(ConfigError, match=r"\[service\] drain_s must be greater than 0"):
        from_dict({"service": {"drain_s": 0}})
    with pytest.raises(ConfigError, match=r"\[service\] stall_s must be 0 or more"):
        from_dict({"service": {"stall_s": -1}})
