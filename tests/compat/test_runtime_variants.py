"""The daemon runs exactly what ``hearthvox hw`` says: the live engines carry the variants."""

from __future__ import annotations

from typing import Any

import pytest

from hearthvox import config as config_mod
from hearthvox.compat import effective_config, user_matrix_path
from hearthvox.compat.device import device_report
from hearthvox.compat.matrix import packaged_matrix_text
from hearthvox.config import Config
from hearthvox.engines import Engines
from hearthvox.paths import user_paths
from hearthvox.runtime import load_runtime


def _ort_threads(session: Any) -> int:
    return int(session.get_session_options().intra_op_num_threads)


def _assert_live(engines: Engines, v: dict[str, dict[str, Any]]) -> None:
    """The loaded engines against the variants (reading the runtimes' own objects)."""
    assert engines.cfg is not None
    assert engines.cfg.asr.threads == v["asr"]["threads"]
    assert engines.asr.device == v["asr"]["device"]
    assert engines.asr.compute_type == v["asr"]["compute_type"]
    # CTranslate2's own model: on a CPU "int8" runs as int8_float32
    assert engines.asr.model.model.compute_type.startswith(v["asr"]["compute_type"])
    assert engines.asr.model.model.device == v["asr"]["device"]
    assert engines.asr.beam_size == v["asr"]["beam_size"]
    # the ONNX Runtime sessions' intra-op thread counts (private: the engines keep them)
    assert _ort_threads(engines.vad._session) == v["vad"]["threads"]
    assert _ort_threads(engines.wake._mel) == v["wake"]["threads"]
    assert _ort_threads(engines.tts._voice.session) == v["tts"]["threads"]
    assert list(engines.wake.model_names) == v["wake"]["models"]


@pytest.mark.usefixtures("x86_avx2_host")
def test_the_daemon_uses_the_x86_profile_variants() -> None:
    _setup, report = device_report(Config())
    assert report["profile"] == "x86-avx2"
    v = report["variants"]
    assert (v["asr"]["compute_type"], v["tts"]["threads"]) == ("int8", 2)
    runtime = load_runtime(config_mod.load())
    assert runtime.device is not None and runtime.device.selection.profile == "x86-avx2"
    _assert_live(runtime.engines, v)
    assert runtime.cfg.endpoint.hangover_ms == v["endpoint"]["hangover_ms"]
    assert runtime.cfg.endpoint.max_utterance_s == v["endpoint"]["max_utterance_s"]


@pytest.mark.usefixtures("x86_avx2_host")
def test_a_changed_matrix_and_a_config_override_reach_the_engines() -> None:
    text = packaged_matrix_text()
    old = "      asr: {threads: 4}\n      tts: {threads: 2}\n    cuda:\n      asr: {device: cuda"
    assert old in text
    path = user_matrix_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        text.replace(
            old,
            "      asr: {threads: 1, compute_type: int8_float32, beam_size: 2}\n"
            "      tts: {threads: 1}\n"
            "      endpoint: {max_utterance_s: 9.5}\n"
            "    cuda:\n      asr: {device: cuda",
            1,
        )
    )
    user_paths().config_file.write_text("[asr]\nbeam_size = 3\n")  # the user's key wins
    cfg = config_mod.load()
    _setup, report = device_report(cfg)
    v = report["variants"]
    assert v["asr"] == {"model": "asr/whisper-tiny.en", "device": "cpu",
                        "compute_type": "int8_float32", "beam_size": 3, "threads": 1}  # fmt: skip
    assert [o["key"] for o in report["overrides"]] == ["asr.beam_size"]
    runtime = load_runtime(cfg)
    _assert_live(runtime.engines, v)
    assert runtime.cfg.endpoint.max_utterance_s == 9.5
    assert effective_config(runtime.cfg) == runtime.cfg  # tuning its own result changes nothing
