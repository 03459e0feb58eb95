"""The capacity section's language model, measured: SmolLM2's KV bytes per token from its
GGUF header against what llama.cpp allocates, conversations per device by the stated
rule, a long conversation's KV bytes and RSS per turn (and its PNG plot), and one line,
no crash, when the model is off or its extra is missing."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from hearthvox.config import Config, LlmConfig, ReportConfig
from hearthvox.report.build import assemble, write
from hearthvox.report.llm_probe import EXTRA_MISSING, measure_llm
from hearthvox.settings import engine_config

MIB = 1024 * 1024
PER_TOKEN = 2 * 30 * 3 * 64 * 2  # K and V x layers x KV heads x head dim x f16
needs_llm = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None, reason="the [llm] extra is not installed"
)


def _load(out: Path) -> tuple[dict[str, Any], dict[str, Any], str]:
    raw = json.loads((out / "samples.json").read_text())
    figures = json.loads((out / "report.json").read_text())
    return raw, figures, (out / "report.md").read_text()


@needs_llm
def test_smollm2_kv_figures_agree_with_llama_cpp(built_report: Path) -> None:
    raw, figures, md = _load(built_report)
    llm = figures["capacity"]["llm"]
    assert llm["status"] == "measured", llm.get("why")
    assert (llm["layers"], llm["kv_heads"], llm["head_dim"], llm["cache_type"]) == (
        30, 3, 64, "f16",
    )  # fmt: skip
    assert llm["kv_bytes_per_token"] == PER_TOKEN == 23_040
    context = engine_config(Config()).llm.context_tokens  # as `hearthvox run` has it here
    assert llm["context_tokens"] == context
    assert llm["kv_bytes_at_context"] == context * 23_040
    assert llm["kv_cells_reported"] == context
    assert abs(llm["kv_bytes_reported"] - llm["kv_bytes_at_context"]) <= 0.005 * MIB
    assert llm["kv_agree"] is True
    if context == 2048:  # the x86 profiles
        assert llm["kv_bytes_at_context"] == 47_185_920
        assert f"{llm['kv_bytes_at_context'] / MIB:.2f}" == "45.00"
    # conversations per device, by the rule the section states
    b = raw["llm"]["budget"]
    per_conv = context * 23_040
    in_budget = (b["budget"] - b["weights"] - b["overhead"]) // per_conv
    assert llm["conversations_in_budget"] == in_budget
    assert llm["conversations_per_device"] == min(in_budget, llm["conversations_in_device"])
    assert llm["conversations_per_device"] >= 1
    # the section shows the measured figures, both KV figures side by side
    assert "2 × 30 layers × 3 KV heads × 64 head dim × 2 bytes (f16) = 23,040 bytes" in md
    computed = f"{per_conv / MIB:.2f} MiB ({per_conv:,} bytes)"
    assert computed in md
    assert f"{llm['kv_bytes_reported'] / MIB:.2f} MiB ({context} cells): agrees" in md
    assert f"| **conversations per device** | **{llm['conversations_per_device']}** |" in md
    assert "no local language model measured" not in md


@needs_llm
def test_a_long_conversation_is_measured_and_plotted(built_report: Path) -> None:
    raw, figures, md = _load(built_report)
    c = figures["capacity"]["llm"]["conversation"]
    assert c["turns"] == c["turns_requested"] == 12  # --quick
    assert len(c["rss_mib"]) == len(c["kv_bytes"]) == len(c["cached_tokens"]) == 12
    assert c["kv_bytes"] == [t * PER_TOKEN for t in c["tokens_held"]]
    assert c["kv_bytes_agree"]
    assert c["dropped_turns"] >= 4  # 12 turns, 8 kept at most
    assert max(c["tokens_held"]) <= c["history_budget_tokens"]
    assert c["rss_loaded_mib"] > c["rss_before_load_mib"] + 100  # weights and KV cache
    assert abs(c["rss_slope_mib_per_turn"]) < 1.0  # the cache is allocated once, at load
    assert c["rss_mib"] == raw["llm"]["conversation"]["rss_mib"]
    png = built_report / "llm_conversation.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image

    assert matplotlib.image.imread(str(png)).shape[0] > 200
    assert "![llm_conversation](llm_conversation.png)" in md
    assert f"rose to {c['tokens_held_max']}" in md
    assert 'id="plot-llm_conversation"' in (built_report / "report.html").read_text()


@needs_llm
def test_a_kv_mismatch_is_flagged_and_blocks(built_report: Path, tmp_path: Path) -> None:
    raw, _, _ = _load(built_report)
    raw["llm"]["kv_bytes_reported"] += MIB
    files = write(raw, Config(), tmp_path)
    llm = json.loads(files["figures"].read_text())["capacity"]["llm"]
    assert llm["kv_agree"] is False
    shown = f"{llm['kv_bytes_reported'] / MIB:.2f} MiB allocated"
    assert llm["kv_note"] == (
        f"MISMATCH: {shown}, {llm['kv_bytes_at_context'] / MIB:.2f} MiB computed for "
        f"{llm['context_tokens']} cells"
    )
    md = files["markdown"].read_text()
    assert llm["kv_note"] in md
    assert md.index("llama.cpp's KV cache is not the computed one") < md.index("## 1.")


@needs_llm
def test_a_model_over_its_budget_is_sized_and_blocks(built_report: Path) -> None:
    raw, _, _ = _load(built_report)
    cfg = Config(llm=LlmConfig(memory_mb=100))  # weights alone are 93.8 MiB
    raw["llm"] = measure_llm(cfg, 3, 10.0)  # the header is read; nothing is loaded
    assert raw["llm"]["status"] == "over_budget"
    figures = assemble(raw, Config())
    llm = figures["capacity"]["llm"]
    assert llm["conversations_per_device"] == 0 and llm["conversation"] is None
    assert llm["kv_bytes_per_token"] == PER_TOKEN
    blockers = [b["what"] for b in figures["verdict"]["blockers"]]
    assert "the language model's KV cache does not fit for one conversation" in blockers


@pytest.mark.parametrize("why", ["disabled", "missing", "old samples"])
def test_no_model_is_one_line_and_no_crash(
    built_report: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, why: str
) -> None:
    raw, _, _ = _load(built_report)
    if why == "disabled":
        raw["llm"] = measure_llm(Config(llm=LlmConfig(enabled=False)), 3, 10.0)
        line = "[llm] enabled = false"
    elif why == "missing":
        monkeypatch.setitem(sys.modules, "llama_cpp", None)  # as if not installed
        raw["llm"] = measure_llm(Config(), 3, 10.0)
        line = EXTRA_MISSING
    else:
        del raw["llm"]
        line = "these samples predate the measurement"
    files = write(raw, Config(), tmp_path)
    md = files["markdown"].read_text()
    assert f"Language model not measured: {line}." in md
    gaps = json.loads(files["figures"].read_text())["operations"]["not_measured"]
    assert [g for g in gaps if "language model" in g] == [
        f"no local language model measured: {line}"
    ]
    assert "llm_plot" not in files and not (tmp_path / "llm_conversation.png").exists()


def test_report_llm_keys_size_a_model_not_installed_here(built_report: Path) -> None:
    raw, _, _ = _load(built_report)
    raw["llm"] = {"status": "disabled", "why": "[llm] enabled = false"}
    rc = ReportConfig(llm_name="qwen2.5-0.5b", llm_layers=24, llm_kv_heads=2, llm_head_dim=64,
                      llm_context_tokens=4096, llm_weights_mb=400.0)  # fmt: skip
    figures = assemble(raw, Config(report=rc))
    assert figures["capacity"]["llm"]["status"] == "disabled"
    assert figures["capacity"]["llm_sized"]["kv_bytes_per_conversation"] == 50_331_648
    gaps = figures["operations"]["not_measured"]
    assert "no local language model measured: [llm] enabled = false; qwen2.5-0.5b sized " \
        "from [report] llm_* instead" in gaps  # fmt: skip
