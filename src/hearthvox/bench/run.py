"""Runs every measurement of ``hearthvox bench`` and yields its metrics in order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hearthvox.bench import Metric, median, p95, ratio_target
from hearthvox.bench.audio import corpus_negatives, corpus_speech, room_tone, turn_stream
from hearthvox.bench.measure import (
    OpenWakeWordAlone,
    asr_times,
    idle_pair,
    piper_first_sentence_ms,
    router,
    tts_times,
)
from hearthvox.bench.turns import fixed_endpoint_ms, run_turns
from hearthvox.bundles.default import default_model_paths
from hearthvox.config import Config
from hearthvox.engines import load_engines
from hearthvox.errors import HearthvoxError
from hearthvox.evaluation.wer import word_error_rate

BASELINE_HANGOVER_MS = 700


@dataclass(frozen=True)
class BenchOptions:
    corpus: Path
    quick: bool = False
    realtime_all: bool = False
    soak_minutes: float = 30.0
    reps: int = 3
    idle_s: float = 60.0


def quick_options(opts: BenchOptions) -> BenchOptions:
    return BenchOptions(opts.corpus, True, opts.realtime_all, 0.2, 1, 4.0)


Progress = Callable[[str], None]


def run_bench(cfg: Config, opts: BenchOptions, progress: Progress) -> Iterator[Metric]:
    if opts.quick:
        opts = quick_options(opts)
    if not (opts.corpus / "corpus.csv").exists():
        raise HearthvoxError(f"no corpus.csv in {opts.corpus}; pass --corpus DIR")
    progress("loading the engines")
    paths = default_model_paths()
    engines = load_engines(paths, cfg)
    utterances = corpus_speech(opts.corpus, 1 if opts.quick else None)
    stream = turn_stream(engines.tts, utterances)

    with tempfile.TemporaryDirectory() as tmp:
        progress(f"{len(utterances)} requests through the pipeline, paced in real time")
        timings = run_turns(engines, router(Path(tmp)), cfg, stream, opts.realtime_all)
    heard = [t for t in timings if t.audio is not None]
    fixed, fixed_cut = fixed_endpoint_ms(engines, stream, cfg, BASELINE_HANGOVER_MS)

    progress("ASR: lean decode vs faster-whisper transcribe() on the same audio")
    audios = [t.audio for t in heard if t.audio is not None]
    a_ours, a_base, txt_ours, txt_base = asr_times(engines, audios, opts.reps)
    truths = [t.turn.utterance.truth for t in heard]
    yield ratio_target(
        "asr_finalisation_ms", a_ours, a_base, "ms", 1 / 3, "faster-whisper transcribe()"
    )
    wer_ours = word_error_rate(list(zip(truths, txt_ours, strict=True))) if truths else None
    wer_base = word_error_rate(list(zip(truths, txt_base, strict=True))) if truths else None
    yield Metric(
        "asr_wer",
        wer_ours,
        wer_base,
        "wer",
        "faster-whisper transcribe()",
        "ours <= baseline + 0.01",
        None if wer_ours is None or wer_base is None else wer_ours <= wer_base + 0.01,
        {"n": len(truths)},
    )

    ends = [t.endpoint_ms for t in heard if t.endpoint_ms is not None]
    yield ratio_target("endpoint_delay_ms", ends, fixed, "ms", None, "0.7 s silence endpoint")
    cuts = sum(t.cut_off for t in timings)
    missed = sum(t.audio is None for t in timings)
    yield Metric(
        "endpoint_cut_off_rate",
        cuts / len(timings),
        fixed_cut / len(timings),
        "rate",
        "0.7 s silence endpoint",
        "ours == 0",
        cuts == 0,
        {"n": len(timings), "missed_wake": missed},
    )
    in_turn = [t.asr_ms for t in heard if t.asr_ms is not None]
    base_first = a_base[:: opts.reps]
    yield ratio_target(
        "turn_asr_ms", in_turn, base_first, "ms", None, "faster-whisper transcribe()"
    )
    turn_wer = (
        word_error_rate([(t.turn.utterance.truth, t.transcript) for t in heard]) if heard else None
    )
    yield Metric(
        "turn_wer",
        turn_wer,
        wer_base,
        "wer",
        "faster-whisper transcribe()",
        "",
        None,
        {"n": len(heard)},
    )
    skills = [t.skill_ms for t in heard if t.skill_ms is not None]
    yield Metric("skill_ms", median(skills), None, "ms", "", "", None, {"ours_p95": p95(skills)})

    progress("TTS: first-clause stream vs Piper's first sentence")
    t_ours, t_base = tts_times(engines, opts.reps)
    yield ratio_target(
        "tts_first_audio_ms", t_ours, t_base, "ms", 0.5, "Piper first chunk (whole sentence)"
    )

    first = [t.first_audio_ms for t in heard if t.first_audio_ms is not None]
    baseline_turn = [
        fixed[i] + base_first[i] + piper_first_sentence_ms(engines, t.reply or "Sorry.")
        for i, t in enumerate(heard)
        if i < len(fixed) and i < len(base_first)
    ]
    m = ratio_target(
        "end_of_speech_to_first_audio_ms",
        first,
        baseline_turn,
        "ms",
        0.4,
        "0.7 s endpoint + transcribe() + Piper first sentence",
    )
    absolute_ok = m.ours is not None and m.ours < 400.0
    yield Metric(
        m.metric,
        m.ours,
        m.baseline,
        m.unit,
        m.baseline_name,
        "ratio <= 0.4 (aim: median < 400 ms)",
        bool(m.met) and absolute_ok,
        m.extra,
    )

    progress("idle CPU: our listener vs openWakeWord's Model alone")
    oww = OpenWakeWordAlone(paths.wake_models[cfg.wake.models[0]])
    quiet = room_tone(opts.idle_s, seed=7)
    noisy = corpus_negatives(opts.corpus, opts.idle_s)
    for name, audio, limit in (("idle_cpu_silence", quiet, 0.3), ("idle_cpu_noise", noisy, 1.2)):
        ours, base = idle_pair(engines, cfg, oww, audio, 1 if opts.quick else 2)
        yield ratio_target(name, ours, base, "cpu_s/audio_s", limit, "openWakeWord Model alone")
    del oww, engines

    progress(f"cold start and memory in fresh processes ({opts.soak_minutes:g} min of audio)")
    mine = _probe("ours", opts.corpus, opts.soak_minutes)
    stock = _probe("baseline", opts.corpus, opts.soak_minutes)
    stock_name = "stock libraries (openWakeWord, faster-whisper, Piper)"
    yield Metric("cold_start_ms", mine["ready_ms"], stock["ready_ms"], "ms", stock_name)
    yield Metric(
        "rss_steady_mib",
        mine["rss_steady_mib"],
        stock["rss_steady_mib"],
        "MiB",
        stock_name,
        "ours <= 400",
        mine["rss_steady_mib"] <= 400.0,
        {"rss_ready_mib": mine["rss_ready_mib"]},
    )
    yield Metric("rss_peak_mib", mine["rss_peak_mib"], stock["rss_peak_mib"], "MiB", stock_name)
    yield Metric(
        "rss_growth_mib",
        mine["rss_growth_mib"],
        None,
        "MiB",
        "",
        "ours <= 5 over the soak",
        mine["rss_growth_mib"] <= 5.0,
        {"audio_s": mine["audio_s"], "samples": mine["samples"]},
    )


def _probe(mode: str, corpus: Path, soak_minutes: float) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "hearthvox.bench.probe", mode, str(corpus), str(soak_minutes)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ), timeout=1800)
    if done.returncode != 0:
        raise HearthvoxError(f"the {mode} memory probe failed: {done.stderr.strip()[-500:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
