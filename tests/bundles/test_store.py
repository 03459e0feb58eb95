"""The store: tampering caught before a model is used, repair, export/import, the writer
lock, leftovers of a crash cleaned, and ``models lock``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hearthvox.bundles.active import active_model_paths, ensure_initialised, open_store
from hearthvox.bundles.install import install_bundle
from hearthvox.bundles.lock import load_lock, parse_lock
from hearthvox.bundles.manifest import manifest_from_lock
from hearthvox.bundles.store import Store
from hearthvox.config import Config
from hearthvox.errors import ModelError
from tests.bundles.helpers import Publisher, tiny_manifest

REPO = Path(__file__).resolve().parents[2]


def _cli(*args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = os.environ.copy()
    if home is not None:
        env["HEARTHVOX_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "hearthvox", "models", *args],
        capture_output=True, text=True, timeout=300, env=env, cwd=REPO,
    )  # fmt: skip


def _flip(path: Path, offset: int) -> None:
    os.chmod(path, 0o644)
    with path.open("r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([byte[0] ^ 0x01]))
    os.chmod(path, 0o444)


def test_a_changed_byte_in_any_model_file_is_caught_before_use() -> None:
    cfg = Config()
    paths = active_model_paths(cfg)  # first run: the default bundle goes into the store
    store = open_store()
    objects = sorted(store.objects.iterdir())
    assert len(objects) == 13
    for obj in objects:
        offset = obj.stat().st_size // 2
        _flip(obj, offset)
        with pytest.raises(ModelError, match="altered or is corrupt") as info:
            active_model_paths(cfg)
        assert obj.name in str(info.value)
        _flip(obj, offset)  # put it back: accepted again
        assert active_model_paths(cfg) == paths


def test_verify_finds_the_damage_and_repair_fetches_the_file_again() -> None:
    ensure_initialised(open_store(), Config())
    store = open_store()
    lock = load_lock()
    target = store.object_path(lock.artifact("tts/en_US-joe-medium").file("MODEL_CARD").sha256)
    _flip(target, 3)
    proc = _cli("verify")
    assert proc.returncode == 5
    assert target.name in proc.stdout and "FAILED" in proc.stdout
    proc = _cli("verify", "--repair", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    size = manifest_from_lock(lock).total_size
    assert json.loads(proc.stdout) == {
        "ok": True, "bundles": 1, "optional": 0, "objects": 13, "bytes": size, "problems": [],
        "repaired": ["default-0.1.0@1: tts/en_US-joe-medium/MODEL_CARD fetched again"],
    }  # fmt: skip
    active_model_paths(Config())


def test_a_relinked_file_is_caught(store: Store, publisher: Publisher, files_dir: Path) -> None:
    m = tiny_manifest(files_dir, "home", 1, "stable")
    install_bundle(store, publisher.sign(m), None, "stable", publisher.policy(), activate=True)
    installed = store.installed()[0]
    link = store.bundle_files(installed.sha256) / "asr/test/model.bin"
    other = os.readlink(store.bundle_files(installed.sha256) / "asr/test/config.json")
    link.unlink()
    link.symlink_to(other)
    assert store.check_tree(installed) == [f"bundle home@1: {link} does not link to its object"]


def test_export_then_import_on_another_device(
    tmp_path: Path, publisher: Publisher, files_dir: Path, trusting_config: Path
) -> None:
    store = open_store()
    m = tiny_manifest(files_dir, "small", 3, "beta")
    install_bundle(store, publisher.sign(m), None, "beta", publisher.policy(), activate=True)
    tarball = tmp_path / "small-3.tar"
    proc = _cli("export", "--channel", "beta", "-o", str(tarball))
    assert proc.returncode == 0, proc.stderr
    other = tmp_path / "other-device"
    (other / "config").mkdir(parents=True)
    (other / "config" / "config.toml").write_text(trusting_config.read_text())
    proc = _cli("import", str(tarball), "--channel", "beta", "--activate", home=other)
    assert proc.returncode == 0, proc.stderr
    assert "installed small@3 for channel beta" in proc.stderr
    theirs = Store(other / "data")
    assert str(theirs.read_channel("beta").current) == "small@3"
    assert sorted(p.name for p in theirs.objects.iterdir() if p.name in m.objects()) == sorted(
        m.objects()
    )
    assert _cli("verify", home=other).returncode == 0


def test_one_writer_at_a_time(store: Store) -> None:
    other = Store(store.root)
    with store.writer():
        with pytest.raises(ModelError, match="another hearthvox process is changing"):
            with other.writer(wait_s=0.1):
                pass
    with other.writer(wait_s=0.1):
        pass


def test_a_crashed_writers_leftovers_are_cleaned_at_the_next_start(
    store: Store, publisher: Publisher, files_dir: Path
) -> None:
    m = tiny_manifest(files_dir, "home", 1, "stable")
    install_bundle(store, publisher.sign(m), None, "stable", publisher.policy(), activate=True)
    staged = store.tmp / "txn-1-dead"
    staged.mkdir()
    (staged / ("a" * 64)).write_bytes(b"half a fil")
    orphan = store.object_path("b" * 64)  # renamed in, but its bundle never was
    orphan.write_bytes(b"whole")
    kept = set(store.objects.iterdir()) - {orphan}
    with store.writer():
        pass
    assert not any(store.tmp.iterdir())
    assert set(store.objects.iterdir()) == kept


def test_lock_regenerates_from_the_installed_packages(tmp_path: Path) -> None:
    proc = _cli("lock")
    assert proc.returncode == 0, proc.stderr
    regenerated = parse_lock(proc.stdout)
    packaged = load_lock()
    assert regenerated.artifacts == packaged.artifacts
    assert regenerated.bundles == packaged.bundles
    copy = tmp_path / "models.lock"
    copy.write_text(proc.stdout)
    assert _cli("lock", "--lock", str(copy)).returncode == 0
    assert copy.read_text() == proc.stdout


def test_lock_fails_loudly_when_an_installed_file_differs_from_its_pin(tmp_path: Path) -> None:
    lock = load_lock()
    pinned = lock.artifact("vad/silero-v6").files[0].sha256
    text = (REPO / "models.lock").read_text().replace(pinned, "0" * 64)
    copy = tmp_path / "models.lock"
    copy.write_text(text)
    proc = _cli("lock", "--lock", str(copy))
    assert proc.returncode == 5
    assert "vad/silero-v6/silero_vad_v6.onnx: pinned sha256 " + "0" * 64 in proc.stderr
    assert f"has sha256 {pinned}" in proc.stderr and "was not written" in proc.stderr
    assert copy.read_text() == text
