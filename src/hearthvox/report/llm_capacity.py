"""The language model's share of the capacity section, from what :mod:`.llm_probe`
measured: KV bytes per token (computed from the GGUF header) against what llama.cpp
allocated for the context in use, the memory budget and what it leaves for
conversations, and the long conversation's tokens, KV bytes and RSS per turn.

The rule for conversations per device: every conversation at its budget holds a KV cache
of ``context_tokens`` x bytes per token (llama.cpp allocates the whole context at load);
the memory left for them is ``[llm] memory_mb`` minus the weights and the runtime
overhead, and no more than the memory the device had available beside the loaded
assistant minus the same; conversations = floor(left / KV per conversation).
"""

from __future__ import annotations

import statistics
from itertools import combinations
from typing import Any

from hearthvox.engines.gguf import CACHE_BYTES

MIB = 1024.0 * 1024.0
KV_TOLERANCE_BYTES = 0.005 * MIB
"""llama.cpp logs the KV cache's size in MiB to two decimals."""


def rss_slope(rss: list[float]) -> float | None:
    """MiB per turn: the median of the slopes between every two turns (one turn's spike
    does not tilt it, as a least-squares line would be)."""
    if len(rss) < 2:
        return None
    return statistics.median(
        (rss[j] - rss[i]) / (j - i) for i, j in combinations(range(len(rss)), 2)
    )


def _conversation(raw: dict[str, Any], per_token: int) -> dict[str, Any]:
    c = raw["conversation"]
    rss, held = c["rss_mib"], c["tokens_held"]
    kv = c["kv_bytes"]
    return {
        "turns": len(held),
        "turns_requested": raw["turns_requested"],
        "stopped_on_wall_time": len(held) < raw["turns_requested"],
        "wall_s": c["wall_s"],
        "tokens_held": held,
        "cached_tokens": c["cached_tokens"],
        "kv_bytes": kv,
        "rss_mib": rss,
        "reply_tokens": c["reply_tokens"],
        "first_token_ms": c["first_token_ms"],
        "dropped_turns": c["dropped_turns"],
        "tokens_held_max": max(held, default=0),
        "kv_mib_max": max(kv, default=0) / MIB,
        "kv_bytes_agree": all(k == t * per_token for k, t in zip(kv, held, strict=True)),
        "history_budget_tokens": raw["conversation_tokens"],
        "rss_before_load_mib": raw["rss_before_load_mib"],
        "rss_loaded_mib": raw["rss_loaded_mib"],
        "rss_first_mib": rss[0] if rss else None,
        "rss_last_mib": rss[-1] if rss else None,
        "rss_max_mib": max(rss) if rss else None,
        "rss_slope_mib_per_turn": rss_slope(rss),
        "first_token_ms_p50": statistics.median(c["first_token_ms"]) if held else None,
    }


def kv_formula(g: dict[str, Any], cache_type: str, per_token: int) -> str:
    """How the bytes per token come from the geometry, written out."""
    num, den = CACHE_BYTES[cache_type]
    value = f"{num / den:g} bytes ({cache_type})"
    heads = set(g["kv_heads"])
    if len(heads) == 1 and g["key_dim"] == g["value_dim"]:
        return (
            f"2 × {g['layers']} layers × {heads.pop()} KV heads × {g['key_dim']} head dim × "
            f"{value} = {per_token:,} bytes"
        )
    return (
        f"{sum(g['kv_heads'])} KV heads over {g['layers']} layers × ({g['key_dim']} key + "
        f"{g['value_dim']} value dims) × {value} = {per_token:,} bytes"
    )


def _kv_check(raw: dict[str, Any], per_token: int, context: int) -> tuple[bool | None, str]:
    reported, cells = raw.get("kv_bytes_reported"), raw.get("kv_cells_reported")
    if reported is None or cells is None:
        return None, "llama.cpp logged no KV cache size: not checked"
    why = []
    if cells != context:
        why.append(f"{cells} cells for a context of {context} tokens")
    if abs(reported - per_token * cells) > KV_TOLERANCE_BYTES:
        why.append(
            f"{reported / MIB:.2f} MiB allocated, {per_token * cells / MIB:.2f} MiB computed "
            f"for {cells} cells"
        )
    if why:
        return False, "MISMATCH: " + "; ".join(why)
    return True, "agrees with the computed figure (to llama.cpp's 0.01 MiB)"


def llm_capacity(raw: dict[str, Any] | None, mem_available_mib: float | None) -> dict[str, Any]:
    """The section's figures; ``status`` other than ``measured``/``over_budget`` carries
    only ``why`` (one line)."""
    if raw is None:
        return {"status": "not_measured", "why": "these samples predate the measurement"}
    if raw["status"] not in ("measured", "over_budget"):
        return {"status": raw["status"], "why": raw["why"]}
    g, b = raw["geometry"], raw["budget"]
    per_token, context = raw["kv_bytes_per_token"], b["context_tokens"]
    per_conv = per_token * context
    left = b["budget"] - b["weights"] - b["overhead"]
    in_budget = max(0, left // per_conv)
    in_device = None
    if mem_available_mib is not None:
        in_device = max(
            0, int((mem_available_mib * MIB - b["weights"] - b["overhead"]) // per_conv)
        )
    agree, note = _kv_check(raw, per_token, context) if raw["status"] == "measured" else (None, "")
    kv_heads = g["kv_heads"]
    out: dict[str, Any] = {
        "status": raw["status"],
        "why": raw.get("why", ""),
        "name": raw["model"],
        "architecture": g["architecture"],
        "layers": g["layers"],
        "kv_heads": kv_heads[0] if len(set(kv_heads)) == 1 else kv_heads,
        "head_dim": g["key_dim"],
        "value_dim": g["value_dim"],
        "cache_type": raw["cache_type"],
        "kv_bytes_per_token": per_token,
        "kv_formula": kv_formula(g, raw["cache_type"], per_token),
        "context_tokens": context,
        "kv_bytes_at_context": per_conv,
        "kv_bytes_reported": raw.get("kv_bytes_reported"),
        "kv_cells_reported": raw.get("kv_cells_reported"),
        "kv_agree": agree,
        "kv_note": note,
        "weights_mib": b["weights"] / MIB,
        "overhead_mib": b["overhead"] / MIB,
        "budget_mib": b["budget"] / MIB,
        "budget_count_mib": (b["weights"] + b["kv"] + b["overhead"]) / MIB,
        "kv_mib_per_conversation": per_conv / MIB,
        "memory_left_mib": left / MIB,
        "conversations_in_budget": int(in_budget),
        "mem_available_mib": mem_available_mib,
        "conversations_in_device": in_device,
        "conversations_per_device": int(in_budget)
        if in_device is None
        else min(int(in_budget), in_device),
        "conversation": None,
    }
    if raw["status"] == "measured":
        out["conversation"] = _conversation(raw, per_token)
        out["load_s"] = raw["load_s"]
        out["probe_s"] = raw.get("probe_s")
    return out
