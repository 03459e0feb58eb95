"""Hostile bundles, exports and state files: each is refused with one line and exit status 5,
nothing is written outside the store, and memory stays bounded by the caps, not the input."""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from hearthvox.bundles.install import install_bundle
from hearthvox.bundles.lock import Artifact
from hearthvox.bundles.manifest import Manifest, Stage, StageArtifact
from hearthvox.bundles.store import Store
from hearthvox.errors import ModelError
from tests.bundles.helpers import (
    Publisher,
    Zeros,
    export_members,
    make_tar,
    mark_passed,
    tiny_manifest,
    tree_hash,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def seeded(store: Store, publisher: Publisher, files_dir: Path, trusting_config: Path) -> Store:
    """A store whose stable channel runs a small bundle (so the CLI builds no default one)."""
    m = tiny_manifest(files_dir, "home", 1, "stable")
    install_bundle(store, publisher.sign(m), None, "stable", publisher.policy(), activate=True)
    mark_passed(store, "stable")
    return store


_MEASURE = (
    "import resource, subprocess, sys; "
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode; "
    "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)"
)


def _cli(*args: str) -> tuple[int, str, int]:
    """Run ``hearthvox models ARGS``: (exit status, stderr, peak RSS in MiB).

    A small Python in between starts the CLI, so the peak is the CLI's own and not
    the pages of this (large) test process that a forked child counts before exec."""
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, sys.executable, "-m", "hearthvox", "models", *args],
        capture_output=True, text=True, cwd=REPO, env=os.environ.copy(), timeout=300,
    )  # fmt: skip
    code, rss = (int(x) for x in proc.stdout.split())
    return code, proc.stderr, rss


def _one_line_refusal(code: int, err: str, fragment: str) -> str:
    lines = err.strip().splitlines()
    assert code == 5, err
    assert len(lines) == 1 and lines[0].startswith("hearthvox: error: "), err
    assert fragment in lines[0], err
    return lines[0]


def _with_artifact(m: Manifest, stage: str, index: int, **changes: object) -> Manifest:
    entries = list(m.stages[stage].artifacts)
    entry = entries[index]
    entries[index] = StageArtifact(entry.role, dataclasses.replace(entry.artifact, **changes))  # type: ignore[arg-type]  # Artifact fields
    stages = {**m.stages, stage: Stage(tuple(entries), m.stages[stage].settings)}
    return dataclasses.replace(m, stages=stages)


@pytest.mark.parametrize("bad_id", ["../../../outside", "/tmp/hv-outside", "vad/../../x"])
def test_an_artifact_id_that_leaves_the_store_is_refused(
    seeded: Store, publisher: Publisher, files_dir: Path, tmp_path: Path, bad_id: str
) -> None:
    m = tiny_manifest(files_dir, "home", 2, "stable")
    bad = _with_artifact(m, "vad", 0, id=bad_id)
    tar = make_tar(tmp_path / "bad.tar", export_members(files_dir, m, publisher.sign(bad)))
    before = tree_hash(seeded.root)
    outside = {p.name for p in seeded.root.parent.iterdir()}
    code, err, _ = _cli("import", str(tar))
    _one_line_refusal(code, err, "is not a relative path")
    assert tree_hash(seeded.root) == before
    assert {p.name for p in seeded.root.parent.iterdir()} == outside
    assert not Path("/tmp/hv-outside").exists()


