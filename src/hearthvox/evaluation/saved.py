"""``eval --json`` lines, and an eval result read back from them (``eval --compare FILE``).

Each line is one slice's figures. The lines of the slices that own clips (every
slice but the views of the clean recordings and ``all``) also carry
``outcomes``: each clip's figures (edits, words, flags; never a transcript), so
a saved result can be paired clip by clip with a new one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hearthvox.evaluation import recipes
from hearthvox.evaluation.corpus import EvalError
from hearthvox.evaluation.metrics import EvalResult, result_from
from hearthvox.evaluation.runner import ClipOutcome

MAX_BYTES = 64 * 1024 * 1024


def rows(result: EvalResult) -> list[dict[str, Any]]:
    """One object per slice: the figures, then ``outcomes`` where the slice owns clips."""
    out = []
    for s in result.slices:
        row = s.to_json() | {
            "bundle": result.bundle,
            "set": result.set_digest,
            "quick": result.quick,
        }
        if s.slice not in (*recipes.VIEWS, recipes.ALL):
            row["outcomes"] = [c.to_dict() for c in result.clips if c.slice == s.slice]
        out.append(row)
    return out


def load(path: Path) -> EvalResult:
    """The result saved by ``hearthvox eval --json > FILE``."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise EvalError(f"{path}: larger than {MAX_BYTES >> 20} MiB, not an eval result")
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    clips: list[ClipOutcome] = []
    head: dict[str, Any] = {}
    try:
        for line in lines:
            if not line.strip().startswith("{"):
                continue  # e.g. --clips lines or a blank line
            row = json.loads(line)
            if "slice" not in row or "set" not in row:
                continue
            head = head or row
            if row["set"] != head["set"]:
                raise EvalError(f"{path}: lines of two eval sets")
            clips.extend(ClipOutcome.from_dict(c) for c in row.get("outcomes", []))
    except (ValueError, TypeError, KeyError) as exc:
        raise EvalError(f"{path}: not the output of hearthvox eval --json ({exc})") from None
    if not clips:
        raise EvalError(
            f"{path}: no clip outcomes; save a result with: hearthvox eval --json > FILE"
        )
    return result_from(
        str(head.get("bundle", path.name)),
        str(head["set"]),
        bool(head.get("quick", False)),
        tuple(clips),
        split=str(head.get("split", "")),
    )
