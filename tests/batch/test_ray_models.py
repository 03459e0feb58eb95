"""How a Ray worker gets the bundle's model files: its own copy when the sha256 matches,
else the bytes sent with the run, hashed before use; names that leave the folder refused."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from hearthvox.batch.clusterwork import ShippedFile, place
from hearthvox.errors import ModelError


def shipped(folder: Path, files: dict[str, bytes]) -> tuple[ShippedFile, ...]:
    return tuple(
        ShippedFile(name, hashlib.sha256(data).hexdigest(), str(folder / name), data)
        for name, data in files.items()
    )


def identity(data: bytes) -> bytes:  # the role of ray.get: here the bytes travel inline
    return data


def test_own_copy_is_used_when_every_hash_matches(tmp_path: Path) -> None:
    origin = tmp_path / "model"
    origin.mkdir()
    files = {"model.bin": b"weights", "config.json": b"{}"}
    for name, data in files.items():
        (origin / name).write_bytes(data)
    assert place(shipped(origin, files), tmp_path / "cache", identity) == origin
    assert not (tmp_path / "cache").exists()


def test_changed_or_missing_files_are_fetched_into_the_cache_and_checked(tmp_path: Path) -> None:
    origin = tmp_path / "model"
    origin.mkdir()
    files = {"model.bin": b"weights", "config.json": b"{}"}
    (origin / "model.bin").write_bytes(b"weights, but changed")
    where = place(shipped(origin, files), tmp_path / "cache", identity)
    assert where.parent == tmp_path / "cache"
    assert {p.name: p.read_bytes() for p in where.iterdir()} == files
    assert (origin / "model.bin").read_bytes() == b"weights, but changed"  # left alone

    damaged = tuple(
        ShippedFile(f.name, f.sha256, str(tmp_path / "elsewhere" / f.name), b"bad bytes")
        for f in shipped(origin, {"vocabulary.txt": b"words"})
    )
    with pytest.raises(ModelError, match="arrived damaged"):
        place(damaged, tmp_path / "cache", identity)
    assert not list((tmp_path / "cache").rglob("vocabulary.txt"))  # not kept


def test_a_name_that_leaves_its_folder_is_refused(tmp_path: Path) -> None:
    bad = shipped(tmp_path / "model", {"../../etc/cron.d/x": b"* * * * * root true"})
    with pytest.raises(ModelError, match="leaves its folder"):
        place(bad, tmp_path / "cache", identity)
    assert not (tmp_path / "etc").exists()
