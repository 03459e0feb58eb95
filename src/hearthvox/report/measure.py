"""In-process measurements: warm latency per stage (paced turns through the real
pipeline, the bench's harness), ASR and idle-listening CPU per audio second, and the
bench's side-by-side baselines (faster-whisper ``transcribe()``, Piper's first chunk).

Only figures are kept: no transcript, no reply text, no audio.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hearthvox.bench.audio import RATE_HZ, corpus_negatives, corpus_speech, room_tone, turn_stream
from hearthvox.bench.measure import asr_times, idle_cpu_ours, router, tts_times
from hearthvox.bench.turns import BEFORE_END_S, run_turns
from hearthvox.engines import Engines, load_engines
from hearthvox.errors import HearthvoxError
from hearthvox.report.target import Target
from hearthvox.report.turn_cpu import CpuSampler, segments
from hearthvox.runtime import load_second_asr_now

Progress = Callable[[str], None]

STAGES = (
    "endpoint_ms",
    "asr_ms",
    "end_of_speech_to_transcript_ms",
    "skill_ms",
    "tts_first_audio_ms",
    "end_of_speech_to_first_audio_ms",
)
"""The warm latency samples, in pipeline order."""


@dataclass(frozen=True)
class Plan:
    corpus: Path
    quick: bool
    latency_rounds: int
    """Times every corpus request goes through the paced pipeline (quick: 2 requests)."""
    memory_turns: int
    idle_s: float
    reps: int
    llm_turns: int = 40
    """Turns of the language model's long conversation ..."""
    llm_wall_s: float = 120.0
    """... stopped after the turn that passes this (a slow device)."""

    @classmethod
    def for_run(cls, corpus: Path, quick: bool) -> Plan:
        if quick:
            return cls(corpus, True, 1, 8, 4.0, 1, 12, 40.0)
        return cls(corpus, False, 2, 50, 30.0, 3)


def latency(engines: Engines, target: Target, plan: Plan, progress: Progress) -> dict[str, Any]:
    """Warm per-stage samples (ms) over paced turns, plus the CPU time they took, in all
    (``cpu_s``) and per heard turn (``turn_cpu``: :mod:`.turn_cpu` says how it is cut)."""
    speech = corpus_speech(plan.corpus, 2 if plan.quick else None)
    utterances = speech * plan.latency_rounds
    stream = turn_stream(engines.tts, utterances)
    progress(f"latency: {len(utterances)} requests through the pipeline, paced in real time")
    cpu0 = time.process_time()
    with tempfile.TemporaryDirectory() as tmp, CpuSampler() as sampler:
        timings = run_turns(engines, router(Path(tmp)), target.cfg, stream, False)
    cpu_s = time.process_time() - cpu0
    samples: dict[str, list[float]] = {s: [] for s in STAGES}
    heard = [t for t in timings if t.audio is not None]
    cuts = [  # each heard turn's real-time window starts BEFORE_END_S before its end
        (t._end_wall - BEFORE_END_S, t.turn.true_end_s - BEFORE_END_S)
        for t in heard
        if t._end_wall is not None
    ]
    audio_s = len(stream.audio) / RATE_HZ
    for t in heard:
        pairs = (
            ("endpoint_ms", t.endpoint_ms),
            ("asr_ms", t.asr_ms),
            ("skill_ms", t.skill_ms),
            ("tts_first_audio_ms", t.tts_first_ms),
            ("end_of_speech_to_first_audio_ms", t.first_audio_ms),
        )
        for name, value in pairs:
            if value is not None:
                samples[name].append(round(value, 2))
        if t.endpoint_ms is not None and t.asr_ms is not None:
            samples["end_of_speech_to_transcript_ms"].append(round(t.endpoint_ms + t.asr_ms, 2))
    return {
        "samples": samples,
        "decodes": {  # the cascade's larger model, the vocabulary's prompted decode
            "second_loaded": engines.asr.second is not None,
            "asr_second_ms": [
                t.asr_extra_ms["asr_second"] for t in heard if "asr_second" in t.asr_extra_ms
            ],
            "asr_prompted_ms": [
                t.asr_extra_ms["asr_prompted"] for t in heard if "asr_prompted" in t.asr_extra_ms
            ],
        },
        "requests": len(timings),
        "heard": len(heard),
        "missed_wake": sum(t.audio is None for t in timings),
        "cut_off": sum(t.cut_off for t in timings),
        "cpu_s": round(cpu_s, 3),
        "audio_s": round(audio_s, 2),
        "turn_cpu": segments(sampler, cuts, audio_s),
        "asr_audio": [t.audio for t in heard if t.audio is not None],
    }


def capacity_cpu(
    engines: Engines, target: Target, plan: Plan, audios: list[Any], progress: Progress
) -> dict[str, Any]:
    """CPU-seconds per audio-second: ASR on the heard requests, idle listening."""
    progress("capacity: ASR and idle-listening CPU per audio second")
    asr: list[float] = []
    for audio in audios:
        for _ in range(plan.reps):
            t0 = time.process_time()
            engines.asr.transcribe(audio)
            asr.append(round((time.process_time() - t0) / (len(audio) / RATE_HZ), 5))
    quiet = [
        round(idle_cpu_ours(engines, target.cfg, room_tone(plan.idle_s, seed=7 + i)), 5)
        for i in range(1 if plan.quick else 2)
    ]
    noisy = [
        round(idle_cpu_ours(engines, target.cfg, corpus_negatives(plan.corpus, plan.idle_s)), 5)
    ]
    return {"asr_cpu_per_audio_s": asr, "idle_cpu_quiet": quiet, "idle_cpu_noisy": noisy}


def baselines(
    engines: Engines, audios: list[Any], plan: Plan, progress: Progress
) -> dict[str, Any]:
    """The bench's side-by-side baselines on the same audio (reused, not re-implemented)."""
    progress("baselines: faster-whisper transcribe() and Piper's first chunk, side by side")
    ours, base, _, _ = asr_times(engines, audios, plan.reps)
    t_ours, t_base = tts_times(engines, plan.reps)
    return {
        "asr_finalisation_ms": {"ours": ours, "baseline": base},
        "tts_first_audio_ms": {"ours": t_ours, "baseline": t_base},
    }


def warm(target: Target, plan: Plan, progress: Progress) -> dict[str, Any]:
    progress("loading the engines")
    engines = load_engines(target.models, target.cfg)
    load_second_asr_now(engines)  # [asr] cascade: measured with the larger model in
    lat = latency(engines, target, plan, progress)
    audios = lat.pop("asr_audio")
    return {
        "latency": lat,
        "capacity": capacity_cpu(engines, target, plan, audios, progress),
        "baselines": baselines(engines, audios, plan, progress),
        "load_ms": {k: round(v, 1) for k, v in engines.load_ms.items()},
    }


def fresh_process(
    plan: Plan, config: Path | None, bundle: str | None, channel: str | None
) -> dict[str, Any]:
    """Cold start and memory from :mod:`hearthvox.report.probe` in a new process."""
    args = {
        "turns": plan.memory_turns,
        "corpus": str(plan.corpus),
        "config": str(config) if config else None,
        "bundle": bundle,
        "channel": channel,
    }
    cmd = [sys.executable, "-m", "hearthvox.report.probe", json.dumps(args)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ), timeout=1800)
    if done.returncode != 0:
        raise HearthvoxError(f"the memory probe failed: {done.stderr.strip()[-500:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
