"""Output formats, atomic writes and the manifest (no models needed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hearthvox.batch.manifest import MANIFEST, BusyError, Manifest
from hearthvox.batch.outputs import atomic_write, remove_leftovers, render, write_outputs

RECORD: dict[str, Any] = {
    "text": "Hello there. General Kenobi.",
    "segments": [
        {"start": 0.5, "end": 1.25, "text": "Hello there."},
        {"start": 3661.0, "end": 3662.5, "text": " General Kenobi."},
        {"start": 3663.0, "end": 3663.5, "text": " "},
    ],
}


def test_srt_and_vtt_cues() -> None:
    assert render(RECORD, "srt") == (
        "1\n00:00:00,500 --> 00:00:01,250\nHello there.\n\n"
        "2\n01:01:01,000 --> 01:01:02,500\nGeneral Kenobi.\n"
    )
    assert render(RECORD, "vtt") == (
        "WEBVTT\n\n00:00:00.500 --> 00:00:01.250\nHello there.\n\n"
        "01:01:01.000 --> 01:01:02.500\nGeneral Kenobi.\n"
    )
    assert render(RECORD, "txt") == "Hello there. General Kenobi.\n"
    assert json.loads(render(RECORD, "json")) == RECORD
    with pytest.raises(ValueError, match="unknown output format"):
        render(RECORD, "docx")


def test_json_is_written_last_and_nothing_is_left_half_written(tmp_path: Path) -> None:
    written = write_outputs(tmp_path, "sub/talk", RECORD, ["json", "srt"])
    assert written == ["sub/talk.srt", "sub/talk.json"]
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["talk.json", "talk.srt"]

    target = tmp_path / "sub" / "talk.txt"
    with pytest.raises(TypeError):
        atomic_write(target, 42)  # type: ignore[arg-type]  # a failing write on purpose
    assert not target.exists()
    assert [p.name for p in (tmp_path / "sub").iterdir() if p.name.startswith(".")] == []


def test_leftovers_of_a_killed_writer_are_removed(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / ".talk.json.hvtmp-1234").write_text("{")
    (tmp_path / ".keep").write_text("not ours")
    assert remove_leftovers(tmp_path) == 1
    assert (tmp_path / ".keep").exists()
    assert list((tmp_path / "a").iterdir()) == []


def test_manifest_survives_a_torn_line_and_keeps_the_latest_per_name(tmp_path: Path) -> None:
    with Manifest(tmp_path) as m:
        m.record("a@1:f", "failed", {"stem": "a", "error": "bad"})
        m.record("a@2:f", "done", {"stem": "a", "outputs": ["a.json"]})
        m.record("b@3:f", "done", {"stem": "b", "outputs": ["b.json"]})
    with (tmp_path / MANIFEST).open("a") as fh:
        fh.write('{"key": "c@4:f", "status": "do')  # a kill in the middle of a line
    with Manifest(tmp_path) as m:
        assert sorted(m.entries) == ["a@2:f", "b@3:f"]
        assert m.get("a@2:f") is not None and m.get("a@2:f").outputs == ["a.json"]  # type: ignore[union-attr]
    lines = (tmp_path / MANIFEST).read_text().splitlines()
    assert [json.loads(line)["key"] for line in lines] == ["a@2:f", "b@3:f"]


def test_a_second_run_on_the_same_folder_is_refused(tmp_path: Path) -> None:
    code = (
        "import sys, pathlib\n"
        "from hearthvox.batch.manifest import Manifest\n"
        "with Manifest(pathlib.Path(sys.argv[1])):\n"
        "    print('locked', flush=True)\n"
        "    sys.stdin.readline()\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(BusyError, match="another 'hearthvox transcribe'"), Manifest(tmp_path):
            pass
    finally:
        holder.communicate("\n", timeout=30)
    with Manifest(tmp_path) as m:  # free again
        assert m.entries == {}
