"""Property-based fuzzing of what a bundle install reads from outside: signed manifests,
bundle indexes, export tarballs and the store's channel files.

Every input either installs or is refused with a ModelError (exit status 5, one line),
and the Python memory an example allocates stays under a cap (tracemalloc's peak),
whatever sizes the input declares. The examples that once failed are kept as
``@example`` regression cases. Each fuzzer runs a bounded number of examples.
"""

from __future__ import annotations

import copy
import io
import json
import os
import tarfile
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hearthvox.bundles.index import parse_index
from hearthvox.bundles.install import install_bundle
from hearthvox.bundles.manifest import now_utc
from hearthvox.bundles.signing import envelope_bytes, sign
from hearthvox.bundles.sources import TarSource
from hearthvox.bundles.store import Store
from hearthvox.errors import ModelError
from tests.bundles.helpers import Publisher, Zeros, export_members, make_tar, tiny_manifest

MEMORY_CAP = 48 << 20  # bytes an example may allocate (the caps allow ~10 MiB)
FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=40)
    | st.sampled_from(["../../etc", "/abs", "a/../b", "objects/", "x" * 300, "stable"]),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def _bounded(action: Callable[[], object]) -> None:
    """Run *action*: it may succeed or raise ModelError, within the memory cap."""
    tracemalloc.start()
    try:
        action()
    except ModelError as exc:
        assert "\n" not in str(exc), str(exc)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < MEMORY_CAP, f"an example allocated {peak >> 20} MiB"


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key path in a JSON document."""
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, (*prefix, i))


def _replace(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    out = copy.deepcopy(doc)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


@pytest.fixture
def world(tmp_path: Path) -> tuple[Store, Publisher, Path, dict[str, Any]]:
    files = tmp_path / "files"
    files.mkdir()
    m = tiny_manifest(files, "fuzz", 1, "stable", size=512)
    return Store.open(tmp_path / "store"), Publisher(), files, m.to_dict()


@FUZZ
@given(data=st.data(), value=json_values)
def test_a_mutated_signed_manifest(world: Any, data: st.DataObject, value: Any) -> None:
    store, publisher, _, doc = world
    path = data.draw(st.sampled_from(list(_paths(doc))), label="path")
    mutated = _replace(doc, path, value)
    signed = envelope_bytes(sign(mutated, publisher.key)) if isinstance(mutated, dict) else b"[]"
    _bounded(lambda: install_bundle(store, signed, None, "stable", publisher.policy()))
    _nothing_outside(store)


def _nothing_outside(store: Store) -> None:
    """Nothing was written next to the store, and every link in it leads to one of its objects."""
    assert sorted(p.name for p in store.root.parent.iterdir()) == ["files", "store"]
    objects = store.objects.resolve()
    for dirpath, dirnames, filenames in os.walk(store.root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            if path.is_symlink():
                assert Path(os.path.realpath(path)).parent == objects, path


@FUZZ
@given(raw=st.binary(max_size=2000))
@example(raw=b'{"signed": ' * 20000)
@example(raw=b"[" * 200000)
def test_arbitrary_manifest_bytes(world: Any, raw: bytes) -> None:
    store, publisher, _, _ = world
    _bounded(lambda: install_bundle(store, raw, None, "stable", publisher.policy()))


def _index_doc() -> dict[str, Any]:
    return {
        "type": "index", "schema_version": 1, "version": 3,
        "expires": "2099-01-01T00:00:00Z", "objects": "objects/",
        "channels": {"beta": [{"bundle": "small", "version": 2, "manifest": "bundles/s.json",
                               "sha256": "a" * 64, "size": 10}]},
    }  # fmt: skip


@FUZZ
@given(data=st.data(), value=json_values)
def test_a_mutated_signed_index(data: st.DataObject, value: Any) -> None:
    publisher = Publisher()
    doc = _index_doc()
    path = data.draw(st.sampled_from(list(_paths(doc))), label="path")
    mutated = _replace(doc, path, value)
    signed = envelope_bytes(sign(mutated, publisher.key)) if isinstance(mutated, dict) else b"{}"
    url = "http://127.0.0.1:1/index.json"
    _bounded(lambda: parse_index(signed, url, publisher.trusted, now_utc()))


@pytest.fixture
def export(world: Any, tmp_path: Path) -> tuple[Store, Publisher, bytes, list[tuple[str, bytes]]]:
    """A valid export tarball of a fresh bundle (version 2), as bytes, and its members."""
    store, publisher, files, _ = world
    m = tiny_manifest(files, "fuzz", 2, "stable", size=512)
    members = export_members(files, m, publisher.sign(m))
    tar = make_tar(tmp_path / "ok.tar", members)
    return store, publisher, tar.read_bytes(), members


def _import(store: Store, publisher: Publisher, path: Path) -> None:
    source = TarSource(path)
    data = source.manifest_bytes()
    install_bundle(store, data, source, "stable", publisher.policy(tries=1, now=now_utc()))


@FUZZ
@given(
    cut=st.none() | st.integers(0, 8000),
    flips=st.lists(st.tuples(st.integers(0, 8000), st.integers(1, 255)), max_size=6),
    compress=st.booleans(),
)
@example(cut=5000, flips=[], compress=False)  # a truncated tarball
@example(cut=700, flips=[], compress=True)
@example(cut=None, flips=[(124, 55)], compress=False)  # the manifest's size field
def test_a_damaged_export_tarball(
    export: Any, tmp_path: Path, cut: int | None, flips: list[tuple[int, int]], compress: bool
) -> None:
    store, publisher, raw, _ = export
    data = bytearray(raw)
    for pos, xor in flips:
        if pos < len(data):
            data[pos] ^= xor
    if cut is not None:
        data = data[:cut]
    path = tmp_path / "fuzzed.tar"
    path.write_bytes(_gzip(bytes(data)) if compress else bytes(data))
    _bounded(lambda: _import(store, publisher, path))


def _gzip(data: bytes) -> bytes:
    import gzip

    return gzip.compress(data, compresslevel=1)


@FUZZ
@given(
    order=st.permutations(range(9)),
    extra=st.lists(
        st.tuples(
            st.sampled_from(["manifest.json", "objects/", "../x", "/etc/x", "manifest-2.json"])
            | st.text(max_size=30),
            st.sampled_from([tarfile.REGTYPE, tarfile.SYMTYPE, tarfile.DIRTYPE, tarfile.CHRTYPE]),
            st.integers(0, 64 << 20),
        ),
        max_size=3,
    ),
)
@example(order=list(range(9)), extra=[("manifest.json", tarfile.REGTYPE, 10)])  # duplicate
@example(order=list(range(9)), extra=[("objects/", tarfile.REGTYPE, 64 << 20)])  # huge member
def test_an_export_with_hostile_members(
    export: Any, tmp_path: Path, order: list[int], extra: list[tuple[str, bytes, int]]
) -> None:
    store, publisher, _, members = export
    path = tmp_path / "hostile.tar.gz"
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        for i in order:
            if i < len(members):
                name, content = members[i]
                info = tarfile.TarInfo(name)
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
        for name, kind, size in extra:
            info = tarfile.TarInfo(name or "x")
            info.type = kind
            info.size = size if kind == tarfile.REGTYPE else 0
            info.linkname = "/etc/passwd" if kind == tarfile.SYMTYPE else ""
            tar.addfile(info, Zeros(info.size) if info.size else None)
    _bounded(lambda: _import(store, publisher, path))


@FUZZ
@given(value=json_values)
@example(value=[1, 2])  # a channel file holding a JSON list
@example(value={"channel": "stable", "stack": [{"bundle": "a", "version": 1, "manifest": "../x"}],
                "highest_version": 1})  # fmt: skip
def test_a_channel_file(world: Any, value: Any) -> None:
    store, _, _, _ = world
    (store.channels / "stable.json").write_text(json.dumps(value))
    _bounded(lambda: store.read_channel("stable"))


def test_the_fuzzers_reach_a_successful_install(export: Any, tmp_path: Path) -> None:
    """The unmodified export installs (so the fuzzers start from inputs that work)."""
    store, publisher, raw, _ = export
    path = tmp_path / "ok.tar"
    path.write_bytes(raw)
    _import(store, publisher, path)
    assert [i.manifest.ref for i in store.installed()] == ["fuzz@2"]
