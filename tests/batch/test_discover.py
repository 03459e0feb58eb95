"""Finding inputs in files and folders and naming their outputs."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from hearthvox.batch.discover import discover, printable


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


def test_a_name_that_is_not_utf8_fails_that_file_only(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    touch(root / "a.wav")
    bad = Path(os.fsdecode(bytes(root) + b"/caf\xe9.wav"))  # Latin-1 bytes on disk
    touch(bad)
    touch(root / "z.wav")
    inputs, missing = discover([root])
    assert [i.stem for i in inputs] == [PurePosixPath("a"), PurePosixPath("z")]
    assert [m.path for m in missing] == [bad]
    assert "not valid UTF-8" in missing[0].reason
    assert printable(bad).endswith("caf\\xe9.wav")


def test_ffmpeg_error_numbers_become_words() -> None:
    import av

    from hearthvox.batch.decode import ffmpeg_words

    invalid = av.error.InvalidDataError(-1094995529, "Invalid data found", "x.mp3")
    assert ffmpeg_words(invalid) == "invalid data: not a recording FFmpeg can read"
    assert ffmpeg_words(OSError(12, "Cannot allocate memory")) == "cannot allocate memory"
    assert "Errno" not in ffmpeg_words(ValueError("[Errno -99999] Something odd"))
    assert ffmpeg_words(ValueError("Error number -424242 occurred")) == "FFmpeg could not decode it"


def test_transcribe_dir_fails_bad_files_one_by_one(tmp_path: Path, corpus_dir: Path) -> None:
    import json
    import subprocess
    import sys

    from tests.audio.wavfiles import build_wav

    root = tmp_path / "rec"
    root.mkdir()
    (root / "good.wav").write_bytes((corpus_dir / "spk1_snt1.wav").read_bytes())
    (root / "onehz.wav").write_bytes(build_wav(bytes(10_000), rate_hz=1))
    (root / "junk.mp3").write_bytes(bytes(range(256)) * 12)
    bad = os.fsencode(root) + b"/na\xefve.wav"
    with open(bad, "wb") as fh:
        fh.write((corpus_dir / "spk1_snt1.wav").read_bytes())
    proc = subprocess.run(
        [sys.executable, "-m", "hearthvox", "transcribe", str(root), "--out-dir",
         str(tmp_path / "out"), "--json"],
        capture_output=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 4
    results = {Path(r["path"]).name: r for r in map(json.loads, proc.stdout.splitlines())}
    assert results["good.wav"]["status"] == "done" and results["good.wav"]["outputs"]
    assert results["onehz.wav"]["status"] == "failed"
    assert "8000 to 384000 Hz" in results["onehz.wav"]["error"]
    assert results["junk.mp3"]["status"] == "failed"
    assert "Errno" not in results["junk.mp3"]["error"]
    stderr = proc.stderr.decode()
    assert "na\\xefve.wav: the file name is not valid UTF-8" in stderr
    assert "Traceback" not in stderr
