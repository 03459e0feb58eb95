"""The capacity section's hub figures: CPU-seconds per turn cut from the latency run,
cores per satellite and streams per core from known inputs, the ``[report]
hub_turn_interval_s`` key's validation, and the rows in every rendering."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from hearthvox import config as config_mod
from hearthvox.config import ReportConfig
from hearthvox.errors import ConfigError
from hearthvox.report import sections
from hearthvox.report.capacity import capacity, hub
from hearthvox.report.turn_cpu import CpuSampler, segments

TURNS = {"cpu_s": [0.5, 0.7, 0.9], "audio_s": [5.0, 5.0, 5.0]}


def test_streams_per_core_from_known_inputs() -> None:
    h = hub(TURNS, 0.01, 0.02, 2, ReportConfig())  # 20 s between turns, 70 %
    assert h["measured"] and h["turns"] == 3
    beyond = h["cpu_s_per_turn_beyond_idle"]  # 0.45, 0.65, 0.85
    assert beyond["median"] == pytest.approx(0.65)
    assert (beyond["min"], beyond["max"]) == pytest.approx((0.45, 0.85))
    assert h["cpu_s_per_turn"]["median"] == pytest.approx(0.7)
    # cores per satellite = idle + per turn / interval
    assert h["cores_per_satellite"] == pytest.approx(0.02 + 0.65 / 20)
    assert h["streams_per_core"] == pytest.approx(1 / 0.0525)
    assert h["streams_at_utilisation"] == pytest.approx(2 * 0.7 / 0.0525)
    assert h["cores_per_satellite_quiet"] == pytest.approx(0.01 + 0.65 / 20)
    assert h["streams_per_core_quiet"] == pytest.approx(1 / 0.0425)


def test_the_turn_interval_scales_the_turns_share() -> None:
    h = hub(TURNS, 0.01, 0.02, 4, ReportConfig(hub_turn_interval_s=65.0, utilisation=0.5))
    assert h["cores_per_satellite"] == pytest.approx(0.02 + 0.65 / 65)
    assert h["streams_per_core"] == pytest.approx(1 / 0.03)
    assert h["streams_at_utilisation"] == pytest.approx(4 * 0.5 / 0.03)


def test_samples_from_before_per_turn_cpu_are_not_measured() -> None:
    h = hub(None, 0.01, 0.02, 2, ReportConfig())
    assert h["measured"] is False
    text = str(sections.hub_blocks(h))
    assert "not measured" in text


def test_segments_cut_at_each_turn_add_up_to_the_run() -> None:
    s = CpuSampler(walls=[0.0, 1.0, 2.0, 3.0, 4.0, 5.0], cpus=[0.0, 0.1, 0.5, 0.6, 1.0, 1.2])
    assert s.cpu_at(1.5) == pytest.approx(0.3)
    assert (s.cpu_at(-1.0), s.cpu_at(9.0)) == (0.0, 1.2)
    out = segments(s, [(3.5, 20.0), (1.5, 10.0)], audio_s=30.0)  # any order
    # between the cuts: 0.8 - 0.3; before the first and after the last: 0.3 + 0.4
    assert out["cpu_s"] == pytest.approx([0.5, 0.7])
    assert out["audio_s"] == pytest.approx([10.0, 20.0])
    assert sum(out["cpu_s"]) == pytest.approx(out["total_cpu_s"]) == pytest.approx(1.2)
    one = segments(s, [(2.0, 4.0)], audio_s=9.0)
    assert one["cpu_s"] == pytest.approx([1.2]) and one["audio_s"] == pytest.approx([9.0])


def test_the_sampler_measures_busy_cpu_less_its_own() -> None:
    with CpuSampler(interval_s=0.005) as s:
        t0 = time.process_time()
        while time.process_time() - t0 < 0.3:
            pass
    assert len(s.walls) > 10
    busy = s.cpus[-1] - s.cpus[0]
    assert 0.25 < busy < 0.45
    assert 0.0 < s.own_cpu_s < 0.1


def test_the_turn_interval_key_is_validated(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    for bad in ("0", "-5.0", "nan", "1e9"):
        path.write_text(f"[report]\nhub_turn_interval_s = {bad}\n")
        with pytest.raises(ConfigError, match=r"\[report\] hub_turn_interval_s must be"):
            config_mod.load(path)
    path.write_text("[report]\nhub_turn_interval_s = 45\n")
    assert config_mod.load(path).report.hub_turn_interval_s == 45.0
    assert ReportConfig().hub_turn_interval_s == 20.0
    with pytest.raises(ConfigError, match="hub_turn_interval_s"):
        ReportConfig(hub_turn_interval_s=0.0)


def _capacity_data() -> dict[str, Any]:
    cpu = {"asr_cpu_per_audio_s": [0.08], "idle_cpu_quiet": [0.01], "idle_cpu_noisy": [0.02]}
    cap = capacity(cpu, 2, ReportConfig(), 1000.0, None, TURNS)
    return {"capacity": cap}


def test_the_section_renders_the_hub_rows() -> None:
    rows = {
        r[0]: r[1:] for b in sections.capacity(_capacity_data()) if b[0] == "table" for r in b[2]
    }
    assert rows["CPU-s per turn, beyond idle listening"][0].startswith("median 0.650 CPU-s")
    assert "0.450-0.850 over 3 turns" in rows["CPU-s per turn, beyond idle listening"][0]
    assert rows["idle CPU per streaming satellite, CPU-s per audio-s"] == ["0.0200", "0.0100"]
    assert rows["cores per satellite at one turn per 20 s"] == ["0.0525", "0.0425"]
    assert rows["streams per core"] == ["19.0", "23.5"]
    assert rows["streams at 70 % of 2 cores"] == ["26.7", "32.9"]
