"""The local language model's figures for docs/llm.md: load time, RSS, KV cache bytes
(computed from the GGUF and as llama.cpp reports them), time to first token with the
cached system prompt, tokens per second, and RSS over a long conversation.

    .venv/bin/python scripts/llm_figures.py [--runs 5] [--turns 50] [--threads 1] [--json]

Each run is a fresh conversation of the same spoken-style questions; the figures are the
median over every reply of every run, with the spread (min-max of the runs' medians).
Needs the [llm] extra (scripts/setup --llm).
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from collections.abc import Sequence

import psutil

from hearthvox.bundles.lock import load_lock, resolve_source
from hearthvox.bundles.optional import LLM_MODEL
from hearthvox.engines.llm import LlamaLlm, LlmOptions
from hearthvox.engines.llm_conversation import ConversationBudget
from hearthvox.report.llm_probe import QUESTIONS, long_conversation

MIB = 1024 * 1024


def _spread(values: Sequence[float]) -> str:
    return f"{min(values):.3g}-{max(values):.3g}"


def _p95(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))], 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--turns", type=int, default=50, help="turns of the long conversation")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--context", type=int, default=2048)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    artifact = load_lock().artifact(LLM_MODEL)
    gguf = resolve_source(artifact) / artifact.files[0].name
    proc = psutil.Process()
    rss0 = proc.memory_info().rss
    t0 = time.perf_counter()
    options = LlmOptions(context_tokens=args.context, threads=args.threads)
    llm = LlamaLlm(gguf, options)
    load_s = time.perf_counter() - t0
    rss_loaded = proc.memory_info().rss

    first_ms: list[list[float]] = []
    tps: list[list[float]] = []
    evaluated: list[int] = []
    for _ in range(args.runs):
        conv = llm.conversation()
        run_first, run_tps = [], []
        for q in QUESTIONS:
            reply = llm.generate(conv, q, threading.Event())
            for _piece in reply:
                pass
            s = reply.stats
            if s.first_token_s is not None:
                run_first.append(s.first_token_s * 1000)
            if s.tokens_per_s is not None:
                run_tps.append(s.tokens_per_s)
            evaluated.append(s.evaluated_tokens)
        first_ms.append(run_first)
        tps.append(run_tps)

    # a long conversation: RSS after each turn, the history held to its budget
    long = llm.retuned(conversation=ConversationBudget(keep_turns=8, keep_tokens=1024))
    talk = long_conversation(long, args.turns, rss=lambda: proc.memory_info().rss / MIB)
    rss_turns, cached = talk["rss_mib"], talk["cached_tokens"]
    long_first, long_eval = talk["first_token_ms"], talk["evaluated_tokens"]

    all_first = [x for run in first_ms for x in run]
    all_tps = [x for run in tps for x in run]
    figures = {
        "threads": args.threads,
        "context_tokens": args.context,
        "load_s": round(load_s, 3),
        "rss_before_mib": round(rss0 / MIB, 1),
        "rss_load_growth_mib": round((rss_loaded - rss0) / MIB, 1),
        "weights_mib": round(llm.budget.weights / MIB, 1),
        "kv_bytes_per_token": llm.kv_bytes_per_token,
        "kv_mib_at_context": round(llm.kv_bytes / MIB, 2),
        "kv_mib_reported_by_llama_cpp": (
            round(llm.reported_kv_bytes / MIB, 2) if llm.reported_kv_bytes else None
        ),
        "conversation_tokens_at_budget": llm.conversation_tokens,
        "conversation_kv_mib_at_budget": round(llm.conversation_kv_bytes / MIB, 2),
        "budget_mib": round(llm.budget.total / MIB, 1),
        "system_prompt_tokens": len(llm.system_tokens),
        "first_token_ms_median": round(statistics.median(all_first), 1),
        "first_token_ms_run_medians": _spread([statistics.median(r) for r in first_ms]),
        "tokens_per_s_median": round(statistics.median(all_tps), 1),
        "tokens_per_s_run_medians": _spread([statistics.median(r) for r in tps]),
        "prompt_tokens_evaluated_median": statistics.median(evaluated),
        "long_turns": args.turns,
        "long_rss_mib_first_last_max": [
            round(rss_turns[0], 1),
            round(rss_turns[-1], 1),
            round(max(rss_turns), 1),
        ],
        "long_rss_mib_growth_after_turn_10": round(
            rss_turns[-1] - rss_turns[min(9, args.turns - 1)], 1
        ),
        "long_cached_tokens_max": max(cached),
        "long_turns_dropped": talk["dropped_turns"],
        "long_evaluated_tokens_median": statistics.median(long_eval),
        "long_evaluated_tokens_max_after_turn_1": max(long_eval[1:], default=0),
        "long_first_token_ms_p95_turns_1_10": _p95(long_first[:10]),
        "long_first_token_ms_p95_turns_40_50": _p95(long_first[39:50]),
    }
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:36} {value}")


if __name__ == "__main__":
    main()
