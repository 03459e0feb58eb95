"""``hearthvox bench --quick`` runs end to end and prints well-formed JSON lines.

No timing is asserted here: speed targets live in the bench's own output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXPECTED = {
    "asr_finalisation_ms",
    "asr_wer",
    "endpoint_delay_ms",
    "endpoint_cut_off_rate",
    "turn_asr_ms",
    "skill_ms",
    "tts_first_audio_ms",
    "end_of_speech_to_first_audio_ms",
    "first_audio_vs_quick_endpoint_ms",
    "idle_cpu_silence",
    "idle_cpu_noise",
    "cold_start_ms",
    "rss_steady_mib",
    "rss_peak_mib",
    "rss_growth_mib",
}


def test_quick_bench_prints_one_json_object_per_metric(
    corpus_dir: Path, hearthvox_home: Path
) -> None:
    env = {**os.environ, "HEARTHVOX_CORPUS": str(corpus_dir), "HEARTHVOX_HOME": str(hearthvox_home)}
    done = subprocess.run(
        [sys.executable, "-m", "hearthvox", "bench", "--quick", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert records
    for record in records:
        for key in ("metric", "ours", "baseline", "ratio", "unit"):
            assert key in record, record
        assert isinstance(record["metric"], str) and isinstance(record["unit"], str)
        for key in ("ours", "baseline", "ratio"):
            assert record[key] is None or isinstance(record[key], int | float), record
        if record["ours"] is not None and record["baseline"]:
            assert record["ratio"] is not None
    names = [r["metric"] for r in records]
    assert EXPECTED <= set(names), set(EXPECTED) - set(names)
    assert len(names) == len(set(names))
    assert "bench:" in done.stderr  # progress goes to stderr, never into the JSON


def test_bench_says_what_to_do_without_a_corpus(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "hearthvox", "bench", "--quick", "--corpus", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "--corpus" in done.stderr and "Traceback" not in done.stderr


def test_only_the_language_model_part(corpus_dir: Path, hearthvox_home: Path) -> None:
    pytest.importorskip("llama_cpp")
    env = {**os.environ, "HEARTHVOX_CORPUS": str(corpus_dir), "HEARTHVOX_HOME": str(hearthvox_home)}
    done = subprocess.run(
        [sys.executable, "-m", "hearthvox", "bench", "--quick", "--only", "llm", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    names = {json.loads(line)["metric"] for line in done.stdout.splitlines()}
    assert names == {
        "llm_end_of_speech_to_first_audio_ms",
        "llm_first_token_ms",
        "llm_tokens_per_s",
        "llm_barge_in_stop_ms",
    }
