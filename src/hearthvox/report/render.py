"""The blocks of :mod:`.sections` as Markdown and as one self-contained HTML page."""

from __future__ import annotations

import html
import re
from typing import Any

from hearthvox.report.plots import LLM_PNG
from hearthvox.report.sections import blocks

FILES = {"llm_conversation": LLM_PNG}
"""Plots also written as files beside the page: Markdown shows them."""

_CSS = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:.6em 0;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#eef}h2{border-bottom:2px solid #4c72b0;margin-top:1.6em}
code{background:#f4f4f4;padding:1px 3px}.plot svg{max-width:100%;height:auto}"""


def _cell_md(x: Any) -> str:
    return str(x).replace("|", "\\|").replace("\n", " ")


def render_markdown(data: dict[str, Any]) -> str:
    lines: list[str] = []
    for block in blocks(data):
        kind = block[0]
        if kind == "title":
            lines += [f"# {block[1]}", ""]
        elif kind == "h":
            lines += [f"## {block[1]}", ""]
        elif kind == "p":
            lines += [block[1], ""]
        elif kind == "list":
            lines += [f"- {item}" for item in block[1]] + [""]
        elif kind == "table":
            headers, rows = block[1], block[2]
            lines.append("| " + " | ".join(_cell_md(h) for h in headers) + " |")
            lines.append("|" + "---|" * len(headers))
            lines += ["| " + " | ".join(_cell_md(c) for c in row) + " |" for row in rows]
            lines.append("")
        elif kind == "plot" and block[1] in FILES:
            lines += [f"![{block[1]}]({FILES[block[1]]})", ""]
        elif kind == "plot":
            lines += [f"(plot `{block[1]}`: see report.html)", ""]
    return "\n".join(lines)


def _inline(text: str) -> str:
    out = html.escape(str(text))
    out = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", out)


def render_html(data: dict[str, Any], plots: dict[str, str]) -> str:
    parts = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">']
    parts.append(f"<title>{html.escape(data['meta']['bundle'])}: readiness</title>")
    parts.append(f"<style>{_CSS}</style></head><body>")
    for block in blocks(data):
        kind = block[0]
        if kind == "title":
            parts.append(f"<h1>{_inline(block[1])}</h1>")
        elif kind == "h":
            parts.append(f"<h2>{_inline(block[1])}</h2>")
        elif kind == "p":
            parts.append(f"<p>{_inline(block[1])}</p>")
        elif kind == "list":
            parts.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in block[1]) + "</ul>")
        elif kind == "table":
            head = "".join(f"<th>{_inline(h)}</th>" for h in block[1])
            body = "".join(
                "<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>"
                for row in block[2]
            )
            parts.append(f"<table><tr>{head}</tr>{body}</table>")
        elif kind == "plot":
            svg = plots.get(block[1])
            parts.append(f'<div class="plot" id="plot-{block[1]}">{svg}</div>' if svg else "")
    parts.append("</body></html>")
    return "\n".join(parts)
