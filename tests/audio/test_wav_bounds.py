"""WAV input is bounded before work: source rates in range, the duration budget checked from
the declared size before anything is decoded, header chunks capped, memory set by the output."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hearthvox.audio.wavio import load_wav, open_wav_stream
from hearthvox.errors import AudioFormatError

from .wavfiles import build_wav, chunk, fmt_chunk

SPEECH = "spk1_snt1.wav"


def _file(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "in.wav"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("rate", [1, 10, 7999, 384_001, 1_000_000])
def test_rates_outside_the_range_are_refused(tmp_path: Path, rate: int) -> None:
    path = _file(tmp_path, build_wav(bytes(10_000), rate_hz=rate))
    with pytest.raises(AudioFormatError, match=r"outside the supported 8000 to 384000 Hz"):
        load_wav(path)
    with pytest.raises(AudioFormatError, match=r"outside the supported 8000 to 384000 Hz"):
        open_wav_stream(io.BytesIO(path.read_bytes()))


@pytest.mark.parametrize("rate", [8000, 384_000])
def test_the_ends_of_the_range_are_read(tmp_path: Path, rate: int) -> None:
    tone = (np.sin(np.arange(rate // 2) * 0.05) * 8000).astype("<i2")
    audio = load_wav(_file(tmp_path, build_wav(tone.tobytes(), rate_hz=rate)))
    assert 7900 <= len(audio.samples) <= 8100  # 0.5 s at 16 kHz


def test_the_declared_duration_is_checked_before_reading(tmp_path: Path) -> None:
    # 10 KB on disk; the header promises 5 hours: the budget refuses it, not "truncated"
    five_hours = 5 * 3600 * 16000 * 2
    path = _file(tmp_path, build_wav(bytes(10_000), data_size=five_hours))
    with pytest.raises(AudioFormatError, match=r"18000 s of audio .* longer than the limit"):
        load_wav(path)


def test_an_open_size_is_held_to_the_budget_while_reading(tmp_path: Path, corpus_dir: Path) -> None:
    speech = load_wav(corpus_dir / SPEECH).samples
    path = _file(tmp_path, build_wav(speech.tobytes(), data_size=0xFFFFFFFF))
    assert len(load_wav(path).samples) == len(speech)
    with pytest.raises(AudioFormatError, match="longer than the limit of 1 s"):
        load_wav(path, max_s=1.0)


def test_a_huge_fmt_chunk_is_refused_before_it_is_read(tmp_path: Path) -> None:
    head = b"RIFF" + struct.pack("<I", 0xFFFFFFF0) + b"WAVE"
    data = head + b"fmt " + struct.pack("<I", 0x7FFFFFF0) + bytes(100)
    with pytest.raises(AudioFormatError, match="fmt chunk says it is 2147483632 bytes"):
        load_wav(_file(tmp_path, data))


def test_too_many_channels_are_refused(tmp_path: Path) -> None:
    body = fmt_chunk(1, 1000, 16000, 16)
    data = b"RIFF" + struct.pack("<I", 4 + len(body) + 8) + b"WAVE" + body + chunk(b"data", b"")
    with pytest.raises(AudioFormatError, match="1000 channels, more than the supported 32"):
        load_wav(_file(tmp_path, data))


def _peak_rss_mb(*args: str) -> tuple[int, str, float]:
    code = (
        "import resource, subprocess, sys\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "print(p.returncode)\n"
        "print(p.stderr.strip().splitlines()[-1] if p.stderr.strip() else '')\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, sys.executable, "-m", "hearthvox", *args],
        capture_output=True, text=True, timeout=300, check=True,
    ).stdout.splitlines()  # fmt: skip
    return int(out[0]), out[1], float(out[2])


@pytest.mark.parametrize(
    ("verb", "rate", "data_size", "fragment"),
    [
        (["run", "--output", "none", "--input"], 1, None, "outside the supported 8000"),
        (["transcribe"], 8000, 0xFFFFFF00, "longer than the limit of 14400 s"),
    ],
)
def test_a_small_file_declaring_a_huge_duration_stays_small(
    tmp_path: Path, verb: list[str], rate: int, data_size: int | None, fragment: str
) -> None:
    """Was 1.6-1.8 GB for a 10 KB WAV declaring 1 Hz: refused at the header now."""
    path = _file(tmp_path, build_wav(bytes(10_000), rate_hz=rate, data_size=data_size))
    status, line, rss_mb = _peak_rss_mb(*verb, str(path))
    assert status == 4
    assert line.startswith("hearthvox: error: ") and fragment in line
    assert rss_mb < 600


def test_a_pipe_or_a_device_is_refused_without_blocking(tmp_path: Path) -> None:
    # opening a pipe with no writer would block for ever; a device never ends
    fifo = tmp_path / "request.wav"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero")):
        with pytest.raises(AudioFormatError, match="not a regular file"):
            load_wav(path)


def test_transcribe_names_a_device_for_what_it_is(tmp_path: Path) -> None:
    fifo = tmp_path / "a.wav"
    os.mkfifo(fifo)
    proc = subprocess.run(
        [sys.executable, "-m", "hearthvox", "transcribe", str(fifo), "/dev/zero"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 4, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(errors) == 2 and all("not a regular file" in e for e in errors), errors


def test_a_pipe_inside_a_folder_fails_alone(tmp_path: Path, corpus_dir: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.wav").write_bytes((corpus_dir / SPEECH).read_bytes())
    os.mkfifo(folder / "b.mp3")  # PyAV would wait for a writer for ever
    proc = subprocess.run(
        [sys.executable, "-m", "hearthvox", "transcribe", str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 4, proc.stderr
    assert "b.mp3: not a regular file" in proc.stderr
    assert "a.wav\t" in proc.stdout and "child" in proc.stdout.lower()
