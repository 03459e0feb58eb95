"""The settings precedence, in one function: user > bundle > matrix > default."""

from __future__ import annotations

import dataclasses

import pytest

from hearthvox import config as config_mod
from hearthvox.bundles.default import default_model_paths
from hearthvox.compat.record import ran_with
from hearthvox.config import Config, TtsConfig
from hearthvox.settings import engine_config


@pytest.mark.usefixtures("x86_avx2_host")
def test_user_then_bundle_then_matrix_then_default() -> None:
    plain = default_model_paths()
    # the x86-avx2 profile runs the voice on 2 threads; the default is 1
    assert TtsConfig().threads == 1
    assert engine_config(Config(), plain).tts.threads == 2  # matrix > default
    bundled = dataclasses.replace(plain, settings={"tts": {"threads": 1}})
    # the bundle's key beats the matrix, also where it holds the default's value
    assert engine_config(Config(), bundled).tts.threads == 1
    user = config_mod.from_dict({"tts": {"threads": 2}})
    assert engine_config(user, bundled).tts.threads == 2  # user > bundle
    # a key no one sets keeps its default
    assert engine_config(Config(), bundled).tts.length_scale == TtsConfig().length_scale
    once = engine_config(user, bundled)
    assert engine_config(once, bundled) == once  # applying it again changes nothing


def test_hw_record_writes_what_the_engines_ran_with() -> None:
    models = dataclasses.replace(default_model_paths(), settings={"asr": {"beam_size": 3}})
    cfg = config_mod.from_dict({"asr": {"beam_size": 3, "threads": 1}})
    ran = ran_with(cfg, models)
    assert ran["asr"]["model"] == models.artifacts["asr"].id
    assert (ran["asr"]["beam_size"], ran["asr"]["threads"]) == (3, 1)
    assert ran["tts"]["voice"] == models.artifacts["tts"].id.split("/", 1)[-1]
