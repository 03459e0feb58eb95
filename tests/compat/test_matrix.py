"""The compatibility matrix and profile selection with reasons."""

from __future__ import annotations

from pathlib import Path

import pytest

from hearthvox.compat import Matrix, Probe, load_matrix, parse_matrix, probe, select_profile
from hearthvox.errors import ConfigError

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]
MATRIX = load_matrix()


def _probe(name: str, cuda: int = 0) -> Probe:
    return probe(FIXTURES / name, onnx_providers=["CPUExecutionProvider"], cuda_devices=cuda)


def test_packaged_matrix_has_the_profiles_in_order() -> None:
    assert [p.id for p in MATRIX.profiles] == ["x86-avx2", "aarch64-generic", "generic-cpu"]
    assert MATRIX.profiles[-1].match.is_fallback
    assert load_matrix(REPO / "compat_matrix.yaml") == Matrix(
        MATRIX.schema_version, MATRIX.defaults, MATRIX.profiles, str(REPO / "compat_matrix.yaml")
    )


def test_x86_avx2_selects_x86_profile() -> None:
    s = select_profile(_probe("x86-avx2"), MATRIX)
    assert s.profile == "x86-avx2"
    assert s.reasons[0] == "x86_64 with AVX2 and 23 GB RAM matches 'x86-avx2'"
    assert "CUDA not available: ASR stays on CPU int8" in s.reasons
    assert s.variants["asr"] == {
        "model": "asr/whisper-tiny.en",
        "device": "cpu",
        "compute_type": "int8",
        "beam_size": 1,
        "threads": 2,  # 4 in the matrix, capped at the 2 cores
    }
    assert any("threads capped" in r and "asr 4->2" in r for r in s.reasons)
    assert s.variants["wake"] == {"models": ["hey_jarvis"], "threads": 1}
    assert s.variants["vad"] == {"threads": 1}
    assert s.variants["tts"]["voice"] == "tts/en_US-joe-medium"


def test_x86_with_cuda_moves_asr_to_gpu() -> None:
    s = select_profile(_probe("x86-avx2", cuda=1), MATRIX)
    assert s.profile == "x86-avx2"
    assert s.variants["asr"]["device"] == "cuda"
    assert s.variants["asr"]["compute_type"] == "float16"
    assert "CUDA available (1 device(s)): ASR runs on CUDA float16" in s.reasons


def test_x86_without_avx2_falls_back() -> None:
    s = select_profile(_probe("x86-noavx2"), MATRIX)
    assert s.profile == "generic-cpu"
    assert s.reasons[0] == "'x86-avx2' does not fit: it needs AVX2"
    assert "'aarch64-generic' does not fit: it needs aarch64 or arm64, this is x86_64" in s.reasons
    assert "no specific profile fits this x86_64; falling back to 'generic-cpu'" in s.reasons
    assert s.variants["asr"]["compute_type"] == "int8"


def test_raspberry_pi_4_selects_aarch64() -> None:
    s = select_profile(_probe("rpi4"), MATRIX)
    assert s.profile == "aarch64-generic"
    assert "'x86-avx2' does not fit: it needs x86_64 or amd64, this is aarch64; it needs AVX2" in (
        s.reasons
    )
    assert (
        "aarch64 (Raspberry Pi 4 Model B Rev 1.4) with 7.6 GB RAM matches 'aarch64-generic'"
        in s.reasons
    )
    assert "CUDA not available: ASR stays on CPU int8" in s.reasons
    assert s.variants["asr"]["threads"] == 4  # 4 cores: nothing capped
    assert not any("capped" in r for r in s.reasons)


def test_jetson_selects_aarch64_with_cuda_when_present() -> None:
    s = select_profile(_probe("jetson-orin-nano", cuda=1), MATRIX)
    assert s.profile == "aarch64-generic"
    assert any("NVIDIA Jetson Orin Nano Developer Kit" in r for r in s.reasons)
    assert s.variants["asr"]["device"] == "cuda"
    s = select_profile(_probe("jetson-orin-nano", cuda=0), MATRIX)
    assert s.variants["asr"]["device"] == "cpu"
    assert "CUDA not available: ASR stays on CPU int8" in s.reasons


def test_selection_does_not_mutate_the_matrix() -> None:
    before = load_matrix()
    select_profile(_probe("x86-avx2", cuda=1), MATRIX)
    assert before == load_matrix() and before.defaults == MATRIX.defaults


MINI = """
schema_version: 1
defaults:
  wake: {models: [hey_jarvis], threads: 1}
  vad: {threads: 1}
  asr: {model: asr/whisper-tiny.en, device: cpu, compute_type: int8, beam_size: 1, threads: 1}
  tts: {voice: tts/en_US-joe-medium, threads: 1}
profiles:
  - id: pi4
    match: {board: ["Raspberry Pi 4"], min_cores: 4, cuda: false}
    variants: {asr: {beam_size: 2}}
  - id: jetson
    match: {l4t: true, cuda: true}
"""


def test_general_match_keys() -> None:
    matrix = parse_matrix(MINI)
    s = select_profile(_probe("rpi4"), matrix)
    assert s.profile == "pi4" and s.variants["asr"]["beam_size"] == 2
    s = select_profile(_probe("jetson-orin-nano", cuda=1), matrix)
    assert s.profile == "jetson"
    with pytest.raises(ConfigError, match="no profile matches"):
        select_profile(_probe("x86-avx2"), matrix)


def test_cuda_error_is_reported() -> None:
    p = _probe("x86-avx2")
    p = Probe(**{**p.__dict__, "cuda_error": "RuntimeError: driver too old"})
    s = select_profile(p, MATRIX)
    assert "CUDA not available (CTranslate2: RuntimeError: driver too old)" in " ".join(s.reasons)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("schema_version: 1\n  bad: [", "not valid YAML"),
        ("schema_version: 2\n", "schema_version is 2"),
        (MINI.replace("  tts: {voice: tts/en_US-joe-medium, threads: 1}\n", ""), "lack stage"),
        (MINI.replace("min_cores: 4", "min_ram: 4"), "unknown key(s) min_ram"),
        (MINI.replace("asr: {beam_size: 2}", "llm: {x: 1}"), "unknown stage 'llm'"),
        (MINI.replace("id: jetson", "id: pi4"), "repeat"),
    ],
)
def test_bad_matrices_raise_config_error(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_matrix(text, "<test>")
    assert fragment in str(info.value)
