"""``hearthvox transcribe --ray``: a real Ray cluster on 127.0.0.1 (a head and a worker node,
one CPU each), the CLI in a subprocess: the same bytes as the local run, reruns, SIGKILL of
an actor mid-run, and a worker that cannot read an input."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from hearthvox.batch import MANIFEST
from hearthvox.batch.raynodes import LocalCluster
from tests.batch.test_cli import done_lines, many_inputs

EPOCH = {"SOURCE_DATE_EPOCH": "1767225600"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    home = tmp_path_factory.mktemp("ray-home")
    with LocalCluster(workers=1, cpus=1, head_cpus=1, env={"HEARTHVOX_HOME": str(home)}) as c:
        yield c
    assert all(p.poll() is not None for p in c.procs) or not c.procs


def transcribe(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hearthvox", "transcribe", *args, "--no-progress"],
        capture_output=True,
        text=True,
        timeout=400,
        env={**os.environ, **(env or {})},
    )


def files_of(out: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in out.rglob("*")
        if p.is_file() and not p.name.startswith(".") and p.name != MANIFEST
    }


def manifest_lines(out: Path) -> set[str]:
    return set((out / MANIFEST).read_text().splitlines())


def test_ray_outputs_equal_the_local_runs_byte_for_byte_and_a_rerun_does_nothing(
    cluster: LocalCluster, mixed_corpus: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    folder, refs = mixed_corpus
    inputs = tmp_path / "in"
    inputs.symlink_to(folder)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "broken.ogg").write_bytes(b"OggS" + bytes(range(256)) * 8)
    common = [str(inputs), str(tmp_path / "bad"), "--format", "json,txt,srt,vtt"]
    common += ["--threads", "1", "--jobs", "1", "--retries", "1", "--json"]
    local = transcribe(*common, "--out-dir", str(tmp_path / "local"), env=EPOCH)
    ray = transcribe(
        *common, "--out-dir", str(tmp_path / "ray"), "--ray", cluster.address, env=EPOCH
    )
    assert local.returncode == ray.returncode == 4, ray.stderr  # the broken file
    assert "broken.ogg" in ray.stderr and "cannot decode" in ray.stderr

    ours, theirs = files_of(tmp_path / "ray"), files_of(tmp_path / "local")
    assert len(ours) == 4 * len(refs) and sorted(ours) == sorted(theirs)
    assert [name for name in ours if ours[name] != theirs[name]] == []
    assert manifest_lines(tmp_path / "ray") == manifest_lines(tmp_path / "local")
    record = json.loads(ours["spk1_snt1.json"])
    assert record["variant"]["threads"] == 1 and "small dog" in record["text"]

    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "ray").rglob("*.json")}
    again = transcribe(*common, "--out-dir", str(tmp_path / "ray"), "--ray", cluster.address)
    rows = [json.loads(line) for line in again.stdout.splitlines()]
    assert Counter(r["status"] for r in rows) == {"skipped": len(refs), "failed": 1}
    assert "earlier run" in again.stderr  # the broken file is not tried again
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps


def actor_processes(cluster: LocalCluster) -> list[psutil.Process]:
    found = []
    for pid in cluster.node_pids():
        for child in psutil.Process(pid).children(recursive=True):
            try:
                if "_Actor" in " ".join(child.cmdline()):
                    found.append(child)
            except psutil.NoSuchProcess:
                continue
    return found


def test_sigkill_of_an_actor_mid_run_loses_nothing_and_records_nothing_twice(
    cluster: LocalCluster,
    corpus_dir: Path,
    corpus_rows: list[dict[str, str]],
    tmp_path: Path,
) -> None:
    folder, out = tmp_path / "in", tmp_path / "out"
    n = many_inputs(corpus_dir, corpus_rows, folder)
    args = [str(folder), "--out-dir", str(out), "--batch-size", "2", "--json", "--no-progress"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "hearthvox", "transcribe", *args, "--ray", cluster.address],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    killed = None
    try:
        deadline = time.monotonic() + 300
        while len(done_lines(out)) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # polling the manifest the driver writes
        busy = [p for p in actor_processes(cluster) if ".group" in " ".join(p.cmdline())]
        assert proc.poll() is None and busy, "no actor caught in the middle of a group"
        killed = busy[0]
        killed.send_signal(signal.SIGKILL)
        finished_before = len(done_lines(out))
    finally:
        stdout, stderr = proc.communicate(timeout=400)
    assert proc.returncode == 0, stderr
    assert finished_before < n
    assert not killed.is_running()
    rows = [json.loads(line) for line in stdout.splitlines()]
    assert Counter(r["path"] for r in rows).most_common(1)[0][1] == 1  # nothing twice
    assert len(rows) == n and {r["status"] for r in rows} == {"done"}
    manifest = done_lines(out)
    assert len(manifest) == n and len({r["key"] for r in manifest}) == n
    for row in manifest:
        for name in row["outputs"]:  # type: ignore[union-attr]
            assert (out / str(name)).stat().st_size > 0
    assert [p.name for p in out.iterdir() if ".hvtmp-" in p.name] == []


def test_a_worker_that_cannot_read_an_input_refuses_the_run(
    cluster: LocalCluster, corpus_dir: Path, tmp_path: Path
) -> None:
    # /proc/self/fd/N is this driver's open file; a worker process has no such file
    fd = os.open(corpus_dir / "spk1_snt1.wav", os.O_RDONLY)
    out = tmp_path / "out"
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "hearthvox", "transcribe", f"/proc/self/fd/{fd}"]
            + ["--out-dir", str(out), "--ray", cluster.address, "--no-progress"],
            capture_output=True,
            text=True,
            timeout=300,
            pass_fds=(fd,),
        )
    finally:
        os.close(fd)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1, proc.stderr
    # Ray names a node by the machine's address, even when started on 127.0.0.1
    assert re.fullmatch(
        r"hearthvox: error: Ray worker \S+ refused the run: "
        rf"cannot read the input /proc/self/fd/{fd}",
        lines[-1],
    ), lines
    assert [p.name for p in out.iterdir()] == [MANIFEST] or not any(out.glob("*.json"))
