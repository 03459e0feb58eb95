"""``hearthvox transcribe --out-dir`` as a user runs it: real subprocesses, kill -9 mid-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from hearthvox.audio.wavio import load_wav, write_wav
from hearthvox.batch import MANIFEST, daemon_lock_path
from hearthvox.batch.guardbench import HOLD
from tests.batch.conftest import encode, speech_rows


def hearthvox(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hearthvox", "transcribe", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ.copy(),
    )


def done_lines(out: Path) -> list[dict[str, object]]:
    path = out / MANIFEST
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    return [r for r in rows if r.get("status") == "done"]


def many_inputs(corpus_dir: Path, rows: list[dict[str, str]], folder: Path) -> int:
    """24 distinct recordings: each speech file plain, quieter (WAV) and as FLAC."""
    folder.mkdir()
    n = 0
    for row in speech_rows(rows):
        audio = load_wav(corpus_dir / row["file"])
        stem = Path(row["file"]).stem
        write_wav(folder / f"{stem}.wav", audio.samples, 16000)
        write_wav(folder / f"{stem}_quiet.wav", (audio.samples * 0.5).astype(np.int16), 16000)
        encode(audio.samples, 16000, folder / f"{stem}_flac", "flac")
        n += 3
    return n


def test_kill_9_mid_run_then_rerun_completes_without_duplicates_or_torn_files(
    corpus_dir: Path, corpus_rows: list[dict[str, str]], tmp_path: Path
) -> None:
    folder, out = tmp_path / "in", tmp_path / "out"
    n = many_inputs(corpus_dir, corpus_rows, folder)
    # one file per batch, one thread: slow enough to be caught in the middle
    args = [str(folder), "--out-dir", str(out), "--format", "txt,srt", "--batch-size", "1"]
    args += ["--jobs", "1", "--threads", "1", "--no-progress"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "hearthvox", "transcribe", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=os.environ.copy(),
    )
    deadline = time.monotonic() + 120
    try:
        while len(done_lines(out)) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)  # polling the manifest another process writes
        proc.send_signal(signal.SIGKILL)
    finally:
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, err
    finished = len(done_lines(out))
    assert 2 <= finished < n, "the run was not caught in the middle"
    for path in out.glob("*.json"):
        json.loads(path.read_text())  # every visible output is whole

    rerun = hearthvox(*args, "--json")
    assert rerun.returncode == 0, rerun.stderr
    rows = [json.loads(line) for line in rerun.stdout.splitlines()]
    statuses = [r["status"] for r in rows]
    assert len(rows) == n and statuses.count("skipped") >= finished
    assert statuses.count("done") + statuses.count("skipped") == n
    manifest = done_lines(out)
    assert len(manifest) == n and len({r["key"] for r in manifest}) == n
    visible = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert len(visible) == 3 * n + 1  # json, txt, srt per input, and the manifest
    assert [p.name for p in out.iterdir() if ".hvtmp-" in p.name] == []
    for path in out.glob("*.json"):
        assert json.loads(path.read_text())["input"]["sha256"]


def test_json_rows_with_out_and_a_config_change_transcribes_again(
    corpus_dir: Path, tmp_path: Path
) -> None:
    files = [str(corpus_dir / "spk1_snt1.wav"), str(corpus_dir / "spk2_snt2.wav")]
    out = tmp_path / "out"
    first = hearthvox(*files, "--out-dir", str(out), "--json")
    assert first.returncode == 0, first.stderr
    rows = [json.loads(line) for line in first.stdout.splitlines()]
    assert [r["status"] for r in rows] == ["done", "done"]
    assert rows[0]["outputs"] == [str(out / "spk1_snt1.txt"), str(out / "spk1_snt1.json")]
    assert "text" not in rows[0]  # the text is in the files the user asked for
    assert "2 transcribed" in first.stderr

    config = tmp_path / "beam.toml"
    config.write_text("[asr]\nbeam_size = 2\n")
    second = hearthvox(*files, "--out-dir", str(out), "--json", "--config", str(config))
    assert [json.loads(x)["status"] for x in second.stdout.splitlines()] == ["done", "done"]
    record = json.loads((out / "spk1_snt1.json").read_text())
    assert record["settings"]["beam_size"] == 2

    bad = hearthvox(files[0], "--out-dir", str(out), "--format", "docx")
    assert bad.returncode == 2 and "unknown format 'docx'" in bad.stderr


def test_batch_work_yields_while_the_daemon_holds_its_lock(
    corpus_dir: Path, tmp_path: Path
) -> None:
    daemon = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(daemon_lock_path())],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert daemon.stdout is not None and daemon.stdout.readline().strip() == "held"
        proc = hearthvox(str(corpus_dir / "spk2_snt1.wav"), "--threads", "2")
    finally:
        daemon.communicate("\n", timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert "the assistant is running here: batch work yields" in proc.stderr
    assert "1 thread(s)" in proc.stderr
    assert "one war is enough" in proc.stdout.lower()


def test_wait_mode_starts_only_once_the_daemon_stops(corpus_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    daemon = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(daemon_lock_path())],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    cmd = [sys.executable, "-m", "hearthvox", "transcribe", str(corpus_dir / "spk2_snt1.wav")]
    cmd += ["--out-dir", str(out), "--when-busy", "wait", "--no-progress"]
    proc = None
    try:
        assert daemon.stdout is not None and daemon.stdout.readline().strip() == "held"
        proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
        assert proc.stderr is not None
        seen = []
        while line := proc.stderr.readline():  # ends when the process closes stderr
            seen.append(line)
            if "waiting for it to stop" in line:
                break
        assert "waiting for it to stop" in "".join(seen), seen
        assert not (out / "spk2_snt1.json").exists()
    finally:
        daemon.communicate("\n", timeout=30)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "the assistant stopped: going on" in err
    assert "one war is enough" in (out / "spk2_snt1.txt").read_text().lower()
