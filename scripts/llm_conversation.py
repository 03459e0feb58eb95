"""A long conversation with the language model, driven through `hearthvox run` with spoken
questions: does it stay inside its budgets?

    .venv/bin/python scripts/llm_conversation.py [--turns 50] [--runs 3] [--json OUT.json]

Each run speaks ``--turns`` open questions (no skill answers them), each after the wake
phrase, in the bundle's voice, into one WAV, and feeds it to `hearthvox run --input WAV
--realtime --output none --json` (a fresh process: one conversation held in memory, its
history held to ``[llm] keep_turns`` and ``keep_tokens``). It reads the `turn_done`
events as they come and samples the process's RSS at each. Per run it reports:

- RSS once the history budget is reached (the first turn that dropped an old one) to the
  end: the spread must stay within 10 MiB;
- the p95 of end of speech -> first audio for turns 40-50 over turns 1-10 (within 20 %);
- turns answered by the model, and how the process ended (no OOM: exit status 0).

The figures of several runs are given as the median and the spread (min-max).
Needs the [llm] extra (scripts/setup --llm).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from hearthvox.audio.wavio import write_wav
from hearthvox.bench.audio import QUESTIONS as BENCH_QUESTIONS
from hearthvox.bench.audio import RATE_HZ, WAKE_PHRASE, room_tone, spoken
from hearthvox.bundles.default import default_model_paths
from hearthvox.config import Config
from hearthvox.engines import load_tts
from hearthvox.settings import engine_config

QUESTIONS = (
    *BENCH_QUESTIONS,  # the bench's eight, then more
    "What is the tallest mountain in the world?",
    "How do plants make food?",
    "What is the largest ocean?",
    "Why do leaves change colour in autumn?",
    "What is the speed of light?",
    "Who painted the Mona Lisa?",
    "How many planets are in the solar system?",
    "What is the boiling point of water?",
    "Why do we need sleep?",
    "What is the biggest animal on earth?",
    "How does a compass work?",
    "What language do they speak in Brazil?",
    "What is a volcano?",
    "How long does it take to boil an egg?",
    "Why is the sea salty?",
    "What is the smallest country in the world?",
    "How many bones are in the human body?",
    "What do pandas eat?",
    "Why do stars twinkle?",
    "What is the longest river in the world?",
    "How do bees find flowers?",
    "What is thunder?",
    "Who invented the telephone?",
    "What is the coldest place on earth?",
    "How do fish breathe?",
    "Why do we have seasons?",
    "What is a good name for a dog?",
    "How many days are in a leap year?",
    "What is the hardest natural material?",
    "Why do onions make you cry?",
    "What is the capital of Japan?",
    "How do birds fly?",
    "What is a black hole?",
    "Why is grass green?",
    "What should I cook for dinner tonight?",
    "How far is the sun from the earth?",
    "What is the fastest land animal?",
    "Why do we yawn?",
    "What is the largest desert?",
    "How do magnets work?",
    "What makes popcorn pop?",
    "Why is the moon sometimes red?",
)
GAP_S = 5.0
"""Silence after each question: the model's whole reply (64 tokens at most) fits in it."""
MIB = 1024 * 1024
CONFIG = """\
[endpoint]
follow_up = false   # each question starts with the wake phrase

[telemetry]
enabled = false
"""


def conversation_wav(turns: int, path: Path) -> float:
    """The spoken questions after the wake phrase, in one WAV; its length in seconds."""
    cfg = Config()
    paths = default_model_paths()
    tts = load_tts(paths, engine_config(cfg, paths))
    wake = spoken(tts, WAKE_PHRASE)
    parts = []
    for i in range(turns):
        question = QUESTIONS[i % len(QUESTIONS)]
        parts += [room_tone(0.6, seed=i), wake, room_tone(0.3, seed=1000 + i)]
        parts += [spoken(tts, question), room_tone(GAP_S, seed=2000 + i)]
    audio = np.concatenate(parts)
    write_wav(path, audio, RATE_HZ)
    return len(audio) / RATE_HZ


