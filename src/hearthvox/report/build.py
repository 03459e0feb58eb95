"""Measure, assemble and write the report: ``report.html``, ``report.md``, ``report.json``
(the figures) and ``samples.json`` (the raw samples and inputs every figure is
computed from: :func:`assemble` rebuilds the figures from it)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hearthvox import __version__
from hearthvox.config import Config
from hearthvox.engines import vad as vad_mod
from hearthvox.engines import wake as wake_mod
from hearthvox.paths import make_output_dir
from hearthvox.report import capacity as capacity_mod
from hearthvox.report import operations as ops
from hearthvox.report.contract import device_facts, model_contract
from hearthvox.report.llm_probe import measure_llm
from hearthvox.report.measure import STAGES, Plan, fresh_process, warm
from hearthvox.report.plots import LLM_PNG
from hearthvox.report.quality import Quality, judge, run_eval
from hearthvox.report.target import resolve
from hearthvox.telemetry.stats import distribution

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ReportOptions:
    out: Path
    corpus: Path
    quick: bool = False
    bundle: str | None = None
    channel: str | None = None
    config_path: Path | None = None


def measure(cfg: Config, opts: ReportOptions, progress: Progress) -> dict[str, Any]:
    """Every measurement, raw (the content of ``samples.json``)."""
    target = resolve(cfg, opts.bundle, opts.channel)
    plan = Plan.for_run(opts.corpus, opts.quick)
    progress(f"measuring {target.models.bundle_id} (channel {target.channel}) on this device")
    device = device_facts(target, cfg)
    contract = model_contract(target, device)
    progress(f"cold start and memory in a fresh process ({plan.memory_turns} consecutive turns)")
    probe = fresh_process(plan, opts.config_path, opts.bundle, opts.channel)
    llm = measure_llm(target.cfg, plan.llm_turns, plan.llm_wall_s, progress)  # as `run` has it
    measured = warm(target, plan, progress)
    progress("quality: the eval by slice" + (" (quick set)" if opts.quick else ""))
    quality = run_eval(cfg, target, opts.corpus, opts.quick)
    return {
        "meta": {
            "generated": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "hearthvox": __version__,
            "bundle": target.models.bundle_id,
            "channel": target.channel,
            "quick": opts.quick,
            "cores": os.cpu_count() or 1,
        },
        "device": device,
        "contract": contract,
        "probe": probe,
        "warm": measured,
        "quality": dataclasses.asdict(quality),
        "rollback": ops.rollback(target.channel, target.models.bundle_id),
        "recorded_rules": ops.recorded_rules(cfg),
        "buffers": buffers(target.cfg),
        "llm": llm,
    }


def buffers(cfg: Config) -> dict[str, int]:
    """Bytes of the audio buffers the loop keeps, from the config and the engines."""
    rate = cfg.audio.rate_hz
    return {
        "input_chunk": rate * cfg.audio.chunk_ms // 1000 * 2,
        "preroll": int(rate * cfg.endpoint.preroll_ms / 1000) * 2,
        "max_utterance": int(rate * cfg.endpoint.max_utterance_s) * 2,
        "wake_window": (wake_mod.FRAME_SAMPLES + wake_mod._MEL_CONTEXT) * 2,
        "wake_mel_frames": wake_mod._MEL_MAX * 32 * 4,
        "vad_frame": (vad_mod.FRAME_SAMPLES + vad_mod._CONTEXT) * 4,
    }


def _growth(values: list[float]) -> float | None:
    if len(values) < 3:
        return None
    third = max(1, len(values) // 3)
    return statistics.median(values[-third:]) - statistics.median(values[:third])


def _median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def assemble(raw: dict[str, Any], cfg: Config) -> dict[str, Any]:
    """The report's figures, computed from the raw measurements only."""
    probe, w = raw["probe"], raw["warm"]
    lat = w["latency"]
    samples: dict[str, list[float]] = lat["samples"]
    stages = {s: distribution(samples.get(s, [])) for s in STAGES}
    base = {
        name: {
            "ours_p50_ms": _median(pair["ours"]),
            "baseline_p50_ms": _median(pair["baseline"]),
            "n": len(pair["ours"]),
        }
        for name, pair in w["baselines"].items()
    }
    rss = probe["rss_turns_mib"]
    memory = {
        "rss_imports_mib": probe["rss_imports_mib"],
        "rss_idle_mib": probe["rss_idle_mib"],
        "rss_peak_turn_mib": probe["rss_peak_turn_mib"],
        "engines_mib": {s: v["rss_mib"] for s, v in probe["engines"].items()},
        "turns": len(rss),
        "turns_requested": probe["turns_requested"],
        "rss_first_turn_mib": rss[0] if rss else None,
        "rss_last_turn_mib": rss[-1] if rss else None,
        "rss_growth_mib": _growth(rss),
        "buffers_bytes": raw["buffers"],
        "mem_available_mib": probe["mem_available_mib"],
        "mem_total_mib": probe["mem_total_mib"],
    }
    cores = int(raw["meta"]["cores"])
    mem_left = probe["mem_available_mib"]
    cap = capacity_mod.capacity(
        w["capacity"], cores, cfg.report, mem_left, raw.get("llm"), lat.get("turn_cpu")
    )
    q = Quality(**raw["quality"])
    slices = judge(q, cfg.report)
    rules = ops.alert_rules(cfg, samples.get("end_of_speech_to_first_audio_ms", []), probe)
    return {
        "meta": raw["meta"],
        "device": {
            k: raw["device"].get(k) for k in ("profile", "description", "reasons", "variants")
        },
        "contract": raw["contract"],
        "latency": {
            "cold_start_ms": probe["cold_start_ms"],
            "load_ms": probe["engines"],
            "stages": stages,
            "baselines": base,
            "requests": lat["requests"],
            "heard": lat["heard"],
            "missed_wake": lat["missed_wake"],
            "cut_off": lat["cut_off"],
            "cascade": cascade(lat, probe),
        },
        "memory": memory,
        "quality": {"slices": slices, "bundle": q.bundle, "quick": q.quick, "missing": q.missing},
        "capacity": cap,
        "operations": {
            "alert_rules": rules,
            "recorded_rules": raw.get("recorded_rules"),
            "rollback": raw["rollback"],
            "privacy": ops.privacy(cfg),
            "cost": ops.cost(cap, lat),
            "not_measured": ops.not_measured(
                raw["device"],
                bool(raw["meta"]["quick"]),
                len(rss),
                q.missing,
                cap,
            ),
        },
        "limits": dataclasses.asdict(cfg.report),
        "verdict": ops.verdict(
            slices, rules, raw["device"], cap, raw["contract"], raw.get("recorded_rules")
        ),
    }


