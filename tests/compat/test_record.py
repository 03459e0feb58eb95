"""``hearthvox hw --record``: measure the bundle here, write the entry into the user copy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from hearthvox.cli import main
from hearthvox.compat import load_matrix, user_matrix_path
from hearthvox.compat.record import write_verified
from hearthvox.errors import ConfigError


def _entry(**over: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "bundle": "default-0.1.0",
        "version": "1",
        "date": "2025-02-01",
        "device": "Raspberry Pi 4 Model B Rev 1.4, Cortex-A72 (aarch64), 4 cores",
        "runtime": {"ctranslate2": "4.5.0", "onnxruntime": "1.20.1"},
        "variants": {"asr": {"compute_type": "int8", "threads": 4}},
        "figures": {"asr_rtf": 0.41, "tts_first_audio_ms": 310.0, "peak_rss_mb": 590.0},
        "notes": "audio: a WAV file, 3.1 s",
    }
    return {**entry, **over}


def test_entries_accumulate_and_a_repeat_replaces_its_own() -> None:
    path = write_verified(_entry(), "rpi4")
    assert path == user_matrix_path()
    assert path.read_text().startswith("# hearthvox compatibility matrix: the user copy")
    write_verified(_entry(device="Raspberry Pi 400 Rev 1.0, Cortex-A72 (aarch64), 4 cores"), "rpi4")
    write_verified(_entry(figures={"asr_rtf": 0.39}), "rpi4")  # same device again: replaced
    pi4 = load_matrix().profile("rpi4")
    assert [(v.device.split(",")[0], v.figures.get("asr_rtf")) for v in pi4.verified] == [
        ("Raspberry Pi 400 Rev 1.0", 0.41),
        ("Raspberry Pi 4 Model B Rev 1.4", 0.39),
    ]
    assert load_matrix().profile("rpi4").known_bad  # the rest of the matrix is kept


def test_a_bad_entry_or_profile_writes_nothing() -> None:
    with pytest.raises(ConfigError, match="figures: unknown key"):
        write_verified(_entry(figures={"wer": 0.1}), "rpi4")
    with pytest.raises(ConfigError, match="no profile 'pi9' to record into"):
        write_verified(_entry(), "pi9")
    assert not user_matrix_path().exists()


@pytest.mark.usefixtures("x86_avx2_host")
def test_record_measures_this_device_and_hw_shows_it(corpus_dir: Path) -> None:
    wav = corpus_dir / "spk1_snt1.wav"
    runner = CliRunner()
    result = runner.invoke(main, ["hw", "--record", "--audio", str(wav), "--runs", "1", "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["profile"] == "x86-avx2" and record["path"] == str(user_matrix_path())
    assert record["bundle"] == "default-0.1.0"
    f = record["figures"]
    assert set(f) == {"asr_rtf", "asr_audio_s", "tts_first_audio_ms", "peak_rss_mb", "load_s"}
    assert f["asr_rtf"] > 0 and f["tts_first_audio_ms"] > 0 and f["load_s"] > 0
    assert 2.0 < f["asr_audio_s"] < 5.0  # the corpus sentence
    assert f["peak_rss_mb"] > 100  # the models are in memory
    assert record["variants"]["asr"]["compute_type"] == "int8"
    assert "ctranslate2" in record["runtime"] and "onnxruntime" in record["runtime"]
    assert "progress" not in record and "speech recognition, run 1 of 1" in result.stderr
    # no transcript or audio lands in the matrix: figures, versions and settings only
    text = user_matrix_path().read_text()
    assert "child" not in text and "dog" not in text
    written = yaml.safe_load(text)
    profile = next(p for p in written["profiles"] if p["id"] == "x86-avx2")
    assert profile["verified"][-1]["figures"] == f

    report = json.loads(runner.invoke(main, ["hw", "--json"]).stdout)
    assert report["matrix"] == str(user_matrix_path())
    assert report["bundle"]["verified"][-1]["figures"] == f  # after the packaged entry
    out = runner.invoke(main, ["hw"]).stdout
    assert "verified on this profile:" in out
    assert f"ASR real-time factor {f['asr_rtf']:.3f}" in out
