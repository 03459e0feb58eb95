"""The report's plots as inline SVG (matplotlib, Agg backend, imported here only)."""

from __future__ import annotations

import io
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


def all_plots(data: dict[str, Any], raw: dict[str, Any]) -> dict[str, str]:
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
    return out