def cascade(lat: dict[str, Any], probe: dict[str, Any]) -> dict[str, Any]:
    """The cascade's share of the warm turns, the time its larger model added to them,
    its memory (the RSS step of loading it in the probe), and the vocabulary's prompted
    decodes. Raw samples from before these were measured give ``measured: False``."""
    d = lat.get("decodes")
    if d is None:
        return {"measured": False}
    heard = lat["heard"]
    second, prompted = d["asr_second_ms"], d["asr_prompted_ms"]
    step = probe["engines"].get("asr_second")
    return {
        "measured": True,
        "on": bool(d["second_loaded"]),
        "turns": heard,
        "escalated": len(second),
        "escalated_share": len(second) / heard if heard else None,
        "added_ms": distribution(second),
        "memory_mib": step["rss_mib"] if step else None,
        "load_ms": step["load_ms"] if step else None,
        "prompted": len(prompted),
        "prompted_ms": distribution(prompted),
    }


def write(raw: dict[str, Any], cfg: Config, out: Path) -> dict[str, Path]:
    """Assemble and write every file of the report into ``out``."""
    from hearthvox.report.render import render_html, render_markdown

    data = assemble(raw, cfg)
    make_output_dir(out)
    files = {
        "samples": out / "samples.json",
        "figures": out / "report.json",
        "markdown": out / "report.md",
        "html": out / "report.html",
    }
    files["samples"].write_text(json.dumps(raw, indent=1, default=str))
    files["figures"].write_text(json.dumps(data, indent=1, default=str))
    plots = render_plots(data, raw, out)
    if "llm_conversation" in plots:
        files["llm_plot"] = out / LLM_PNG
    files["markdown"].write_text(render_markdown(data))
    files["html"].write_text(render_html(data, plots))
    return files


def render_plots(
    data: dict[str, Any], raw: dict[str, Any], png_dir: Path | None = None
) -> dict[str, str]:
    from hearthvox.report import plots

    return plots.all_plots(data, raw, png_dir)