def one_run(wav: Path, config: Path, turns: int, progress: bool) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "hearthvox", "run", "--config", str(config), "--input"]
    cmd += [str(wav), "--realtime", "--output", "none", "--json", "-q"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    me = psutil.Process(proc.pid)
    rows: list[dict[str, Any]] = []
    t0 = time.monotonic()
    assert proc.stdout is not None
    for line in proc.stdout:
        event = json.loads(line)
        if event.get("event") != "turn_done":
            continue
        try:
            rss = me.memory_info().rss / MIB
        except psutil.NoSuchProcess:
            rss = float("nan")
        llm = event.get("llm") or {}
        rows.append(
            {
                "turn": len(rows) + 1,
                "skill": event.get("skill"),
                "outcome": event.get("outcome"),
                "first_audio_ms": event["stages_ms"].get("end_of_speech_to_first_audio"),
                "first_token_ms": llm.get("first_token_ms"),
                "prompt_tokens": llm.get("prompt_tokens"),
                "evaluated_tokens": llm.get("evaluated_tokens"),
                "new_tokens": llm.get("new_tokens"),
                "dropped_turns": llm.get("dropped_turns"),
                "stop": llm.get("stop"),
                "rss_mib": round(rss, 2),
                "stages_ms": event["stages_ms"],
            }
        )
        if progress:
            r = rows[-1]
            print(
                f"  turn {r['turn']:2d} {r['skill']}: {r['first_audio_ms']} ms, "
                f"{r['prompt_tokens']} prompt tokens ({r['evaluated_tokens']} computed), "
                f"dropped {r['dropped_turns']}, "
                f"RSS {r['rss_mib']:.1f} MiB ({time.monotonic() - t0:.0f} s)",
                file=sys.stderr,
            )
    status = proc.wait()
    return {"exit_status": status, "turns": rows, **summary(rows, turns)}


def _p95(values: list[float]) -> float | None:
    if not values:
        return None
    return float(np.percentile(values, 95))


def summary(rows: list[dict[str, Any]], turns: int) -> dict[str, Any]:
    answered = [r for r in rows if r["skill"] == "llm"]
    budget = next((r["turn"] for r in rows if (r["dropped_turns"] or 0) > 0), None)
    after = [r["rss_mib"] for r in rows if budget is not None and r["turn"] >= budget]
    early = [r["first_audio_ms"] for r in rows[:10] if r["first_audio_ms"] is not None]
    late = [r["first_audio_ms"] for r in rows[39:50] if r["first_audio_ms"] is not None]
    p_early, p_late = _p95(early), _p95(late)
    return {
        "questions": turns,
        "turns_done": len(rows),
        "answered_by_model": len(answered),
        "budget_reached_at_turn": budget,
        "rss_first_mib": rows[0]["rss_mib"] if rows else None,
        "rss_after_budget_spread_mib": round(max(after) - min(after), 2) if after else None,
        "rss_last_mib": rows[-1]["rss_mib"] if rows else None,
        "p95_first_audio_turns_1_10_ms": p_early,
        "p95_first_audio_turns_40_50_ms": p_late,
        "p95_ratio": round(p_late / p_early, 3) if p_early and p_late else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--turns", type=int, default=50, help="questions per run (10-200)")
    ap.add_argument("--runs", type=int, default=3, help="fresh processes (1-10)")
    ap.add_argument("--json", type=Path, help="write every turn's figures here")
    args = ap.parse_args()
    if not 10 <= args.turns <= 200 or not 1 <= args.runs <= 10:
        ap.error("--turns must be 10-200 and --runs 1-10")
    with tempfile.TemporaryDirectory() as tmp:
        wav, config = Path(tmp, "conversation.wav"), Path(tmp, "config.toml")
        config.write_text(CONFIG)
        seconds = conversation_wav(args.turns, wav)
        print(f"{args.turns} spoken questions, {seconds / 60:.1f} min a run", file=sys.stderr)
        runs = []
        for k in range(args.runs):
            print(f"run {k + 1} of {args.runs}", file=sys.stderr)
            runs.append(one_run(wav, config, args.turns, progress=True))
    keys = (
        "answered_by_model",
        "budget_reached_at_turn",
        "rss_after_budget_spread_mib",
        "p95_first_audio_turns_1_10_ms",
        "p95_first_audio_turns_40_50_ms",
        "p95_ratio",
    )
    for key in keys:
        values = [r[key] for r in runs if r[key] is not None]
        if values:
            print(
                f"{key}: median {statistics.median(values):.4g} "
                f"(runs: {', '.join(f'{v:.4g}' for v in values)})"
            )
    print(f"exit statuses: {[r['exit_status'] for r in runs]}")
    if args.json is not None:
        args.json.write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
