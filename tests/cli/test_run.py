"""``hearthvox run`` and friends as a user runs them: real subprocesses, real models."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hearthvox.audio.resample import resample_int16
from hearthvox.audio.wavio import load_wav, write_wav
from hearthvox.engines import Engines
from hearthvox.evaluation.wer import word_error_rate
from tests.audio.wavfiles import build_wav
from tests.conftest import silence, speak16

ORDER = [
    "wake",
    "speech_start",
    "speech_end",
    "transcript",
    "reply",
    "tts_first_audio",
    "turn_done",
]


def hearthvox(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hearthvox", *args],
        input=stdin.decode("latin-1") if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ.copy(),
    )


def events_of(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def assert_speech(path: Path, min_s: float, max_s: float) -> None:
    audio = load_wav(path)
    assert min_s <= audio.duration_s <= max_s, audio.duration_s
    rms = float(np.sqrt(np.mean(audio.samples.astype(np.float64) ** 2)))
    assert rms > 500, f"reply too quiet: rms {rms:.0f}"  # silence is ~0; speech is thousands


def test_whole_loop_on_a_spoken_request(time_request_wav: Path, tmp_path: Path) -> None:
    reply = tmp_path / "reply.wav"
    proc = hearthvox("run", "--input", str(time_request_wav), "--json", "--output", str(reply))
    assert proc.returncode == 0, proc.stderr
    events = events_of(proc.stdout)
    names = [e["event"] for e in events]
    assert [n for n in names if n in ORDER][: len(ORDER)] == ORDER, names
    for e in events:
        assert isinstance(e["t_audio_ms"], int) and isinstance(e["t_wall_ms"], int)
    transcript = next(e for e in events if e["event"] == "transcript")
    assert "time" in str(transcript["text"]).lower()
    answer = next(e for e in events if e["event"] == "reply")
    assert answer["skill"] == "time" and str(answer["text"]).startswith("It is ")
    done = next(e for e in events if e["event"] == "turn_done")
    stages = done["stages_ms"]
    assert isinstance(stages, dict)
    assert {"endpoint", "asr", "skill", "tts_first_audio"} <= set(stages)
    assert_speech(reply, 0.8, 4.0)


@pytest.mark.parametrize("name", ["spk1_snt1.wav", "LDC93S1.wav"])
def test_corpus_sentence_after_the_wake_phrase(
    name: str,
    engines: Engines,
    corpus_dir: Path,
    corpus_rows: list[dict[str, str]],
    tmp_path: Path,
) -> None:
    sentence = load_wav(corpus_dir / name).samples
    audio = np.concatenate([silence(0.5), speak16(engines, "Hey Jarvis."), sentence, silence(2)])
    request = tmp_path / "request.wav"
    write_wav(request, audio, 16000)
    proc = hearthvox("run", "--input", str(request), "--json", "--output", "none")
    assert proc.returncode == 0, proc.stderr
    text = next(e["text"] for e in events_of(proc.stdout) if e["event"] == "transcript")
    reference = next(r["transcript"] for r in corpus_rows if r["file"] == name)
    assert word_error_rate([(reference, str(text))]) <= 0.25, text


def test_stereo_44k_is_resampled_and_works(time_request_wav: Path, tmp_path: Path) -> None:
    mono = resample_int16(load_wav(time_request_wav).samples, 16000, 44100)
    stereo = np.stack([mono, mono], axis=1).astype("<i2").tobytes()
    path = tmp_path / "stereo.wav"
    path.write_bytes(build_wav(stereo, channels=2, rate_hz=44100))
    proc = hearthvox("run", "--input", str(path), "--json", "--output", "none")
    assert proc.returncode == 0, proc.stderr
    assert "resampled 44100 Hz to 16000 Hz" in proc.stderr
    assert any(e["event"] == "reply" and e["skill"] == "time" for e in events_of(proc.stdout))


@pytest.mark.parametrize("kind", ["8-bit", "float32"])
def test_8_bit_and_float_wavs_are_converted_and_say_so(
    kind: str, time_request_wav: Path, tmp_path: Path
) -> None:
    x = load_wav(time_request_wav).samples
    path = tmp_path / f"{kind}.wav"
    if kind == "8-bit":
        data = ((x.astype(np.int32) >> 8) + 128).astype(np.uint8).tobytes()
        path.write_bytes(build_wav(data, bits=8))
    else:
        data = (x.astype("<f4") / 32768.0).tobytes()
        path.write_bytes(build_wav(data, tag=3, bits=32))
    proc = hearthvox("run", "--input", str(path), "--json", "--output", "none")
    assert proc.returncode == 0, proc.stderr
    assert "converted" in proc.stderr
    assert any(e["event"] == "reply" and e["skill"] == "time" for e in events_of(proc.stdout))


def _bad_inputs(corpus_dir: Path, tmp_path: Path) -> dict[str, Path]:
    good = (corpus_dir / "spk1_snt1.wav").read_bytes()
    files = {
        "not a WAV": b"ID3\x04\x00\x00\x00\x00\x00\x00this is an mp3, not a wav",
        "empty": b"",
        "truncated": good[: len(good) // 2],
    }
    paths = {}
    for name, data in files.items():
        p = tmp_path / f"{name.replace(' ', '_')}.wav"
        p.write_bytes(data)
        paths[name] = p
    return paths


@pytest.mark.parametrize("kind", ["not a WAV", "empty", "truncated"])
def test_bad_input_is_one_clear_line_and_nothing_is_written(
    kind: str, corpus_dir: Path, tmp_path: Path
) -> None:
    path = _bad_inputs(corpus_dir, tmp_path)[kind]
    reply = tmp_path / "reply.wav"
    proc = hearthvox("run", "--input", str(path), "--output", str(reply))
    assert proc.returncode == 4
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hearthvox: error: "), proc.stderr
    assert str(path.name) in lines[0]
    expected = {"not a WAV": "not a WAV", "empty": "empty", "truncated": "truncated"}[kind]
    assert expected in lines[0]
    assert not reply.exists()
    assert list(tmp_path.glob("reply*")) == []
    assert proc.stdout == ""


def test_wav_on_stdin(time_request_wav: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "hearthvox", "run", "--input", "-", "--json", "--output", "none"],
        input=time_request_wav.read_bytes(),
        capture_output=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    events = events_of(proc.stdout.decode())
    assert any(e["event"] == "reply" and e["skill"] == "time" for e in events)


def test_no_microphone_says_so_and_exits_non_zero() -> None:
    from hearthvox.audio.devices import have_input_device

    if have_input_device():
        pytest.skip("this machine has a microphone")
    proc = hearthvox("run")
    assert proc.returncode == 3
    assert "no microphone" in proc.stderr
    assert "--input" in proc.stderr and "hearthvox demo" in proc.stderr


def test_no_microphone_with_wait_for_device_says_so_and_waits() -> None:
    from hearthvox.audio.devices import have_input_device

    if have_input_device():
        pytest.skip("this machine has a microphone")
    proc = subprocess.Popen(
        [sys.executable, "-m", "hearthvox", "run", "--output", "none", "--wait-for-device"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        while line and "waiting for a microphone" not in line:
            line = proc.stderr.readline()
        assert "no microphone" in line and "--input" in line, line
        assert proc.poll() is None  # still running: it waits for a device
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)


def test_bad_config_is_reported(tmp_path: Path, time_request_wav: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text("[wake]\nthreshold = 7\n")
    proc = hearthvox("run", "--input", str(time_request_wav), "--config", str(cfg))
    assert proc.returncode == 2
    assert "threshold" in proc.stderr and "between 0 and 1" in proc.stderr


def test_unknown_wake_word_is_a_config_error(tmp_path: Path, time_request_wav: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[wake]\nmodels = ["hey_nobody"]\n')
    proc = hearthvox("run", "--input", str(time_request_wav), "--config", str(cfg))
    assert proc.returncode == 2, proc.stderr
    assert "[wake] models: 'hey_nobody' is not a wake word of bundle" in proc.stderr


def test_demo_answers_the_time_and_writes_the_reply(tmp_path: Path) -> None:
    out = tmp_path / "demo-reply.wav"
    proc = hearthvox("demo", "--no-play", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "heard:" in proc.stdout and "time" in proc.stdout.lower()
    assert "skill: time" in proc.stdout and "stage times:" in proc.stdout
    assert str(out) in proc.stdout
    assert_speech(out, 0.8, 4.0)
    again = hearthvox("demo", "--no-play", "-o", str(out))  # the cached request is reused
    assert again.returncode == 0, again.stderr


def test_say_writes_speech(tmp_path: Path) -> None:
    out = tmp_path / "hello.wav"
    proc = hearthvox("say", "Hello there. This is hearthvox.", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert_speech(out, 1.0, 6.0)


def test_transcribe_prints_one_line_per_file(corpus_dir: Path, tmp_path: Path) -> None:
    files = [corpus_dir / "spk1_snt1.wav", corpus_dir / "spk2_snt2.wav"]
    proc = hearthvox("transcribe", *map(str, files), "--json")
    assert proc.returncode == 0, proc.stderr
    rows = events_of(proc.stdout)
    assert [r["path"] for r in rows] == [str(f) for f in files]
    assert {"path", "text", "duration_s", "bundle"} <= set(rows[0])
    plain = hearthvox("transcribe", str(files[0]), str(tmp_path / "missing.wav"))
    assert plain.returncode != 0
    assert plain.stdout.startswith(f"{files[0]}\t")
    assert "missing.wav" in plain.stderr
