"""Config validation: every number finite and in its documented range, one-line errors, exit 2."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import get_type_hints

import pytest

from hearthvox import config as config_mod
from hearthvox.config_ranges import RANGES, cpu_count
from hearthvox.errors import ConfigError


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_number_in_every_section_has_a_range() -> None:
    hints = get_type_hints(config_mod.Config)
    missing = [
        f"{section}.{f.name}"
        for section in config_mod._sections()
        for f in dataclasses.fields(hints[section])
        if get_type_hints(hints[section])[f.name] in (int, float)
        and (section, f.name) not in RANGES
    ]
    assert missing == []


def test_the_defaults_are_inside_their_ranges() -> None:
    raw = {
        s: {k: v for k, v in dataclasses.asdict(getattr(config_mod.Config(), s)).items()
            if isinstance(v, int | float) and not isinstance(v, bool)}
        for s in config_mod._sections()
    }  # fmt: skip
    assert config_mod.from_dict(raw) == config_mod.Config()


@pytest.mark.parametrize(
    ("toml", "fragment"),
    [
        ("[asr]\nthreads = 100000", "[asr] threads must be greater than 0 and at most"),
        ("[tts]\nlength_scale = 1e6", "[tts] length_scale must be from 0.25 to 4, got 1000000.0"),
        ("[tts]\nlength_scale = nan", "[tts] length_scale must be from 0.25 to 4, got nan"),
        (
            "[wake]\nthreshold = nan",
            "[wake] threshold must be between 0 and 1 (greater than 0, at most 1), got nan",
        ),
        ("[vad]\nthreshold = -0.5", "[vad] threshold must be between 0 and 1"),
        ("[audio]\nrate_hz = 8000", "[audio] rate_hz must be one of 16000, got 8000"),
        ("[audio]\nchunk_ms = 0", "[audio] chunk_ms must be from 10 to 1000, got 0"),
        ("[audio]\nchunk_ms = 100000000", "[audio] chunk_ms must be from 10 to 1000"),
        ("[endpoint]\nmax_utterance_s = inf", "max_utterance_s must be greater than 0 and at most"),
        ("[endpoint]\nhangover_ms = -1", "[endpoint] hangover_ms must be greater than 0"),
        ("[wake]\nrefractory_s = -inf", "[wake] refractory_s must be 0 or more"),
        ("[telemetry]\nretention_days = nan", "[telemetry] retention_days must be"),
        ("[service]\nstall_s = -2.0", "[service] stall_s must be 0 or more"),
        ("[report]\nllm_layers = -3", "[report] llm_layers must be 0 or more"),
        ("[eval.slices.clean]\nwer_max_rise = inf", "slices.clean wer_max_rise must be 0 or more"),
        ('[skills]\nfallback_reply = "a\\u0000b"', "must not hold control characters"),
        (f'[skills]\napology = "{"x" * 5000}"', "must be at most 4096 characters"),
        ("a = " + "[" * 5000 + "]" * 5000, "is not valid TOML"),
    ],
)
def test_out_of_range_values_are_refused_in_one_line(
    tmp_path: Path, toml: str, fragment: str
) -> None:
    with pytest.raises(ConfigError) as info:
        config_mod.load(_write(tmp_path, toml))
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message and len(message) < 400


def test_threads_are_held_to_the_cpu_count(tmp_path: Path) -> None:
    cores = cpu_count()
    ok = config_mod.load(_write(tmp_path, f"[asr]\nthreads = {cores}"))
    assert ok.asr.threads == cores
    with pytest.raises(ConfigError, match=rf"at most {cores} \(this device's CPU count\)"):
        config_mod.load(_write(tmp_path, f"[asr]\nthreads = {cores + 1}"))


def test_a_huge_config_file_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"#" * (config_mod.MAX_CONFIG_BYTES + 10))
    with pytest.raises(ConfigError, match="larger than 1024 KiB"):
        config_mod.load(path)


def test_a_pipe_or_a_device_as_the_config_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "config.toml"
    os.mkfifo(fifo)  # opening it would wait for a writer: the start would hang
    for path in (fifo, Path("/dev/zero")):
        with pytest.raises(ConfigError, match="not a regular file"):
            config_mod.load(path)


@pytest.mark.parametrize(
    ("stage", "settings", "fragment"),
    [
        ("tts", {"length_scale": 1e6}, "[tts] length_scale must be from 0.25 to 4, got 1000000.0"),
        ("asr", {"threads": 100000}, "[asr] threads must be greater than 0 and at most 64"),
        ("vad", {"threshold": float("nan")}, "[vad] threshold must be between 0 and 1"),
    ],
)
def test_bundle_stage_settings_go_through_the_same_check(
    stage: str, settings: dict[str, object], fragment: str
) -> None:
    from hearthvox.bundles.lock import load_lock
    from hearthvox.bundles.manifest import manifest_from_lock, parse_manifest
    from hearthvox.errors import ModelError

    doc = manifest_from_lock(load_lock()).to_dict()
    doc["stages"][stage]["settings"] = settings
    with pytest.raises(ModelError) as info:
        parse_manifest(doc, "<m>")
    assert fragment in str(info.value) and info.value.exit_code == 5


def test_matrix_variants_go_through_the_same_check() -> None:
    with pytest.raises(ConfigError, match=r"\[tts\] length_scale must be from 0.25 to 4"):
        config_mod.from_dict({"tts": {"length_scale": float("inf")}})


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (
            "[asr]\nthreads = 100000\n",
            "[asr] threads must be greater than 0 and at most 64, got 100000",
        ),
        ("[llm]\nmemory_mb = nan\n", "[llm] memory_mb must be greater than 0"),
    ],
)
def test_the_cli_exits_2_with_key_value_and_range(tmp_path: Path, body: str, said: str) -> None:
    path = _write(tmp_path, body)
    proc = subprocess.run(
        [sys.executable, "-m", "hearthvox", "run", "--config", str(path), "--input", "none.wav"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert said in lines[0]