def test_verify_reports_a_bundle_whose_links_leave_the_store(
    seeded: Store, publisher: Publisher, files_dir: Path
) -> None:
    """A bundle installed by an older hearthvox (before ids were confined)."""
    m = tiny_manifest(files_dir, "home", 2, "stable")
    install_bundle(seeded, publisher.sign(m), None, "stable", publisher.policy())
    installed = next(i for i in seeded.installed() if i.manifest.ref == "home@2")
    link = seeded.bundle_files(installed.sha256) / "vad/test/vad.onnx"
    link.unlink()
    link.symlink_to("/etc/hostname")
    code = subprocess.run(
        [sys.executable, "-m", "hearthvox", "models", "verify"],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip
    assert code.returncode == 5, code.stdout + code.stderr
    assert "vad.onnx does not link to its object" in code.stdout


def test_two_artifacts_whose_links_collide(
    seeded: Store, publisher: Publisher, files_dir: Path, tmp_path: Path
) -> None:
    m = tiny_manifest(files_dir, "home", 2, "stable")
    tts = m.stages["tts"].artifacts[0].artifact
    vad = m.stages["vad"].artifacts[0].artifact
    # the voice's files under vad/test/...: the link path of vad's vad.onnx, twice
    files = (dataclasses.replace(tts.files[0], name="test/vad.onnx"), tts.files[1])
    bad = _with_artifact(m, "tts", 0, id="vad", files=files)
    assert f"{vad.id}/{vad.files[0].name}" == "vad/test/vad.onnx"
    tar = make_tar(tmp_path / "bad.tar", export_members(files_dir, m, publisher.sign(bad)))
    code, err, _ = _cli("import", str(tar))
    _one_line_refusal(code, err, "two artifacts put a file at 'vad/test/vad.onnx'")


def _export(publisher: Publisher, files_dir: Path) -> list[tuple[str, bytes]]:
    """The members of a valid export of a new bundle, home@2."""
    m = tiny_manifest(files_dir, "home", 2, "stable")
    return export_members(files_dir, m, publisher.sign(m))


def test_a_truncated_tarball(
    seeded: Store, publisher: Publisher, files_dir: Path, tmp_path: Path
) -> None:
    whole = make_tar(tmp_path / "whole.tar", _export(publisher, files_dir))
    cut = tmp_path / "cut.tar"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    before = tree_hash(seeded.root)
    code, err, _ = _cli("import", str(cut))
    _one_line_refusal(code, err, "is truncated or damaged")
    assert tree_hash(seeded.root) == before


def test_a_duplicate_tar_member(
    seeded: Store, publisher: Publisher, files_dir: Path, tmp_path: Path
) -> None:
    members = _export(publisher, files_dir)
    tar = make_tar(tmp_path / "dup.tar", [*members, members[1]])
    code, err, _ = _cli("import", str(tar))
    _one_line_refusal(code, err, "twice: refused")


def test_a_tar_member_of_a_type_other_than_a_file(
    seeded: Store, publisher: Publisher, files_dir: Path, tmp_path: Path
) -> None:
    members = _export(publisher, files_dir)
    path = make_tar(tmp_path / "link.tar", members[:-1])
    with tarfile.open(path, "a") as tar:
        info = tarfile.TarInfo(members[-1][0])
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/shadow"
        tar.addfile(info)
    code, err, _ = _cli("import", str(path))
    _one_line_refusal(code, err, "is not a regular file")


def test_a_gzip_bomb_as_the_first_member_is_not_read(seeded: Store, tmp_path: Path) -> None:
    """A 200 MB manifest.json of zeros (a few hundred KB compressed)."""
    path = tmp_path / "bomb.tar.gz"
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        info = tarfile.TarInfo("manifest.json")
        info.size = 200 << 20
        tar.addfile(info, Zeros(info.size))
    assert path.stat().st_size < 1 << 20
    code, err, rss = _cli("import", str(path))
    _one_line_refusal(code, err, "more than 1048576: refused")
    assert rss < 300, f"peak RSS {rss} MiB"


def test_a_huge_pax_header_is_not_read(seeded: Store, tmp_path: Path) -> None:
    """A pax header that declares 64 MiB (all zeros, so a small gzip) before the manifest."""
    raw = io.BytesIO()
    header = tarfile.TarInfo("././@PaxHeader")
    header.type = tarfile.XHDTYPE
    header.size = 64 << 20
    raw.write(header.tobuf(tarfile.USTAR_FORMAT))
    path = tmp_path / "pax.tar.gz"
    with gzip.open(path, "wb", compresslevel=1) as fh:
        fh.write(raw.getvalue())
        for _ in range(64):
            fh.write(bytes(1 << 20))
        fh.write(bytes(1024))
    code, err, rss = _cli("import", str(path))
    _one_line_refusal(code, err, "truncated or damaged")
    assert rss < 300, f"peak RSS {rss} MiB"


def test_a_directory_whose_manifest_is_a_link_to_dev_zero(seeded: Store, tmp_path: Path) -> None:
    export = tmp_path / "export"
    (export / "objects").mkdir(parents=True)
    (export / "manifest.json").symlink_to("/dev/zero")
    code, err, rss = _cli("install", str(export))
    _one_line_refusal(code, err, "is a symbolic link, not a file: refused")
    assert rss < 300


def test_a_directory_holding_a_fifo_as_manifest(seeded: Store, tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    os.mkfifo(export / "manifest.json")
    code, err, _ = _cli("install", str(export))
    _one_line_refusal(code, err, "is not a regular file: refused")


@pytest.mark.parametrize(
    "content",
    [b"[1, 2]", b'"stable"', b"{", b'{"channel": "stable", "stack": {}}', b"[" * 100000],
)
def test_a_malformed_channel_file(seeded: Store, content: bytes) -> None:
    (seeded.channels / "beta.json").write_bytes(content)
    code, err, _ = _cli("status", "--channel", "beta")
    _one_line_refusal(code, err, "is damaged")


def test_a_channel_file_with_a_hostile_manifest_name(seeded: Store) -> None:
    path = seeded.channels / "stable.json"
    state = json.loads(path.read_bytes())
    state["stack"][-1]["manifest"] = "../../../../etc"
    path.write_text(json.dumps(state))
    code, err, _ = _cli("status", "--channel", "stable")
    _one_line_refusal(code, err, "is not a sha256")


def test_a_damaged_verified_json_only_means_hashing_again(seeded: Store) -> None:
    (seeded.root / "verified.json").write_text('[["x"]]')
    assert seeded.stamps() == {}
    (seeded.root / "verified.json").write_text('{"a": [1, 2], "b": "c"}')
    assert seeded.stamps() == {}


def test_the_store_and_the_key_are_private(seeded: Store) -> None:
    from hearthvox.bundles.signing import load_or_create_local_key

    key = load_or_create_local_key(seeded.keys)
    assert key.path.stat().st_mode & 0o777 == 0o600
    assert seeded.keys.stat().st_mode & 0o777 == 0o700
    for d in (seeded.root, seeded.objects, seeded.bundles, seeded.channels, seeded.tmp):
        assert d.stat().st_mode & 0o077 == 0, d


def test_a_manifest_name_outside_the_rules_is_refused_in_process(
    store: Store, publisher: Publisher, files_dir: Path
) -> None:
    m = tiny_manifest(files_dir, "home", 1, "stable")
    for name in ("../x.onnx", ".hidden", "a//b", "a/" * 5 + "b", "x" * 200):
        bad = _with_artifact(m, "vad", 0, files=(dataclasses.replace(_vad(m).files[0], name=name),))
        with pytest.raises(ModelError, match="relative"):
            install_bundle(store, publisher.sign(bad), None, "stable", publisher.policy())


def _vad(m: Manifest) -> Artifact:
    return m.stages["vad"].artifacts[0].artifact


def test_verify_reports_an_installed_manifest_whose_ids_leave_the_store(
    seeded: Store, publisher: Publisher, files_dir: Path
) -> None:
    """What an older hearthvox installed from a manifest with a ``../`` id."""
    from hearthvox.bundles.store import manifest_sha

    m = tiny_manifest(files_dir, "home", 2, "stable")
    data = publisher.sign(_with_artifact(m, "vad", 0, id="../../../../outside"))
    (seeded.bundles / manifest_sha(data)).mkdir()
    (seeded.bundles / manifest_sha(data) / "manifest.json").write_bytes(data)
    proc = subprocess.run(
        [sys.executable, "-m", "hearthvox", "models", "verify"],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip
    assert proc.returncode == 5, proc.stdout + proc.stderr
    assert f"bundle {manifest_sha(data)}: refused:" in proc.stdout
    assert "is not a relative path" in proc.stdout


def test_an_older_signed_index_replayed_is_refused(
    seeded: Store, publisher: Publisher, files_dir: Path, tmp_path: Path
) -> None:
    from tests.bundles.helpers import publish
    from tests.bundles.http_index import serve

    site = tmp_path / "site"
    index = publish(site, files_dir, publisher, tiny_manifest(files_dir, "small", 1, "beta"))
    old = index.read_bytes()  # version 1
    publish(site, files_dir, publisher, tiny_manifest(files_dir, "small", 2, "beta"))
    with serve(site) as server:
        url = server.url + "index.json"
        code, err, _ = _cli("install", url, "--channel", "beta")
        assert code == 0, err
        index.write_bytes(old)  # still validly signed, not expired
        code, err, _ = _cli("install", url, "--channel", "beta", "--version", "1")
    _one_line_refusal(code, err, "has version 1, older than version 2 seen before: refused")


@pytest.mark.parametrize("where", ["objects", "manifest"])
def test_an_index_naming_urls_outside_its_folder_is_refused(
    publisher: Publisher, where: str
) -> None:
    from hearthvox.bundles.index import parse_index
    from hearthvox.bundles.manifest import now_utc
    from hearthvox.bundles.signing import envelope_bytes, sign

    entry = {"bundle": "s", "version": 1, "manifest": "b/s.json", "sha256": "a" * 64, "size": 1}
    doc = {
        "type": "index", "schema_version": 1, "version": 1, "expires": "2099-01-01T00:00:00Z",
        "objects": "objects/", "channels": {"beta": [entry]},
    }  # fmt: skip
    if where == "objects":
        doc["objects"] = "http://elsewhere.example/objects/"
    else:
        entry["manifest"] = "../../etc/passwd"
    data = envelope_bytes(sign(doc, publisher.key))
    with pytest.raises(ModelError, match="is not under http://127.0.0.1:9/idx/: refused"):
        parse_index(data, "http://127.0.0.1:9/idx/index.json", publisher.trusted, now_utc())
