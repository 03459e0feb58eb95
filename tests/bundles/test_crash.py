"""Crash safety: kill -9 a real installing process at 25 random points of install and
activation; each time ``hearthvox models verify`` passes, no partial file is visible, and
every channel is exactly on its old or its new bundle. Then the install runs to the end."""

from __future__ import annotations

import hashlib
import json
import os
import random
import select
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from hearthvox.bundles.install import install_bundle
from hearthvox.bundles.signing import public_text
from hearthvox.bundles.store import Store
from hearthvox.bundles.verify import verify_store
from tests.bundles.crash_helper import run as run_install
from tests.bundles.helpers import Publisher, tiny_manifest

REPO = Path(__file__).resolve().parents[2]
KILLS = 25


def _helper(data: Path, work: Path, stop_at: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.bundles.crash_helper", str(data), str(work), str(stop_at)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _line(proc: subprocess.Popen[str], timeout_s: float = 60.0) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
    if not ready:
        proc.kill()
        raise AssertionError(f"the helper said nothing in {timeout_s} s")
    return proc.stdout.readline().strip()


def _stacks(store: Store, channel: str) -> list[str]:
    return [str(r) for r in store.read_channel(channel).stack]


def _hearthvox_verify(home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HEARTHVOX_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "hearthvox", "models", "verify", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=REPO,
    )


def test_kill_9_during_install_and_activation(tmp_path: Path, publisher: Publisher) -> None:
    files, work, base = tmp_path / "artifacts", tmp_path / "work", tmp_path / "base"
    work.mkdir()
    (work / "key.pub").write_text(public_text(publisher.key.public_key()))
    store = Store.open(base / "data")
    policy = publisher.policy()
    for m in (tiny_manifest(files, "home", 1, "stable"), tiny_manifest(files, "trial", 1, "beta")):
        install_bundle(store, publisher.sign(m), None, m.channel, policy, activate=True)
    size = 100_000  # per file: 9 files per bundle
    for name, m in (
        ("stable.json", tiny_manifest(files, "home", 2, "stable", size=size)),
        ("beta.json", tiny_manifest(files, "trial", 2, "beta", size=size)),
    ):
        (work / name).write_bytes(publisher.sign(m))
    config = base / "config" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'[models]\ntrusted_keys = ["{public_text(publisher.key.public_key())}"]\n')

    # a full run, to count the durable steps
    full = tmp_path / "full"
    shutil.copytree(base, full, symlinks=True)
    proc = _helper(full / "data", work, 0)
    words = _line(proc).split()
    assert proc.wait(timeout=60) == 0 and words[0] == "DONE", words
    steps = int(words[1])
    assert steps > KILLS

    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)  # one random point in each of 25 equal slices of the steps,
    points = [  # so the install and both activations are all hit
        rng.randint(steps * i // KILLS + 1, steps * (i + 1) // KILLS) for i in range(KILLS)
    ]
    outcomes: Counter[str] = Counter()
    labels: Counter[str] = Counter()
    for i, n in enumerate(points):
        home = tmp_path / f"kill-{n}"
        shutil.copytree(base, home, symlinks=True)
        data = home / "data"
        proc = _helper(data, work, n)
        stopped = _line(proc)
        assert stopped.startswith(f"STOP {n} "), (seed, stopped)
        labels[stopped.split()[2]] += 1
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.close()
        proc.stdout.close()

        killed = Store(data)
        for obj in killed.objects.iterdir():  # no partial object is visible
            assert hashlib.sha256(obj.read_bytes()).hexdigest() == obj.name, (seed, n)
        for bundle in killed.bundles.iterdir():  # nor a partial bundle
            manifest = (bundle / "manifest.json").read_bytes()
            assert hashlib.sha256(manifest).hexdigest() == bundle.name, (seed, n)
        stable, beta = _stacks(killed, "stable"), _stacks(killed, "beta")
        assert stable in (["home@1"], ["home@1", "home@2"]), (seed, n, stable)
        assert beta in (["trial@1"], ["trial@1", "trial@2"]), (seed, n, beta)
        outcomes[f"stable={stable[-1]} beta={beta[-1]}"] += 1

        if i % 5 == 0:  # the command itself (a process start costs ~1 s: not every time)
            verified = _hearthvox_verify(home)
            assert verified.returncode == 0, (seed, n, verified.stdout, verified.stderr)
            assert json.loads(verified.stdout)["ok"]
        else:  # what the command runs
            report = verify_store(killed, policy)
            assert report.ok, (seed, n, report.problems)
        assert not any(killed.tmp.iterdir())  # the leftovers were cleaned

        run_install(killed, work, policy)  # the same install, run again, completes
        assert _stacks(killed, "stable") == ["home@1", "home@2"], (seed, n)
        assert _stacks(killed, "beta")[-2:] == ["trial@1", "trial@2"], (seed, n)
        assert verify_store(killed, policy).ok
        shutil.rmtree(home)
    print(
        f"\nkill -9 at {KILLS} of {steps} durable steps (seed {seed}): every channel old or "
        f"new, verify passed each time; outcomes {dict(outcomes)}; steps killed at "
        f"{dict(labels)}"
    )
