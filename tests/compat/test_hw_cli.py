"""``hearthvox hw``: one JSON line with profile, reasons, probe, variants; a readable summary."""

from __future__ import annotations

import json
from pathlib import Path

import click
from click.testing import CliRunner

from hearthvox.cli.hw import hw

FIXTURES = Path(__file__).parent / "fixtures"


def _group() -> click.Group:
    from hearthvox.cli import main

    if "hw" in main.commands:
        return main

    @click.group()
    def group() -> None:
        pass

    group.add_command(hw)
    return group


def test_hw_json_on_this_machine() -> None:
    result = CliRunner().invoke(_group(), ["hw", "--json"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert {"profile", "reasons", "probe", "variants"} <= set(report)
    assert isinstance(report["profile"], str) and report["profile"]
    assert report["reasons"] and all(isinstance(r, str) for r in report["reasons"])
    assert {"arch", "cpu_model", "cores", "flags", "mem_total_mb", "onnx_providers",
            "cuda_devices"} <= set(report["probe"])  # fmt: skip
    assert set(report["variants"]) == {"wake", "vad", "asr", "tts"}
    assert report["variants"]["asr"]["model"] == "asr/whisper-tiny.en"


def test_hw_json_on_a_fixture_root() -> None:
    result = CliRunner().invoke(_group(), ["hw", "--json", "--root", str(FIXTURES / "rpi4")])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["profile"] == "aarch64-generic"
    assert report["probe"]["board"] == "Raspberry Pi 4 Model B Rev 1.4"
    assert any("Raspberry Pi 4" in r for r in report["reasons"])


def test_hw_summary_is_readable() -> None:
    result = CliRunner().invoke(_group(), ["hw", "--root", str(FIXTURES / "x86-avx2")])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("profile: x86-avx2")
    assert "why:" in out and "matches 'x86-avx2'" in out
    assert "asr " in out and "compute_type=int8" in out
    assert not out.lstrip().startswith("{")


def test_hw_bad_matrix_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "m.yaml"
    bad.write_text("schema_version: 99\n")
    result = CliRunner().invoke(_group(), ["hw", "--matrix", str(bad)])
    assert result.exit_code != 0
