"""Output files: ``NAME.json`` always, ``NAME.txt``/``.srt``/``.vtt`` by ``--format``.

Every file is written atomically: a hidden temporary file next to the target
(``.NAME.json.hvtmp-PID``), fsynced, renamed into place, and the folder fsynced. A
killed run leaves at most such a temporary file, which the next run removes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

FORMATS = ("json", "txt", "srt", "vtt")
TMP_MARK = ".hvtmp-"


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}{TMP_MARK}{os.getpid()}")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_leftovers(out_dir: Path) -> int:
    """Delete the temporary files a killed run left behind; returns how many."""
    if not out_dir.is_dir():
        return 0
    count = 0
    for tmp in out_dir.rglob(f".*{TMP_MARK}*"):
        if tmp.is_file():
            tmp.unlink(missing_ok=True)
            count += 1
    return count


def _stamp(seconds: float, sep: str) -> str:
    ms = max(0, round(seconds * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _cues(segments: Iterable[dict[str, Any]]) -> list[tuple[float, float, str]]:
    return [
        (float(s["start"]), float(s["end"]), str(s["text"]).strip())
        for s in segments
        if str(s["text"]).strip()
    ]


def render(record: dict[str, Any], fmt: str) -> str:
    """One output format from the JSON record of a transcription."""
    segments = record["segments"]
    if fmt == "json":
        return json.dumps(record, indent=2, ensure_ascii=False) + "\n"
    if fmt == "txt":
        text: str = record["text"]
        return text + "\n" if text else ""
    if fmt == "srt":
        blocks = [
            f"{i}\n{_stamp(a, ',')} --> {_stamp(b, ',')}\n{t}\n"
            for i, (a, b, t) in enumerate(_cues(segments), 1)
        ]
        return "\n".join(blocks)
    if fmt == "vtt":
        blocks = [f"{_stamp(a, '.')} --> {_stamp(b, '.')}\n{t}\n" for a, b, t in _cues(segments)]
        return "WEBVTT\n\n" + "\n".join(blocks)
    raise ValueError(f"unknown output format {fmt!r}; known: {', '.join(FORMATS)}")


def output_path(out_dir: Path, stem: str, fmt: str) -> Path:
    return out_dir / f"{stem}.{fmt}"


def write_outputs(
    out_dir: Path, stem: str, record: dict[str, Any], formats: Iterable[str]
) -> list[str]:
    """Write the JSON record last (it marks the set complete); returns the relative paths."""
    written: list[str] = []
    for fmt in [f for f in formats if f != "json"] + ["json"]:
        atomic_write(output_path(out_dir, stem, fmt), render(record, fmt))
        written.append(f"{stem}.{fmt}")
    return written
