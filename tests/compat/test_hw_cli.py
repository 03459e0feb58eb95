"""``hearthvox hw``: plain words, one JSON line, config overrides, the user copy, refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from hearthvox.cli import main
from hearthvox.compat import user_matrix_path
from hearthvox.compat.matrix import packaged_matrix_text
from hearthvox.paths import user_paths

FIXTURES = Path(__file__).parent / "fixtures"


def _hw(*args: str) -> Result:
    return CliRunner().invoke(main, ["hw", *args])


def _json(*args: str) -> dict[str, Any]:
    result = _hw("--json", *args)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert isinstance(report, dict)
    return report


def _config(text: str) -> None:
    path = user_paths().config_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _user_matrix(old: str, new: str) -> Path:
    text = packaged_matrix_text()
    assert old in text
    path = user_matrix_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.usefixtures("x86_avx2_host")
def test_hw_json_on_this_machine() -> None:
    report = _json()
    assert report["profile"] == "x86-avx2"  # this host: x86_64, AVX2, 23 GB
    assert report["reasons"][1].startswith(
        "'x86-avx2' matches: arch: x86_64 (wants x86_64 or amd64); flags: has AVX2 (wants AVX2); "
        "min_mem_mb: "
    )
    keys = {"arch", "cpu_model", "cores", "flags", "mem_total_mb", "onnx_providers",
            "cuda_devices", "cpu_compute_types", "runtime_crash"}  # fmt: skip
    assert keys <= set(report["probe"])
    assert report["probe"]["onnx_providers"] == ["CPUExecutionProvider"]
    assert set(report["variants"]) == {"wake", "vad", "asr", "tts", "endpoint", "llm"}
    cores = report["probe"]["cores"]
    assert report["variants"]["asr"] == {
        "model": "asr/whisper-tiny.en",
        "device": "cpu",
        "compute_type": "int8",
        "beam_size": 1,
        "threads": min(4, cores),
    }
    assert report["overrides"] == []
    assert report["bundle"]["ref"].startswith("default-0.1.0")
    assert report["bundle"]["refused"] is None
    assert report["matrix"] == "hearthvox/data/compat_matrix.yaml (packaged)"


@pytest.mark.usefixtures("x86_avx2_host")
def test_hw_in_plain_words() -> None:
    result = _hw()
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("This device: x86_64 computer: ")
    assert "Profile: x86-avx2 (x86-64 laptop, desktop or server with AVX2" in out
    assert "hearthvox will run:\n  wake word           hey_jarvis (1 thread)\n" in out
    assert "  speech recognition  asr/whisper-tiny.en on CPU int8, beam 1 (" in out
    assert "  end of speech       after 500 ms of silence, commands up to 12.0 s" in out
    assert "Why:\n  - 'jetson-orin' does not fit: arch: wants aarch64" in out
    assert "Bundle default-0.1.0: verified on this profile:\n  - 2026-11-29 on AMD EPYC" in out
    assert "ONNX Runtime: a session gets CPUExecutionProvider" in out


def test_fixture_roots_with_injected_cuda() -> None:
    jetson = str(FIXTURES / "jetson-orin-nano")
    report = _json("--root", jetson, "--cuda-devices", "1")
    assert report["profile"] == "jetson-orin"
    assert report["variants"]["asr"]["device"] == "cuda"
    assert report["variants"]["asr"]["compute_type"] == "float16"
    assert report["root"] == jetson
    report = _json("--root", jetson)
    assert report["variants"]["asr"]["device"] == "cpu"
    assert any("falling back to the CPU variant, CPU int8" in r for r in report["reasons"])
    result = _hw("--root", str(FIXTURES / "rpi4"))
    assert "This device: Raspberry Pi 4 Model B Rev 1.4: Cortex-A72 (aarch64), 4 core(s)" in (
        result.stdout
    )
    assert "Profile: rpi4" in result.stdout


@pytest.mark.usefixtures("x86_avx2_host")
def test_user_overrides_win_and_are_listed() -> None:
    # threads = 1 differs from the profile's 4; beam_size = 1 equals it (not an override);
    # the tts threads key equals the config default but was set, so it is the user's choice
    _config("[asr]\nthreads = 1\nbeam_size = 1\n\n[tts]\nthreads = 1\n")
    report = _json()
    assert report["variants"]["asr"]["threads"] == 1
    assert report["variants"]["tts"]["threads"] == 1
    assert report["profile_variants"]["tts"]["threads"] == 2
    assert {(o["key"], o["matrix"], o["config"]) for o in report["overrides"]} == {
        ("asr.threads", report["profile_variants"]["asr"]["threads"], 1),
        ("tts.threads", 2, 1),
    }
    assert "your config sets tts.threads = 1 (the profile says 2)" in report["reasons"]
    assert "your config sets tts.threads = 1 (the profile says 2)" in _hw().stdout


def test_cuda_asked_in_config_without_a_gpu_falls_back() -> None:
    _config('[asr]\ndevice = "cuda"\ncompute_type = "float16"\n')
    report = _json()
    assert report["variants"]["asr"]["device"] == "cpu"
    assert report["variants"]["asr"]["compute_type"] == "int8"
    assert (
        "your config asks for ASR on CUDA, but CTranslate2 sees no CUDA device: "
        "falling back to the CPU variant, CPU int8"
    ) in report["reasons"]


@pytest.mark.usefixtures("x86_avx2_host")
def test_the_user_copy_of_the_matrix_is_read() -> None:
    cuda = "    cuda:\n      asr: {device: cuda, compute_type: float16, beam_size: 5}\n"
    path = _user_matrix(
        f"      tts: {{threads: 2}}\n{cuda}    verified:\n",
        "      tts: {threads: 1}\n    verified:\n",
    )
    report = _json()
    assert report["matrix"] == str(path)
    assert report["variants"]["tts"]["threads"] == 1
    assert f"Matrix: {path}" in _hw().stdout


@pytest.mark.usefixtures("x86_avx2_host")
def test_a_known_bad_bundle_is_shown_refused() -> None:
    _user_matrix(
        "    verified:\n",
        "    known_bad: [{bundle: default, reason: it loops here}]\n    verified:\n",
    )
    report = _json()
    assert "known bad on 'x86-avx2': it loops here" in report["bundle"]["refused"]
    assert "REFUSED here: bundle default-0.1.0" in _hw().stdout


def test_a_malformed_matrix_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "m.yaml"
    bad.write_text(packaged_matrix_text().replace("min_mem_mb: 7000", "min_mem_mb: lots"))
    result = _hw("--matrix", str(bad))
    assert result.exit_code == 2
    assert result.stderr == (
        f"hearthvox: error: {bad}: profile 'x86-avx2'.match.min_mem_mb: expected an integer, "
        "got 'lots'\n"
    )
    _user_matrix("schema_version: 1", "schema_version: 7")
    result = _hw()
    assert result.exit_code == 2 and "schema_version is 7" in result.stderr


def test_usage_errors() -> None:
    assert _hw("--audio", str(FIXTURES / "README.md")).exit_code == 2
    result = _hw("--record", "--root", str(FIXTURES / "rpi4"))
    assert result.exit_code == 2 and "--record measures this device" in result.output
