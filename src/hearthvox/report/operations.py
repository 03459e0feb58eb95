"""Section 6, operations: alert rules judged on the measured turns, the rollback command
and where it returns, privacy guarantees, the cost budget, what was not measured, and
the verdict (launch blockers first, each with the measurement behind it)."""

from __future__ import annotations

import time
from typing import Any

from hearthvox.bundles.active import open_store
from hearthvox.config import Config
from hearthvox.paths import user_paths
from hearthvox.telemetry.check import check
from hearthvox.telemetry.privacy import CONTENT_FIELDS, START_FIELDS, TURN_FIELDS
from hearthvox.telemetry.stats import FIRST_AUDIO, percentile, summarize
from hearthvox.telemetry.store import TelemetryStore, default_path


def alert_rules(cfg: Config, first_audio_ms: list[float], probe: dict[str, Any]) -> list[Any]:
    """``telemetry check``'s rules over this report's turns: first audio from the paced
    turns, outcomes and peak memory from the consecutive turns of the fresh process."""
    outcomes = probe["outcomes"]
    first: dict[str, Any] = {"n": len(first_audio_ms)}
    if first_audio_ms:
        first["p95_ms"] = round(percentile(first_audio_ms, 95), 1)
    summary = {
        "stages": {FIRST_AUDIO: first},
        "turns": len(outcomes),
        "error_rate": outcomes.count("error") / len(outcomes) if outcomes else None,
        "wakes": len(outcomes),
        "false_wake_rate": outcomes.count("no_speech") / len(outcomes) if outcomes else None,
        "rss_mb": {"max": probe["rss_peak_turn_mib"]},
    }
    return [r.as_dict() for r in check(summary, cfg.telemetry)]


def recorded_rules(cfg: Config) -> list[dict[str, Any]] | None:
    """The same rules over the turns telemetry recorded on this device in the last
    ``check_window_h`` (``telemetry check``), or None when nothing was recorded."""
    path = default_path(user_paths().state_dir)
    if not path.exists():
        return None
    store = TelemetryStore(path, busy_is_broken=False)  # a daemon may be writing
    try:
        after = time.time() - cfg.telemetry.check_window_h * 3600.0
        summary = summarize(store.turns(after), store.starts(after))
    finally:
        store.close()
    return [r.as_dict() for r in check(summary, cfg.telemetry)]


def rollback(channel: str, bundle: str) -> dict[str, Any]:
    state = open_store().read_channel(channel)
    previous = state.previous
    return {
        "channel": channel,
        "current": str(state.current) if state.current else None,
        "measured": bundle,
        "command": f"hearthvox models rollback --channel {channel}",
        "returns_to": str(previous) if previous else None,
        "history": [str(r) for r in state.stack],
    }


def privacy(cfg: Config) -> dict[str, Any]:
    t = cfg.telemetry
    kept = {name: spec.doc for name, spec in {**START_FIELDS, **TURN_FIELDS}.items()}
    refused = {name: spec.doc for name, spec in CONTENT_FIELDS.items()}
    return {
        "telemetry_enabled": t.enabled,
        "keeps": kept,
        "refuses": refused,
        "keep_transcripts": t.keep_transcripts,
        "keep_transcripts_until": t.keep_transcripts_until,
        "retention": f"{t.retention_days:g} days, at most {t.retention_turns} turns",
        "statement": "audio is never stored; transcripts and replies are refused unless "
        "[telemetry] keep_transcripts is on (with an end date); nothing leaves the device",
    }


def cost(capacity: dict[str, Any], latency: dict[str, Any]) -> dict[str, Any]:
    cores = capacity["cores"]
    quiet = capacity["idle_cpu_quiet_per_audio_s"]
    requests = max(1, latency["requests"])
    return {
        "idle_cpu_share_of_device": None if quiet is None else quiet / cores,
        "idle_core_hours_per_day": None if quiet is None else quiet * 24.0,
        "cpu_s_per_request": latency["cpu_s"] / requests,
        "energy_proxy": "CPU core-hours per day of listening plus CPU-seconds per request "
        "(multiply by the device's watts per busy core; no power meter here)",
    }


