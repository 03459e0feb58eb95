"""The report's plots as inline SVG (matplotlib, Agg backend, imported here only); the
language model's conversation plot is also written as a PNG beside the report."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from hearthvox.errors import HearthvoxError


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise HearthvoxError(
            "the report's plots need matplotlib, which the core install leaves out: "
            "pip install 'hearthvox[report]'"
        ) from None

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


MIB = 1024.0 * 1024.0
LLM_PNG = "llm_conversation.png"


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    _pyplot().close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]  # drop the XML prologue: the SVG is inlined


def latency_cdf(samples: dict[str, list[float]]) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    for stage, values in samples.items():
        if values:
            xs = sorted(values)
            ys = [(i + 1) / len(xs) for i in range(len(xs))]
            ax.step(
                [xs[0], *xs], [0.0, *ys], where="post", label=f"{stage} (n={len(xs)})", linewidth=2
            )
    ax.set_xlabel("ms")
    ax.set_ylabel("share of turns at or under")
    ax.set_title("Warm latency per stage (CDF)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return _svg(fig)


def memory_turns(rss: list[float], idle: float, requested: int) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.plot(range(1, len(rss) + 1), rss, marker="o", linewidth=2, label="RSS after each turn")
    ax.axhline(idle, color="grey", linestyle="--", label="idle RSS")
    ax.set_xlabel(f"consecutive turn ({len(rss)} of {requested} requested)")
    ax.set_ylabel("MiB")
    ax.set_title("Memory across consecutive turns")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _svg(fig)


def engine_share(engines: dict[str, float], base: float) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 2.8))
    names = ["process + libraries", *engines]
    values = [base, *engines.values()]
    ax.barh(names, values, color="#4c72b0")
    ax.set_xlabel("MiB (RSS step while loading)")
    ax.set_title("Memory by engine")
    ax.invert_yaxis()
    return _svg(fig)


def quality_bars(slices: list[dict[str, Any]], limit: float) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.5))
    rows = [s for s in slices if s.get("wer") is not None]
    colors = ["#c44e52" if s["fails"] else "#55a868" for s in rows]
    ax.bar([s["slice"] for s in rows], [s["wer"] for s in rows], color=colors)
    ax.axhline(limit, color="black", linestyle="--", label=f"WER limit {limit:g}")
    ax.set_ylabel("word error rate")
    ax.set_title("Quality by slice (red: over budget)")
    ax.tick_params(axis="x", rotation=45, labelsize=8)
    ax.legend(fontsize=8)
    return _svg(fig)


def llm_conversation(llm: dict[str, Any], png: Path | None = None) -> str:
    """KV bytes in use and RSS after each turn of the long conversation, with the budget
    lines; also saved as ``png`` when given."""
    plt = _pyplot()
    c = llm["conversation"]
    turns = range(1, c["turns"] + 1)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5.5), sharex=True)
    top.plot(turns, [b / MIB for b in c["kv_bytes"]], marker="o", label="KV cache in use")
    top.axhline(
        llm["kv_mib_per_conversation"],
        color="#c44e52",
        linestyle="--",
        label=f"KV allocated: {llm['context_tokens']} tokens of context",
    )
    top.axhline(
        c["history_budget_tokens"] * llm["kv_bytes_per_token"] / MIB,
        color="#dd8452",
        linestyle=":",
        label=f"a conversation's budget: {c['history_budget_tokens']} tokens",
    )
    top.set_ylim(bottom=0)
    top.set_ylabel("KV cache MiB")
    top.set_title(f"{llm['name']}: a long conversation ({llm['kv_bytes_per_token']:,} B/token)")
    before = c["rss_before_load_mib"]
    bottom.plot(turns, c["rss_mib"], marker="o", color="#55a868", label="RSS after the turn")
    bottom.axhline(
        before + llm["budget_mib"],
        color="#c44e52",
        linestyle="--",
        label="RSS before loading + [llm] memory_mb",
    )
    bottom.axhline(before, color="grey", linestyle=":", label="RSS before loading the model")
    bottom.set_ylim(bottom=0)
    bottom.set_ylabel("RSS MiB")
    bottom.set_xlabel("turn")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="center right")
    if png is not None:
        fig.savefig(png, format="png", dpi=100, bbox_inches="tight")
    return _svg(fig)


def all_plots(
    data: dict[str, Any], raw: dict[str, Any], png_dir: Path | None = None
) -> dict[str, str]:
    """Every plot as SVG; the language model's also as a PNG in ``png_dir``."""
    mem = data["memory"]
    out = {
        "latency": latency_cdf(raw["warm"]["latency"]["samples"]),
        "memory_turns": memory_turns(
            raw["probe"]["rss_turns_mib"], mem["rss_idle_mib"], mem["turns_requested"]
        ),
        "engines": engine_share(mem["engines_mib"], mem["rss_imports_mib"]),
    }
    slices = data["quality"]["slices"]
    if slices:
        out["quality"] = quality_bars(slices, float(data.get("limits", {}).get("wer_max", 0.25)))
    llm = data["capacity"]["llm"]
    if llm.get("conversation"):
        out["llm_conversation"] = llm_conversation(llm, png_dir / LLM_PNG if png_dir else None)
    return out
