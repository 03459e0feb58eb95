"""The second ASR model per profile: on for x86 and Jetson, off on a Raspberry Pi 4, with
the reason; ``[asr] second_model`` of the user's config wins over the profile."""

from __future__ import annotations

from pathlib import Path

import pytest

from hearthvox import config as config_mod
from hearthvox.cli.hw import summary
from hearthvox.compat import load_matrix, parse_matrix, probe, select_profile
from hearthvox.compat.device import device_report
from hearthvox.compat.matrix import packaged_matrix_text
from hearthvox.compat.tuning import DeviceSetup, tune
from hearthvox.config import Config
from hearthvox.errors import ConfigError

FIXTURES = Path(__file__).parent / "fixtures"
MATRIX = load_matrix()


def _setup(fixture: str, cfg: Config, cuda: int = 0) -> DeviceSetup:
    found = probe(FIXTURES / fixture, onnx_providers=["CPUExecutionProvider"], cuda_devices=cuda)
    return tune(cfg, select_profile(found, MATRIX), found)


@pytest.mark.parametrize(
    ("fixture", "cuda", "enabled", "why"),
    [
        ("x86-avx2", 0, True, "transcribes a 2.9 s command in 0.21 s"),
        ("x86-noavx2", 0, True, "x86-64 runs Whisper base"),
        ("jetson-orin-nano", 1, True, "float16"),
        ("rpi4", 0, False, "memory and speed"),
        ("rpi5", 0, False, "does not turn it on"),
    ],
)
def test_each_profile_chooses_with_a_reason(
    fixture: str, cuda: int, enabled: bool, why: str
) -> None:
    setup = _setup(fixture, Config(), cuda)
    choice = setup.second_asr()
    assert (choice.enabled, choice.by, choice.model) == (enabled, "profile", "asr/whisper-base")
    assert why in choice.reason
    said = "on" if enabled else "off"
    assert f"second ASR model (asr/whisper-base): {said}: {choice.reason}" in (
        setup.selection.reasons
    )


def test_the_config_key_wins_over_the_profile() -> None:
    on = config_mod.from_dict({"asr": {"second_model": "on"}})
    choice = _setup("rpi4", on).second_asr()
    assert choice.enabled and choice.by == "config"
    assert "second_model = 'on' (profile 'rpi4' says off: memory and speed" in choice.reason
    off = config_mod.from_dict({"asr": {"second_model": "off"}})
    assert not _setup("x86-avx2", off).second_asr().enabled
    auto = config_mod.from_dict({"asr": {"second_model": "auto"}})
    assert _setup("x86-avx2", auto).second_asr().by == "profile"
    with pytest.raises(ConfigError, match="second_model"):
        config_mod.from_dict({"asr": {"second_model": "yes"}})


def test_hw_shows_the_choice() -> None:
    cfg = config_mod.from_dict({"asr": {"second_model": "on"}})
    _, report = device_report(cfg, root=FIXTURES / "rpi4", bundle="default-0.1.0@1")
    assert report["second_asr"]["enabled"] is True and report["second_asr"]["by"] == "config"
    assert "  second ASR model    asr/whisper-base: on" in summary(report)
    assert any(
        r.startswith("second ASR model (asr/whisper-base): off: ") for r in report["reasons"]
    )


def test_a_profile_may_not_set_the_users_switch() -> None:
    text = packaged_matrix_text().replace(
        "asr: {threads: 2}\n      endpoint", "asr: {threads: 2, second_model: 'on'}\n      endpoint"
    )
    with pytest.raises(ConfigError, match="second_model is the user's switch"):
        parse_matrix(text, "<t>")
    bad = packaged_matrix_text().replace("enabled: false", "enabled: nope")
    with pytest.raises(ConfigError, match=r"second_asr\.enabled: expected true or false"):
        parse_matrix(bad, "<t>")
