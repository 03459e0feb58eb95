"""One CLI dialect (docs/cli.md): spellings, global options, refusals, exit statuses.

Real subprocesses of ``python -m hearthvox``; only the demo test loads models.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from hearthvox.audio.wavio import load_wav
from hearthvox.cli import main

DEPRECATED = "is deprecated; use"


def hearthvox(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hearthvox", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hearthvox: error: "), proc.stderr
    return lines[0]


def commands(cmd: click.Command, path: str = "hearthvox") -> Iterator[tuple[str, click.Command]]:
    yield path, cmd
    if isinstance(cmd, click.Group):
        for name, sub in cmd.commands.items():
            yield from commands(sub, f"{path} {name}")


# ---------------------------------------------------------------- the tree


def test_every_option_of_every_verb_has_help() -> None:
    missing = [
        f"{path} {'/'.join(p.opts)}"
        for path, cmd in commands(main)
        for p in cmd.params
        if isinstance(p, click.Option) and not (p.help or "").strip()
    ]
    assert missing == []


def test_one_spelling_per_meaning() -> None:
    """Visible options: a written file is -o/--output, a folder --out-dir; no --out."""
    seen = 0
    for path, cmd in commands(main):
        leaf = not isinstance(cmd, click.Group)
        names = {o for p in cmd.params if isinstance(p, click.Option) for o in p.opts}
        visible = {
            o for p in cmd.params if isinstance(p, click.Option) and not p.hidden for o in p.opts
        }
        assert "--out" not in visible, path
        if "--output" in visible:
            assert "-o" in visible, path
            seen += 1
        if leaf:
            assert {"-v", "--verbose", "-q", "--quiet"} <= names, path
    assert seen >= 6  # run, demo, say, models export/lock, telemetry export


# ---------------------------------------------------------------- global options


def test_global_options_after_the_verb_mean_the_same_as_before() -> None:
    before = hearthvox("-v", "--json", "hw")
    after = hearthvox("hw", "-v", "--json")
    assert before.returncode == after.returncode == 0, after.stderr
    assert json.loads(before.stdout)["profile"] == json.loads(after.stdout)["profile"]


def test_verbose_and_quiet_together_are_refused() -> None:
    proc = hearthvox("-v", "hw", "-q")
    assert proc.returncode == 2
    assert "-v and -q" in one_error_line(proc)


def test_config_from_the_environment_and_the_command_line(tmp_path: Path) -> None:
    one_thread = tmp_path / "one.toml"
    one_thread.write_text("[asr]\nthreads = 1\n")
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    env = {"HEARTHVOX_CONFIG": str(one_thread)}

    from_env = hearthvox("hw", "--json", env=env)
    assert from_env.returncode == 0, from_env.stderr
    assert [o["key"] for o in json.loads(from_env.stdout)["overrides"]] == ["asr.threads"]

    after = ["hw", "--json", "--config", str(empty)]
    for args in (after, ["--config", str(empty), "hw", "--json"]):
        typed = hearthvox(*args, env=env)  # the command line wins over the environment
        assert typed.returncode == 0, typed.stderr
        assert json.loads(typed.stdout)["overrides"] == []

    missing = hearthvox("hw", env={"HEARTHVOX_CONFIG": str(tmp_path / "nope.toml")})
    assert missing.returncode == 2
    assert "nope.toml does not exist" in one_error_line(missing)


def test_two_different_configs_before_and_after_the_verb_are_refused(tmp_path: Path) -> None:
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text("")
    b.write_text("")
    proc = hearthvox("--config", str(a), "hw", "--config", str(b))
    assert proc.returncode == 2
    assert "give one" in one_error_line(proc)
    same = hearthvox("--config", str(a), "hw", "--json", "--config", str(a))
    assert same.returncode == 0, same.stderr


def test_a_global_option_the_verb_cannot_use_is_refused(tmp_path: Path) -> None:
    proc = hearthvox("--json", "serve")
    assert proc.returncode == 2
    assert "serve has no --json" in one_error_line(proc)
    config = tmp_path / "c.toml"
    config.write_text("")
    proc = hearthvox("--config", str(config), "service", "status")
    assert proc.returncode == 2
    assert "service status has no --config" in one_error_line(proc)


def test_quiet_silences_notes(tmp_path: Path) -> None:
    out = tmp_path / "t.jsonl"
    loud = hearthvox("telemetry", "export", "-o", str(out))
    assert loud.returncode == 0 and "wrote 0 records" in loud.stderr
    quiet = hearthvox("-q", "telemetry", "export", "-o", str(out))
    assert quiet.returncode == 0 and quiet.stderr == ""
    assert out.read_text() == ""


# ---------------------------------------------------------------- old spellings


def test_the_old_spelling_still_works_with_one_note(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "t.jsonl"
    proc = hearthvox("telemetry", "export", "--out", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == [
        "hearthvox: --out is deprecated; use -o/--output (removed in the next release)"
    ]
    assert json.loads(proc.stdout) == {"output": str(out), "format": "jsonl", "records": 0}
    assert out.exists()
    both = hearthvox("telemetry", "export", "--out", str(out), "-o", str(out))
    assert both.returncode == 2
    quiet = hearthvox("telemetry", "export", "--out", str(out), "-q")
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_the_old_spelling_is_hidden_from_help() -> None:
    proc = hearthvox("transcribe", "--help")
    assert proc.returncode == 0
    assert "--out-dir" in proc.stdout and "--out " not in proc.stdout


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--input", "x.wav", "--input-device", "2"], "--input-device is for --input mic"),
        (["run", "--input", "-", "--wait-for-device"], "--wait-for-device is for --input mic"),
        (["run", "--input", "mic", "--realtime"], "--realtime paces a file"),
        (["run", "--output", "none", "--output-device", "1"], "--output-device is for --output"),
        (["transcribe", "x.wav", "--format", "srt"], "--format is for --out-dir"),
        (["transcribe", "x.wav", "--force"], "--force is for --out-dir"),
        (["hw", "--runs", "2"], "--runs is for --record"),
        (["serve", "--zeroconf-name", "kitchen"], "--zeroconf-name is for --zeroconf"),
        (["telemetry", "export", "--json"], "--json reports the file written with -o"),
    ],
)
def test_options_that_cannot_apply_are_refused(args: list[str], message: str) -> None:
    proc = hearthvox(*args)
    assert proc.returncode == 2
    assert message in one_error_line(proc)


# ---------------------------------------------------------------- outputs


@pytest.mark.parametrize(
    "args",
    [
        ["transcribe", "x.wav", "--out-dir", "{blocked}/sub"],
        ["transcribe", "x.wav", "--out-dir", "{blocked}"],
        ["transcribe", "x.wav", "--out", "{blocked}/sub"],
        ["say", "hello", "-o", "{blocked}/hello.wav"],
        ["run", "--input", "x.wav", "--output", "{blocked}/reply.wav"],
        ["telemetry", "export", "-o", "{blocked}/t.jsonl"],
        ["report", "--out-dir", "{blocked}/report"],
    ],
)
def test_an_unwritable_output_is_exit_status_6(args: list[str], tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"  # a file where a folder must be: unwritable, even for root
    blocked.write_text("")
    proc = hearthvox(*(a.format(blocked=blocked) for a in args))
    assert proc.returncode == 6, proc.stderr
    error = proc.stderr.strip().splitlines()[-1]
    assert error.startswith("hearthvox: error: cannot write") and "not a directory" in error


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc")
def test_a_folder_the_check_cannot_foresee_is_exit_status_6_too(
    tmp_path: Path, corpus_dir: Path
) -> None:
    # /proc looks writable to root, but no folder can be made in it: the failure comes
    # when the run creates its folder, and is still one line with exit status 6
    wav = corpus_dir / "spk1_snt1.wav"
    proc = hearthvox("transcribe", str(wav), "--out-dir", "/proc/hearthvox-test/out")
    assert proc.returncode == 6, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert "Traceback" not in proc.stderr
    assert lines[-1].startswith("hearthvox: error: cannot write"), lines


# ---------------------------------------------------------------- --json on verbs that change state


def test_models_verbs_that_change_state_report_json() -> None:
    proc = hearthvox("models", "install", "packages", "--json")
    assert proc.returncode == 0, proc.stderr
    installed = json.loads(proc.stdout)
    assert installed["bundle"] == "default-0.1.0@1" and installed["channel"] == "stable"
    assert installed["activated"] is False and installed["fetched_bytes"] == 0
    proc = hearthvox("--json", "models", "activate", "default-0.1.0@1")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "channel": "stable",
        "previous": "default-0.1.0@1",
        "current": "default-0.1.0@1",
        "changed": False,
        "trial": None,
    }
    back = hearthvox("models", "rollback", "--json")  # an error stays one line on stderr
    assert back.returncode == 5 and back.stdout == ""
    assert "no previous bundle" in one_error_line(back)


def test_demo_json_and_output(tmp_path: Path) -> None:
    reply = tmp_path / "replies" / "reply.wav"
    proc = hearthvox("--json", "demo", "--no-play", "-o", str(reply))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["skill"] == "time" and record["outcome"] == "answered"
    assert "time" in record["transcript"].lower() and record["reply"].startswith("It is ")
    assert record["output"] == str(reply) and record["played"] is False
    assert abs(load_wav(reply).duration_s - record["duration_s"]) < 0.01


def test_say_json_and_output(tmp_path: Path) -> None:
    out = tmp_path / "new" / "hello.wav"
    proc = hearthvox("say", "Hello there.", "-o", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    assert record["output"] == str(out) and record["bundle"].startswith("default-")
    assert abs(load_wav(out).duration_s - record["duration_s"]) < 0.01
