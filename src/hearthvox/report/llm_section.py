"""The language model's blocks of the capacity section (see :mod:`.sections`)."""

from __future__ import annotations

from typing import Any

Block = tuple[Any, ...]

MIB = 1024.0 * 1024.0


def _num(x: float | None, digits: int = 1) -> str:
    return "not measured" if x is None else f"{x:.{digits}f}"


def _count(n: int | None) -> str:
    return "not measured" if n is None else str(n)


def _measured(m: dict[str, Any]) -> list[Block]:
    ctx = m["context_tokens"]
    reported = m["kv_bytes_reported"]
    if reported is None:
        shown = m["kv_note"]
    else:
        shown = f"{reported / MIB:.2f} MiB ({m['kv_cells_reported']} cells): {m['kv_note']}"
    in_device = m["conversations_in_device"]
    device = (
        "not measured"
        if in_device is None
        else f"{in_device} ({_num(m['mem_available_mib'])} MiB available beside the loaded "
        "assistant, less weights and overhead)"
    )
    rows = [
        ["KV bytes per token, from the GGUF header", m["kv_formula"]],
        [
            f"KV cache at the context ({ctx} tokens), computed",
            f"{m['kv_bytes_at_context'] / MIB:.2f} MiB ({m['kv_bytes_at_context']:,} bytes)",
        ],
        ["KV cache llama.cpp allocated (its log at load)", shown],
        ["weights (the GGUF, mapped)", f"{m['weights_mib']:.1f} MiB"],
        ["runtime overhead (binding, llama.cpp, compute buffer)", f"{m['overhead_mib']:.1f} MiB"],
        ["memory budget ([llm] memory_mb)", f"{m['budget_mib']:.0f} MiB"],
        [
            "left for conversations: budget − weights − overhead",
            f"{m['memory_left_mib']:.1f} MiB",
        ],
        [
            f"KV per conversation at the budget ({ctx} tokens)",
            f"{m['kv_mib_per_conversation']:.2f} MiB",
        ],
        ["conversations within the budget", str(m["conversations_in_budget"])],
        ["conversations within the device's available memory", device],
        ["**conversations per device**", f"**{m['conversations_per_device']}**"],
    ]
    return [
        (
            "p",
            f"Language model {m['name']} ({m['architecture']}, {m['cache_type']} KV cache), "
            f"with the [llm] settings `hearthvox run` uses on this device, measured in a "
            "fresh process:",
        ),
        ("table", ["language model", "value"], rows),
        (
            "p",
            "Conversations per device: llama.cpp allocates a conversation's whole context "
            "at load, so each costs the KV cache at `context_tokens`; the memory left for "
            "them is the budget less the weights and the runtime overhead (and no more than "
            "the device had available beside the loaded assistant, less the same); "
            "conversations = that memory ÷ KV per conversation, rounded down.",
        ),
    ]


def _conversation(m: dict[str, Any]) -> list[Block]:
    c = m["conversation"]
    turns = f"{c['turns']} turns"
    if c["stopped_on_wall_time"]:
        turns += f" (of {c['turns_requested']}: stopped at the time bound)"
    slope = c["rss_slope_mib_per_turn"]
    return [
        (
            "p",
            f"A long conversation, {turns} of fixed spoken questions in {c['wall_s']:.1f} s "
            f"(the history held to [llm] keep_turns and keep_tokens; {c['dropped_turns']} "
            f"turns dropped): tokens held (system prompt + history) rose to "
            f"{c['tokens_held_max']}, {c['kv_mib_max']:.2f} MiB of KV cache in use of the "
            f"{m['kv_mib_per_conversation']:.2f} MiB allocated (a conversation's budget is "
            f"at most {c['history_budget_tokens']} tokens). RSS: {_num(c['rss_before_load_mib'])}"
            f" MiB before loading, {_num(c['rss_loaded_mib'])} loaded, "
            f"{_num(c['rss_first_mib'])} after the first turn, {_num(c['rss_last_mib'])} after "
            f"the last (max {_num(c['rss_max_mib'])}); slope "
            f"{_num(slope, 3)} MiB per turn (median of pairwise slopes). First token p50 "
            f"{_num(c['first_token_ms_p50'])} ms. The whole measurement (a fresh process, "
            f"the load, the conversation) took {_num(m.get('probe_s'))} s.",
        ),
        ("plot", "llm_conversation"),
    ]


def llm_blocks(llm: dict[str, Any], sized: dict[str, Any] | None) -> list[Block]:
    out: list[Block] = []
    status = llm["status"]
    if status == "measured":
        out += _measured(llm) + _conversation(llm)
    elif status == "over_budget":
        out += [("p", f"The language model {llm['name']} does not fit its budget: {llm['why']}.")]
        out += _measured(llm)
    else:
        out.append(("p", f"Language model not measured: {llm['why']}."))
    if sized is not None:
        out.append(
            (
                "p",
                f"Sized from [report] llm_* (hand-entered, not measured here): "
                f"{sized['name']}, {sized['layers']} layers × {sized['context_tokens']} tokens "
                f"× 2 × {sized['kv_heads']} KV heads × {sized['head_dim']} head dim × "
                f"{sized['cache_bytes']:g} bytes = {sized['kv_bytes_per_conversation']:,} "
                f"bytes ({sized['kv_mib_per_conversation']:.1f} MiB) per conversation; memory "
                f"left after its weights: {_num(sized['memory_left_mib'])} MiB, so "
                f"{_count(sized['conversations_fit'])} conversations fit.",
            )
        )
    return out
