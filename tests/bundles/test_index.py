"""Installing from a signed HTTP bundle index on 127.0.0.1: resumable downloads, expiry,
and the whole user flow with the real command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from hearthvox.bundles.active import open_store
from hearthvox.bundles.index import fetch_index
from hearthvox.bundles.install import install_bundle
from hearthvox.bundles.manifest import Manifest, format_time, now_utc
from hearthvox.bundles.publish import write_index
from hearthvox.bundles.sources import IndexObjects
from hearthvox.bundles.store import Store
from hearthvox.errors import ModelError
from tests.bundles.helpers import Publisher, mark_passed, publish, tiny_manifest, tree_hash
from tests.bundles.http_index import serve

REPO = Path(__file__).resolve().parents[2]


def _install_from(url: str, store: Store, publisher: Publisher, channel: str) -> int:
    """Install the newest bundle *url* lists for *channel*; the bytes the progress saw."""
    pol = publisher.policy()
    index = fetch_index(url, pol.trusted, pol.now)
    entry = index.pick(channel, None, None)
    seen: list[int] = []

    def progress(total: int) -> object:
        return seen.append

    install_bundle(
        store,
        index.manifest_bytes(entry),
        IndexObjects(index.objects_url),
        channel,
        pol,
        activate=True,
        progress=progress,  # type: ignore[arg-type]  # a list's append is a Progress
    )
    return sum(seen)


def _site(
    tmp_path: Path, files_dir: Path, publisher: Publisher, artifact: str, name: str
) -> tuple[Manifest, str, str]:
    """An index of one 1.8 MB bundle; the URL path of one of its files, and that sha256."""
    m = tiny_manifest(files_dir, "small", 2, "beta", size=200_000)
    publish(tmp_path / "site", files_dir, publisher, m)
    sha = m.artifact(artifact).file(name).sha256
    return m, f"/objects/{sha}", sha


def test_an_interrupted_download_resumes_where_it_stopped(
    tmp_path: Path, store: Store, publisher: Publisher, files_dir: Path
) -> None:
    m, path, sha = _site(tmp_path, files_dir, publisher, "asr/test", "model.bin")
    with serve(tmp_path / "site") as server:
        server.cuts[path] = [80_000]  # the first answer stops after 80 kB
        received = _install_from(server.url + "index.json", store, publisher, "beta")
    first, second = server.requests(path)
    assert (first.range, first.status, first.sent) == (None, 200, 80_000)
    assert (second.range, second.status, second.sent) == ("bytes=80000-", 206, 120_000)
    assert received == m.total_size  # no byte fetched twice
    assert (
        store.object_path(sha).read_bytes()
        == (files_dir / "small-2" / "asr/test/model.bin").read_bytes()
    )
    assert str(store.read_channel("beta").current) == "small@2"
    assert not any(store.downloads.iterdir())


def test_a_download_cut_every_time_resumes_at_the_next_run(
    tmp_path: Path, store: Store, publisher: Publisher, files_dir: Path
) -> None:
    _, path, sha = _site(tmp_path, files_dir, publisher, "tts/test", "voice.onnx")
    with serve(tmp_path / "site") as server:
        server.cuts[path] = [50_000, 10_000, 10_000]  # every try of the first run breaks
        with pytest.raises(ModelError, match="interrupted at 70000 of 200000 bytes") as info:
            _install_from(server.url + "index.json", store, publisher, "beta")
        assert "run the same command again to resume" in str(info.value)
        assert store.read_channel("beta").current is None
        assert (store.downloads / f"{sha}.part").stat().st_size == 70_000
        _install_from(server.url + "index.json", store, publisher, "beta")
    assert [s.range for s in server.requests(path)] == [
        None, "bytes=50000-", "bytes=60000-", "bytes=70000-",
    ]  # fmt: skip
    assert str(store.read_channel("beta").current) == "small@2"


def test_an_expired_index_is_refused(
    tmp_path: Path, store: Store, publisher: Publisher, files_dir: Path
) -> None:
    site = tmp_path / "site"
    index = publish(site, files_dir, publisher, tiny_manifest(files_dir, "small", 2, "beta"))
    doc = json.loads(index.read_bytes())["signed"]
    doc["expires"] = format_time(now_utc() - timedelta(seconds=1))
    write_index(index, doc, publisher.key)  # properly signed, but stale
    before = tree_hash(store.root)
    with serve(site) as server:
        with pytest.raises(ModelError, match="expired") as info:
            _install_from(server.url + "index.json", store, publisher, "beta")
        assert "refused" in str(info.value)
        assert not [s for s in server.log if s.path.startswith("/objects/")]
    assert tree_hash(store.root) == before


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hearthvox", "models", *args],
        capture_output=True, text=True, timeout=300, env=os.environ.copy(), cwd=REPO,
    )  # fmt: skip


def _status(channel: str) -> dict[str, object]:
    proc = _cli("status", "--json")
    assert proc.returncode == 0, proc.stderr
    rows: dict[str, dict[str, object]] = {
        r["channel"]: r for r in map(json.loads, proc.stdout.splitlines())
    }
    assert set(rows) == {"stable", "beta", "canary"}
    return rows[channel]


def test_a_user_installs_switches_and_rolls_back_beta_from_a_local_index(
    tmp_path: Path, publisher: Publisher, files_dir: Path, trusting_config: Path
) -> None:
    stable = _status("stable")  # a fresh install: the default bundle, built from the packages
    assert stable["current"] == "default-0.1.0@1" and stable["previous"] is None
    assert stable["trial"] == "pending" and stable["configured"] is True
    site = tmp_path / "site"
    publish(
        site, files_dir, publisher, *(tiny_manifest(files_dir, "small", v, "beta") for v in (1, 2))
    )
    with serve(site) as server:
        url = server.url + "index.json"
        proc = _cli("install", url, "--channel", "beta", "--version", "1", "--activate")
        assert proc.returncode == 0, proc.stderr
        proc = _cli("install", url, "--channel", "beta")  # the newest: small@2
        assert proc.returncode == 0, proc.stderr
        assert "hearthvox models activate small@2 --channel beta" in proc.stderr
    assert _status("beta")["current"] == "small@1"
    mark_passed(open_store(), "beta")  # as if a start on beta had passed its health check
    proc = _cli("activate", "small@2", "--channel", "beta")
    assert proc.returncode == 0 and "small@1 -> small@2" in proc.stderr, proc.stderr
    beta = _status("beta")
    assert (beta["current"], beta["previous"], beta["trial"]) == ("small@2", "small@1", "pending")
    proc = _cli("rollback", "--channel", "beta")
    assert proc.returncode == 0 and "small@2 -> small@1" in proc.stderr, proc.stderr
    assert _status("beta")["current"] == "small@1"
    assert _status("stable") == stable  # the other channel never moved
    listed = [json.loads(line) for line in _cli("list", "--json").stdout.splitlines()]
    assert {(r["bundle"], r["channel"], r["role"]) for r in listed} == {
        ("default-0.1.0@1", "stable", "current"),
        ("small@1", "beta", "current"),
        ("small@2", "beta", ""),
    }
