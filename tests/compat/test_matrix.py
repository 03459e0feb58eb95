"""Profile selection with reasons, on the probe fixtures of real device kinds."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from hearthvox.compat import Probe, load_matrix, probe, select_profile
from hearthvox.compat.matrix import PACKAGED, packaged_matrix_text

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]
MATRIX = load_matrix()


def _probe(name: str, cuda: int = 0) -> Probe:
    return probe(FIXTURES / name, onnx_providers=["CPUExecutionProvider"], cuda_devices=cuda)


def test_packaged_matrix_has_the_profiles_in_order() -> None:
    assert MATRIX.origin == PACKAGED
    assert [p.id for p in MATRIX.profiles] == [
        "jetson-orin",
        "x86-avx2",
        "x86-minimal",
        "rpi5",
        "rpi4",
        "aarch64-generic",
        "fallback",
    ]
    assert MATRIX.profiles[-1].match.is_fallback
    top = REPO / "compat_matrix.yaml"
    assert top.is_symlink() and top.read_text() == packaged_matrix_text()


@pytest.mark.parametrize(
    ("fixture", "cuda", "profile"),
    [
        ("x86-avx2", 0, "x86-avx2"),  # the development host (AMD EPYC VM, 23 GB)
        ("x86-laptop", 0, "x86-avx2"),  # Core i5-8250U, 8 GB
        ("x86-noavx2", 0, "x86-minimal"),  # Celeron N3350, SSE4.2 only
        ("rpi5", 0, "rpi5"),
        ("rpi4", 0, "rpi4"),
        ("jetson-orin-nano", 1, "jetson-orin"),
        ("jetson-orin-nano", 0, "jetson-orin"),
        ("aarch64-server", 0, "aarch64-generic"),  # Graviton2, no device tree
    ],
)
def test_each_device_selects_its_profile(fixture: str, cuda: int, profile: str) -> None:
    s = select_profile(_probe(fixture, cuda), MATRIX)
    assert s.profile == profile
    assert s.matrix == PACKAGED
    assert s.rules and all(rule.ok for rule in s.rules)
    assert s.variants["asr"]["model"] == "asr/whisper-tiny.en"
    assert set(s.variants) == {"wake", "vad", "asr", "tts", "endpoint", "llm"}


def test_an_unknown_device_falls_back(tmp_path: Path) -> None:
    s = select_profile(_probe(str(tmp_path)), MATRIX)
    assert s.profile == "fallback"
    assert "no specific profile fits this unknown; falling back to 'fallback'" in s.reasons
    assert s.variants["asr"]["threads"] == 1  # capped at the one core it reports


def test_reasons_name_each_rule_and_its_value() -> None:
    s = select_profile(_probe("x86-laptop"), MATRIX)
    assert s.reasons[0] == (
        "'jetson-orin' does not fit: arch: wants aarch64, this device: x86_64; "
        "board: wants 'Orin', this device: no board model; "
        "l4t: wants NVIDIA Jetson Linux, this device: no /etc/nv_tegra_release"
    )
    assert s.reasons[1] == (
        "'x86-avx2' matches: arch: x86_64 (wants x86_64 or amd64); flags: has AVX2 "
        "(wants AVX2); min_mem_mb: 7.6 GB RAM (wants at least 6.8 GB RAM)"
    )
    assert (
        "'x86-avx2' has a CUDA variant (CUDA float16), but CTranslate2 sees no CUDA device: "
        "falling back to the CPU variant, CPU int8"
    ) in s.reasons
    assert [(r.rule, r.value) for r in s.rules] == [
        ("arch", "x86_64"),
        ("flags", "has AVX2"),
        ("min_mem_mb", "7.6 GB RAM"),
    ]
    assert s.variants["asr"] == {
        "model": "asr/whisper-tiny.en",
        "device": "cpu",
        "compute_type": "int8",
        "beam_size": 1,
        "threads": 4,  # 8 logical CPUs: nothing capped
    }
    assert s.variants["tts"] == {"voice": "en_US-joe-medium", "threads": 2}
    assert not any("capped" in r for r in s.reasons)


def test_old_x86_says_what_it_lacks() -> None:
    s = select_profile(_probe("x86-noavx2"), MATRIX)
    assert (
        "'x86-avx2' does not fit: flags: wants AVX2, this device: lacks AVX2; "
        "min_mem_mb: wants at least 6.8 GB RAM, this device: 3.7 GB RAM"
    ) in s.reasons
    assert s.reasons[2] == "'x86-minimal' matches: arch: x86_64 (wants x86_64 or amd64)"
    assert s.variants["asr"]["threads"] == 2 and s.variants["asr"]["compute_type"] == "int8"
    assert s.variants["endpoint"]["max_utterance_s"] == 8.0


def test_threads_are_capped_at_the_cores() -> None:
    s = select_profile(_probe("x86-avx2"), MATRIX)  # two vCPUs
    assert s.variants["asr"]["threads"] == 2
    assert s.variants["tts"]["threads"] == 2
    assert "only 2 core(s) available: threads capped (asr 4->2)" in s.reasons


def test_raspberry_pis() -> None:
    pi4 = select_profile(_probe("rpi4"), MATRIX)
    assert any(
        r.startswith("'rpi4' matches: arch: aarch64 (wants aarch64 or arm64); "
                     "board: 'Raspberry Pi 4 Model B Rev 1.4'")
        for r in pi4.reasons
    )  # fmt: skip
    assert pi4.variants["asr"]["threads"] == 4
    assert pi4.variants["endpoint"]["max_utterance_s"] == 8.0
    assert [k.ref for k in pi4.known_bad] == [
        "https://github.com/microsoft/onnxruntime/issues/23957"
    ]
    pi5 = select_profile(_probe("rpi5"), MATRIX)
    assert "'rpi5' does not fit" not in " ".join(pi5.reasons)
    assert pi5.variants["endpoint"]["max_utterance_s"] == 12.0
    assert not pi5.known_bad


def test_cuda_moves_asr_to_the_gpu() -> None:
    s = select_profile(_probe("x86-laptop", cuda=1), MATRIX)
    assert s.profile == "x86-avx2"
    assert s.variants["asr"]["device"] == "cuda"
    assert s.variants["asr"]["compute_type"] == "float16"
    assert s.variants["asr"]["beam_size"] == 5
    assert "CUDA available (1 device(s)): ASR runs on CUDA float16" in s.reasons


def test_cuda_requested_but_absent_falls_back_to_the_cpu_variant() -> None:
    s = select_profile(_probe("jetson-orin-nano", cuda=0), MATRIX)
    assert s.profile == "jetson-orin"
    assert s.variants["asr"]["device"] == "cpu"
    assert s.variants["asr"]["compute_type"] == "int8"
    assert s.variants["asr"]["beam_size"] == 1
    assert (
        "'jetson-orin' has a CUDA variant (CUDA float16), but CTranslate2 sees no CUDA device: "
        "falling back to the CPU variant, CPU int8"
    ) in s.reasons
    p = dataclasses.replace(
        _probe("jetson-orin-nano"), cuda_error="RuntimeError: CUDA driver version is insufficient"
    )
    s = select_profile(p, MATRIX)
    assert (
        "'jetson-orin' has a CUDA variant (CUDA float16), but CTranslate2 cannot use CUDA "
        "(RuntimeError: CUDA driver version is insufficient): "
        "falling back to the CPU variant, CPU int8"
    ) in s.reasons


def test_cuda_without_a_cuda_variant_stays_on_cpu() -> None:
    s = select_profile(_probe("rpi5", cuda=1), MATRIX)
    assert s.variants["asr"]["device"] == "cpu"
    assert "CUDA available but 'rpi5' has no CUDA variant: ASR stays on CPU int8" in s.reasons


def test_an_unsupported_compute_type_falls_back() -> None:
    p = dataclasses.replace(_probe("x86-laptop"), cpu_compute_types=("float32",))
    s = select_profile(p, MATRIX)
    assert s.variants["asr"]["compute_type"] == "float32"
    assert (
        "CTranslate2 cannot run int8 on this CPU (it can: float32): ASR uses float32" in s.reasons
    )
    p = dataclasses.replace(
        _probe("x86-laptop", cuda=1), cuda_compute_types=("float32", "int8", "int8_float32")
    )
    s = select_profile(p, MATRIX)
    assert s.variants["asr"]["compute_type"] == "int8"  # e.g. a GPU without fast float16


def test_selection_does_not_mutate_the_matrix() -> None:
    before = load_matrix()
    select_profile(_probe("x86-avx2", cuda=1), MATRIX)
    assert before == load_matrix() and before.defaults == MATRIX.defaults
