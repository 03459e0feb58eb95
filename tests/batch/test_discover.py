"""Finding inputs in files and folders and naming their outputs."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from hearthvox.batch.discover import discover


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_folders_are_searched_recursively_for_audio_only(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    touch(root / "b.mp3")
    touch(root / "a.wav")
    touch(root / "day1" / "talk.FLAC")
    touch(root / "notes.txt")
    touch(root / ".hidden.wav")
    touch(root / ".cache" / "x.wav")
    out = root / "out"
    touch(out / "old.wav")  # inside the output folder: never an input
    inputs, missing = discover([root], out)
    assert missing == []
    assert [i.stem for i in inputs] == [
        PurePosixPath("a"),
        PurePosixPath("b"),
        PurePosixPath("day1/talk"),
    ]


def test_names_that_would_collide_keep_their_extension_or_get_a_number(tmp_path: Path) -> None:
    a_wav = touch(tmp_path / "x" / "a.wav")
    a_mp3 = touch(tmp_path / "x" / "a.mp3")
    other = touch(tmp_path / "y" / "a.wav")
    inputs, _ = discover([tmp_path / "x", other, a_wav])  # a_wav twice: taken once
    assert [(i.path, str(i.stem)) for i in inputs] == [
        (a_mp3, "a.mp3"),
        (a_wav, "a.wav"),
        (other, "a.wav-2"),
    ]


def test_missing_paths_and_empty_folders_are_reported(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    inputs, missing = discover([tmp_path / "nope.wav", tmp_path / "empty"])
    assert inputs == []
    assert [m.path.name for m in missing] == ["nope.wav", "empty"]
    assert "no such file" in missing[0].reason
