"""The configured language model, measured in a fresh process for the capacity section.

What it measures: the KV cache (bytes per token from the GGUF header's geometry, and the
bytes llama.cpp allocates for the context in use, from its log at load), the memory
budget (weights, KV cache, runtime overhead, ``[llm] memory_mb``), and a long
conversation of fixed spoken-style questions through the engine, recording after each
turn the tokens the conversation holds (system prompt + kept history), the KV bytes they
take and the process's RSS.

``python -m hearthvox.report.llm_probe '{"model": PATH, "llm": {...}, "turns": 40}'``
prints one JSON line of counts, sizes and times: never a question's or a reply's text.
:func:`measure_llm` runs it with the ``[llm]`` config as ``hearthvox run`` uses it, or
says in one line why the model was not measured (``enabled = false``, the extra missing).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hearthvox.config import Config
from hearthvox.errors import HearthvoxError

if TYPE_CHECKING:
    from hearthvox.engines.llm import LlamaLlm

QUESTIONS = (
    "What is the capital of France?",
    "Why is the sky blue?",
    "How many legs does a spider have?",
    "Who wrote Romeo and Juliet?",
    "What should I cook for dinner tonight?",
    "How far away is the moon?",
    "Tell me something interesting about octopuses.",
    "What is the boiling point of water?",
)
"""Spoken-style open questions no skill answers; a long conversation cycles through them."""
EXTRA_MISSING = (
    "the [llm] extra is not installed (scripts/setup --llm, or pip install 'hearthvox[llm]')"
)
MIB = 1024.0 * 1024.0


def long_conversation(
    llm: LlamaLlm, turns: int, wall_s: float | None = None, rss: Callable[[], float] | None = None
) -> dict[str, Any]:
    """``turns`` questions in one conversation (fewer when ``wall_s`` runs out): after
    each turn, the tokens the conversation holds (system prompt + kept history), the
    tokens the KV cache holds, the KV bytes of the tokens held, and ``rss()`` (MiB)."""
    conv = llm.conversation()
    system, per_token = len(llm.system_tokens), llm.kv_bytes_per_token
    keys = ("tokens_held", "cached_tokens", "kv_bytes", "rss_mib", "reply_tokens")
    out: dict[str, Any] = {k: [] for k in (*keys, "first_token_ms", "evaluated_tokens")}
    t0 = time.monotonic()
    for i in range(turns):
        if wall_s is not None and i and time.monotonic() - t0 > wall_s:
            break
        reply = llm.generate(conv, QUESTIONS[i % len(QUESTIONS)], threading.Event())
        for _piece in reply:
            pass
        held = system + conv.tokens
        s = reply.stats
        row = (held, llm.cached_tokens, held * per_token, rss() if rss else None, s.new_tokens)
        for key, value in zip(keys, row, strict=True):
            out[key].append(value)
        out["first_token_ms"].append(round((s.first_token_s or 0.0) * 1000.0, 1))
        out["evaluated_tokens"].append(s.evaluated_tokens)
    out["dropped_turns"] = conv.dropped
    out["wall_s"] = round(time.monotonic() - t0, 2)
    return out


def _rss_mib() -> float:
    import psutil

    return round(float(psutil.Process().memory_info().rss) / MIB, 2)


def probe(args: dict[str, Any]) -> dict[str, Any]:
    """In the fresh process: the budget from the header, then load, then the conversation."""
    from hearthvox.config import from_dict
    from hearthvox.engines.gguf import KvGeometry, read_gguf_header
    from hearthvox.engines.llm import LlamaLlm, LlmOptions, MemoryBudget

    model = Path(args["model"])
    options = LlmOptions.from_config(from_dict({"llm": args["llm"]}).llm)
    header = read_gguf_header(model)
    geometry = KvGeometry.from_header(header)
    budget = MemoryBudget.of(header, geometry, options)
    out: dict[str, Any] = {
        "model": model.name,
        "geometry": dataclasses.asdict(geometry),
        "cache_type": options.cache_type,
        "kv_bytes_per_token": geometry.bytes_per_token(options.cache_type),
        "budget": dataclasses.asdict(budget),
        "max_new_tokens": options.max_new_tokens,
        "keep_turns": options.conversation.keep_turns,
        "keep_tokens": options.conversation.keep_tokens,
        "threads": options.threads,
    }
    if not budget.fits:  # refused as `hearthvox run` refuses it: its figures still count
        return {**out, "status": "over_budget", "why": budget.describe()}
    rss_before, t0 = _rss_mib(), time.perf_counter()
    llm = LlamaLlm(model, options)
    load_s = time.perf_counter() - t0
    rss_loaded = _rss_mib()
    talk = long_conversation(llm, int(args["turns"]), float(args["wall_s"]), _rss_mib)
    return {
        **out,
        "status": "measured",
        "kv_bytes_at_context": llm.kv_bytes,
        "kv_bytes_reported": llm.reported_kv_bytes,
        "kv_cells_reported": llm.reported_kv_cells,
        "compute_bytes_reported": llm.reported_compute_bytes,
        "system_tokens": len(llm.system_tokens),
        "conversation_tokens": llm.conversation_tokens,
        "load_s": round(load_s, 3),
        "rss_before_load_mib": rss_before,
        "rss_loaded_mib": rss_loaded,
        "turns_requested": int(args["turns"]),
        "conversation": talk,
    }


def measure_llm(
    cfg: Config, turns: int, wall_s: float, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """The language model of ``cfg`` (the run config: user > matrix > default), measured
    in a fresh process; or ``{"status": ..., "why": one line}`` when it is not."""
    if not cfg.llm.enabled:
        return {"status": "disabled", "why": "[llm] enabled = false"}
    if importlib.util.find_spec("llama_cpp") is None:
        return {"status": "missing", "why": EXTRA_MISSING}
    if progress is not None:
        progress(f"language model: its KV cache and a {turns}-turn conversation, fresh process")
    try:
        if cfg.llm.model:
            model = Path(cfg.llm.model)
        else:
            from hearthvox.bundles.optional import llm_model_file

            model = llm_model_file()  # built into the model store on first use
    except HearthvoxError as exc:
        return {"status": "missing", "why": str(exc)}
    args = {
        "model": str(model),
        "llm": dataclasses.asdict(cfg.llm),
        "turns": turns,
        "wall_s": wall_s,
    }
    cmd = [sys.executable, "-m", "hearthvox.report.llm_probe", json.dumps(args)]
    t0 = time.monotonic()
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, env=dict(os.environ), timeout=900
        )
    except subprocess.TimeoutExpired:
        return {"status": "failed", "why": "the language model's probe ran past 900 s"}
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or ["no message"]
        return {"status": "failed", "why": f"the language model's probe failed: {lines[-1]}"}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["probe_s"] = round(time.monotonic() - t0, 2)  # what it adds to the report
    return result


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m hearthvox.report.llm_probe JSON", file=sys.stderr)
        return 2
    try:
        result = probe(json.loads(argv[0]))
    except HearthvoxError as exc:  # a model that does not load: said in the report
        result = {"status": "not_loaded", "why": str(exc)}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