def not_measured(
    device: dict[str, Any], quick: bool, turns: int, quality_missing: str, cap: dict[str, Any]
) -> list[str]:
    gaps = [
        "no real far-field room: the far_field slice is simulated (room impulse responses)",
        "no microphone or speaker in the loop: requests are fed from recordings",
        "no partial transcripts: the pipeline emits only the final transcript, so time to "
        "first partial equals time to the final transcript",
        "no power meter: energy is given as CPU time",
    ]
    if not device.get("probe", {}).get("cuda_devices"):
        gaps.insert(0, "no GPU here: CUDA variants were not measured")
    if quick:
        gaps.append(f"--quick: fewer repetitions ({turns} consecutive turns instead of 50)")
    if quality_missing:
        gaps.append(f"quality not measured: {quality_missing}")
    llm = cap["llm"]
    if llm["status"] not in ("measured", "over_budget"):
        sized = cap.get("llm_sized")
        also = f"; {sized['name']} sized from [report] llm_* instead" if sized else ""
        gaps.append(f"no local language model measured: {llm['why']}{also}")
    elif llm["kv_agree"] is None and llm["status"] == "measured":
        gaps.append(f"the language model's KV cache: {llm['kv_note']}")
    return gaps


def _llm_blockers(capacity: dict[str, Any]) -> list[dict[str, str]]:
    out = []
    llm = capacity.get("llm") or {}
    if llm.get("status") in ("measured", "over_budget") and llm["conversations_per_device"] == 0:
        out.append(
            {
                "what": "the language model's KV cache does not fit for one conversation",
                "measured": f"{llm['kv_mib_per_conversation']:.2f} MiB per conversation, "
                f"{llm['memory_left_mib']:.1f} MiB left in [llm] memory_mb, "
                f"{llm['conversations_in_device']} in the device's available memory",
            }
        )
    if llm.get("kv_agree") is False:
        out.append(
            {
                "what": "llama.cpp's KV cache is not the computed one (the budget is off)",
                "measured": llm["kv_note"],
            }
        )
    sized = capacity.get("llm_sized")
    if sized and sized["conversations_fit"] == 0:
        out.append(
            {
                "what": f"the KV cache of {sized['name']} ([report] llm_*) does not fit",
                "measured": f"{sized['kv_mib_per_conversation']:.0f} MiB per conversation, "
                f"{sized['memory_left_mib']:.0f} MiB left",
            }
        )
    return out


def verdict(
    quality: list[dict[str, Any]],
    rules: list[dict[str, Any]],
    device: dict[str, Any],
    capacity: dict[str, Any],
    contract: list[dict[str, Any]],
    recorded: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    blockers: list[dict[str, str]] = []
    for s in quality:
        for fail in s["fails"]:
            blockers.append({"what": f"quality slice {s['slice']} over budget", "measured": fail})
    for where, judged in (("in this run", rules), ("in the field", recorded or [])):
        for r in judged:
            if r["status"] == "breached":
                what = f"alert rule {r['rule']} breached {where}"
                blockers.append({"what": what, "measured": r["note"]})
    refused = device.get("bundle", {}).get("refused")
    if refused:
        blockers.append(
            {"what": "the compatibility matrix refuses this bundle here", "measured": str(refused)}
        )
    mixed = capacity.get("streams_mixed")
    if mixed is not None and mixed < 1:
        blockers.append(
            {
                "what": "this device cannot serve one stream at the utilisation target",
                "measured": f"{mixed:.2f} streams",
            }
        )
    blockers += _llm_blockers(capacity)
    conditions = sorted(
        {
            f"{w['id']}: licence {w['license']} (non-commercial: a commercial launch needs "
            "other weights)"
            for stage in contract
            for w in stage["weights"]
            if "NC" in w["license"]
        }
    )
    conditions += [
        f"alert rule {r['rule']} not judged: {r['note']}" for r in rules if r["status"] == "skipped"
    ]
    return {
        "ready": not blockers,
        "summary": "ready to launch on this device"
        if not blockers
        else f"NOT ready: {len(blockers)} launch blocker(s)",
        "blockers": blockers,
        "conditions": conditions,
    }
