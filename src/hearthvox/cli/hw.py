"""``hearthvox hw``: probe the hardware, pick a profile from the compatibility matrix, say why."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import click

from hearthvox.compat.matrix import STAGES, Selection, load_matrix, select_profile
from hearthvox.compat.probe import Probe, probe


def hw_report(root: Path = Path("/"), matrix_path: Path | None = None) -> dict[str, Any]:
    """The ``hw --json`` object: profile, reasons, probe, variants (and a little more)."""
    found = probe(root)
    selection = select_profile(found, load_matrix(matrix_path))
    report = _report(found, selection)
    if root.resolve() != Path("/"):
        report["root"] = str(root)  # files from there; runtime facts are still this machine's
    return report


def _report(found: Probe, selection: Selection) -> dict[str, Any]:
    return {
        "profile": selection.profile,
        "description": selection.description,
        "reasons": list(selection.reasons),
        "probe": dataclasses.asdict(found),
        "variants": {stage: selection.variants[stage] for stage in STAGES},
        "verified": selection.verified,
    }


def _settings(settings: dict[str, Any]) -> str:
    def show(value: Any) -> str:
        if isinstance(value, list):
            return ",".join(str(v) for v in value)
        return str(value)

    return " ".join(f"{k}={show(v)}" for k, v in settings.items())


def _summary(report: dict[str, Any]) -> str:
    p = report["probe"]
    mem = (
        f"{p['mem_total_mb'] / 1024:.1f} GB RAM ({p['mem_available_mb'] / 1024:.1f} GB available)"
        if p["mem_total_mb"] is not None and p["mem_available_mb"] is not None
        else "RAM unknown"
    )
    lines = [
        f"profile: {report['profile']}"
        + (f"  ({report['description']})" if report["description"] else ""),
        "why:",
        *(f"  - {r}" for r in report["reasons"]),
        "hardware:",
        f"  cpu:    {p['arch']}, {p['cpu_model']}, {p['cores']} core(s)",
        f"  flags:  {' '.join(p['flags']) or 'none of interest'}",
        f"  memory: {mem}",
    ]
    if p["board"]:
        lines.append(f"  board:  {p['board']}")
    if p["l4t_release"]:
        lines.append(f"  L4T:    {p['l4t_release']}")
    lines += [
        f"  onnxruntime providers: {', '.join(p['onnx_providers']) or 'none (not installed?)'}",
        f"  CUDA devices (CTranslate2): {p['cuda_devices']}"
        + (f"  [{p['cuda_error']}]" if p["cuda_error"] else ""),
        "variants:",
        *(f"  {stage:<4}  {_settings(s)}" for stage, s in report["variants"].items()),
    ]
    if "root" in report:
        lines.append(
            f"(device files from {report['root']}; onnxruntime providers and CUDA devices "
            "are this machine's)"
        )
    if report["verified"]:
        lines.append("verified on this profile:")
        lines += [f"  - {json.dumps(v, sort_keys=True)}" for v in report["verified"]]
    return "\n".join(lines)


@click.command("hw")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on one line.")
@click.option(
    "--root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=Path("/"),
    hidden=True,
    help="Probe a filesystem tree (recorded device files) instead of this machine.",
)
@click.option(
    "--matrix",
    "matrix_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    hidden=True,
    help="Use this compat_matrix.yaml instead of the packaged one.",
)
def hw(as_json: bool, root: Path, matrix_path: Path | None) -> None:
    """Probe the hardware and show the chosen profile, its model variants, and why."""
    report = hw_report(root, matrix_path)
    if as_json:
        click.echo(json.dumps(report, separators=(",", ":")))
    else:
        click.echo(_summary(report))
