"""Runs every measurement of ``hearthvox bench`` and yields its metrics in order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from hearthvox.audio.resample import resample_int16
from hearthvox.bench import Metric, median, p95, ratio_target
from hearthvox.bench.audio import (
    corpus_negatives,
    corpus_speech,
    room_tone,
    spoken_commands,
    spoken_questions,
    turn_stream,
)
from hearthvox.bench.bargein import STORY, measure_barge_in
from hearthvox.bench.measure import (
    OpenWakeWordAlone,
    asr_times,
    idle_pair,
    piper_first_sentence_ms,
    router,
    tts_times,
)
from hearthvox.bench.turns import TurnTiming, fixed_endpoint_ms, run_turns
from hearthvox.bundles.default import default_model_paths
from hearthvox.config import Config
from hearthvox.engines import Engines, load_engines
from hearthvox.engines.llm import LlamaLlm
from hearthvox.errors import HearthvoxError
from hearthvox.evaluation.wer import word_error_rate
from hearthvox.events import Int16Array
from hearthvox.runtime import load_second_asr_now, start_llm
from hearthvox.settings import engine_config
from hearthvox.skills.registry import FALLBACK

BASELINE_HANGOVER_MS = 700
AGGRESSIVE_HANGOVER_MS = 250
FIRST_AUDIO_MEDIAN_MS = 300.0
FIRST_AUDIO_P95_MS = 600.0
"""Home Assistant's "aggressive" end of speech: the second baseline of a turn."""
BARGE_IN_STOP_MS = 250.0
"""End of the wake phrase said over a reply -> playback stopped (median)."""
BARGE_INS = 10
LLM_BARGE_INS = 5
LLM_FIRST_MS = 650.0
LLM_STORY_TOKENS = 192
LLM_STORY_WALL_S = 10.0
"""The barge-ins' replies: longer than ``[llm] max_new_tokens``, still being written
when the wake word is said over them (about 100 tokens in, here), and still short
enough to play out within the turn limit when a barge-in goes unheard (about 50 s)."""
"""End of speech to the first audio of a language-model reply (median)."""
QUIET_REPLIES = 30
"""Long replies played out with nothing said over them: none may be interrupted."""
RSS_STEADY_MIB = 400.0
RSS_STEADY_CASCADE_MIB = 500.0
"""With the cascade's second model (Whisper base) resident."""


@dataclass(frozen=True)
class BenchOptions:
    corpus: Path
    quick: bool = False
    realtime_all: bool = False
    soak_minutes: float = 30.0
    reps: int = 3
    idle_s: float = 60.0
    config_path: Path | None = None
    """Handed to the memory probe, which loads the runtime in a fresh process."""
    llm: bool = True
    """Measure the local language model's turns (where it runs: ``[llm]``)."""
    only: str | None = None
    """``llm`` or ``barge-in``: that part alone."""


def barge_in_metrics(
    engines: Engines, cfg: Config, barge_ins: int, replies: int
) -> Iterator[Metric]:
    """The wake word over a long reply (the reply audible in the microphone): how soon
    the speaker stops; and how often the reply's own voice stops it."""

    def speak(text: str) -> Int16Array:
        speech = np.concatenate(list(engines.tts.sentences(text)))
        return resample_int16(speech, engines.tts.rate_hz, 16000)

    with tempfile.TemporaryDirectory() as tmp:
        story = router(Path(tmp), fallback=STORY)
        result = measure_barge_in(engines, story, cfg, speak, barge_ins, replies)
    ms = result.stop_ms
    stop_ok = bool(ms) and result.missed == 0 and (median(ms) or 0.0) <= BARGE_IN_STOP_MS
    yield Metric(
        "barge_in_stop_ms",
        median(ms),
        None,
        "ms",
        "",
        f"median <= {BARGE_IN_STOP_MS:g} ms, none missed",
        stop_ok,
        {"ours_p95": p95(ms), "n": len(ms), "missed": result.missed, "misheard": result.misheard},
    )
    yield Metric(
        "barge_in_false",
        float(result.false_interrupts),
        None,
        "count",
        "",
        f"0 over {result.replies} long replies",
        result.false_interrupts == 0 and result.replies == replies,
        {"replies": result.replies},
    )


def llm_metrics(
    engines: Engines, cfg: Config, llm: LlamaLlm, quick: bool, progress: Progress
) -> Iterator[Metric]:
    """Turns the local language model answers (spoken open questions, paced in real time):
    end of speech to the first audio of its streamed reply, its time to first token and
    its tokens a second; then barge-ins over its long replies (audio stopped, and the
    generation cancelled)."""
    questions = spoken_questions(engines.tts, 2 if quick else None)
    progress(f"language model: {len(questions)} spoken questions through the pipeline")
    stream = turn_stream(engines.tts, questions)
    with tempfile.TemporaryDirectory() as tmp:
        timings = run_turns(engines, router(Path(tmp)), cfg, stream, False, llm)
    answered = [t for t in timings if t.skill == "llm"]
    first = [t.first_audio_ms for t in answered if t.first_audio_ms is not None]
    figures = [t.llm for t in answered if t.llm is not None]
    ttft = [f.first_token_ms for f in figures if f.first_token_ms is not None]
    rates = [f.tokens_per_s for f in figures if f.tokens_per_s is not None]
    evaluated = [float(f.evaluated_tokens) for f in figures]
    ok = bool(first) and len(answered) == len(timings) and (median(first) or 0.0) <= LLM_FIRST_MS
    yield Metric(
        "llm_end_of_speech_to_first_audio_ms",
        median(first),
        None,
        "ms",
        "",
        f"median <= {LLM_FIRST_MS:g} ms, every question answered by the model",
        ok,
        {"ours_p95": p95(first), "n": len(first), "questions": len(timings)},
    )
    yield Metric(
        "llm_first_token_ms",
        median(ttft),
        None,
        "ms",
        "",
        "",
        None,
        {"ours_p95": p95(ttft), "prompt_tokens_evaluated_p50": median(evaluated)},
    )
    yield Metric("llm_tokens_per_s", median(rates), None, "tokens/s", "", "", None, {})

    barge_ins = 1 if quick else LLM_BARGE_INS
    progress(f"language model: {barge_ins} long replies cut short by a barge-in")

    def speak(text: str) -> Int16Array:
        speech = np.concatenate(list(engines.tts.sentences(text)))
        return resample_int16(speech, engines.tts.rate_hz, 16000)

    # a long story, so that the model is still writing when the wake word is said
    story = llm.retuned(max_new_tokens=LLM_STORY_TOKENS, reply_wall_s=LLM_STORY_WALL_S)
    with tempfile.TemporaryDirectory() as tmp:
        result = measure_barge_in(
            engines,
            router(Path(tmp)),
            cfg,
            speak,
            barge_ins,
            0,
            llm=story,
            barge_after_s=0.3,
            asked="Tell me a long story about a dragon.",
        )
    ms = result.stop_ms
    late = max(result.tokens_after_cancel, default=0)
    stops = Counter(result.generation_stops)
    yield Metric(
        "llm_barge_in_stop_ms",
        median(ms),
        None,
        "ms",
        "",
        f"median <= {BARGE_IN_STOP_MS:g} ms; a generation still running is cancelled, at "
        "most 1 token written after it",
        bool(ms) and (median(ms) or 0.0) <= BARGE_IN_STOP_MS and late <= 1,
        {
            "ours_p95": p95(ms),
            "n": len(ms),
            "missed": result.missed,
            "generation": dict(stops),
            "tokens_after_cancel_max": late,
        },
    )


def quick_options(opts: BenchOptions) -> BenchOptions:
    return replace(opts, quick=True, soak_minutes=0.2, reps=1, idle_s=4.0)


Progress = Callable[[str], None]


def run_bench(cfg: Config, opts: BenchOptions, progress: Progress) -> Iterator[Metric]:
    if opts.quick:
        opts = quick_options(opts)
    if not (opts.corpus / "corpus.csv").exists():
        raise HearthvoxError(f"no corpus.csv in {opts.corpus}; pass --corpus DIR")
    progress("loading the engines")
    paths = default_model_paths()
    engines = load_engines(paths, engine_config(cfg, paths))
    if opts.only is not None:
        yield from _part(engines, cfg, opts, progress)
        return
    load_second_asr_now(engines)  # [asr] cascade: measured with the larger model in
    cascade = engines.asr.second is not None
    recorded = corpus_speech(opts.corpus, 1 if opts.quick else None)
    utterances = [*recorded, *spoken_commands(engines.tts, 1 if opts.quick else None)]
    stream = turn_stream(engines.tts, utterances)

    with tempfile.TemporaryDirectory() as tmp:
        progress(f"{len(utterances)} requests through the pipeline, paced in real time")
        timings = run_turns(engines, router(Path(tmp)), cfg, stream, opts.realtime_all)
    heard = [t for t in timings if t.audio is not None]
    fixed, fixed_cut = fixed_endpoint_ms(engines, stream, cfg, BASELINE_HANGOVER_MS)
    quick_end, _ = fixed_endpoint_ms(engines, stream, cfg, AGGRESSIVE_HANGOVER_MS)

    progress("ASR: lean decode vs faster-whisper transcribe() on the same audio")
    audios = [t.audio for t in heard if t.audio is not None]
    a_ours, a_base, txt_ours, txt_base = asr_times(engines, audios, opts.reps)
    truths = [t.turn.utterance.truth for t in heard]
    yield ratio_target(
        "asr_finalisation_ms", a_ours, a_base, "ms", 1 / 3, "faster-whisper transcribe()"
    )
    # accuracy on the corpus recordings themselves (the eval set), one decode each
    clips = [u.clip for u in recorded]
    _, _, clip_ours, clip_base = asr_times(engines, clips, 1)
    clip_truths = [u.truth for u in recorded]
    wer_ours = word_error_rate(list(zip(clip_truths, clip_ours, strict=True)))
    wer_base = word_error_rate(list(zip(clip_truths, clip_base, strict=True)))
    yield Metric(
        "asr_wer",
        wer_ours,
        wer_base,
        "wer",
        "faster-whisper transcribe()",
        "ours <= baseline + 0.01",
        wer_ours <= wer_base + 0.01,
        {"n": len(clips), "texts_differ": sum(map(str.__ne__, clip_ours, clip_base))},
    )
    turn_base = word_error_rate(list(zip(truths, txt_base, strict=True))) if truths else None

    fixed_heard = [fixed[i] for i, t in enumerate(timings) if t.audio is not None]
    ends, ends_base = _pairs([t.endpoint_ms for t in heard], fixed_heard)
    yield ratio_target("endpoint_delay_ms", ends, ends_base, "ms", None, "0.7 s silence endpoint")
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
    tails = [t.vad_tail_ms for t in heard if t.vad_tail_ms is not None]
    yield Metric("vad_tail_ms", median(tails), None, "ms", "", "", None, {"ours_p95": p95(tails)})
    base_first: list[float | None] = list(a_base[:: opts.reps])
    in_turn, in_turn_base = _pairs([t.asr_ms for t in heard], base_first)
    yield ratio_target(
        "turn_asr_ms", in_turn, in_turn_base, "ms", None, "faster-whisper transcribe()"
    )
    turn_wer = (
        word_error_rate([(t.turn.utterance.truth, t.transcript) for t in heard]) if heard else None
    )
    yield Metric(
        "turn_wer",
        turn_wer,
        turn_base,
        "wer",
        "faster-whisper transcribe() on the turn's audio",
        "",
        None,
        {"n": len(heard)},
    )
    yield extra_decodes(heard)
    skills = [t.skill_ms for t in heard if t.skill_ms is not None]
    yield Metric("skill_ms", median(skills), None, "ms", "", "", None, {"ours_p95": p95(skills)})

    progress("TTS: first-clause stream vs Piper's first sentence")
    t_ours, t_base = tts_times(engines, opts.reps)
    yield ratio_target(
        "tts_first_audio_ms", t_ours, t_base, "ms", 0.5, "Piper first chunk (whole sentence)"
    )

    baseline_turn: list[float | None] = []
    aggressive_turn: list[float | None] = []
    quick_heard = [quick_end[i] for i, t in enumerate(timings) if t.audio is not None]
    for t, endpoint, quick, asr in zip(heard, fixed_heard, quick_heard, base_first, strict=True):
        piper = piper_first_sentence_ms(engines, t.reply or "Sorry.")
        baseline_turn.append(None if endpoint is None or asr is None else endpoint + asr + piper)
        aggressive_turn.append(None if quick is None or asr is None else quick + asr + piper)
    first, first_base = _pairs([t.first_audio_ms for t in heard], baseline_turn)
    m = ratio_target(
        "end_of_speech_to_first_audio_ms",
        first,
        first_base,
        "ms",
        0.4,
        "0.7 s endpoint + transcribe() + Piper first sentence",
    )
    m.extra["by_answer"] = by_answer(heard)
    ours_p95 = m.extra.get("ours_p95")
    absolute_ok = m.ours is not None and m.ours <= FIRST_AUDIO_MEDIAN_MS
    absolute_ok = absolute_ok and ours_p95 is not None and ours_p95 <= FIRST_AUDIO_P95_MS
    yield Metric(
        m.metric,
        m.ours,
        m.baseline,
        m.unit,
        m.baseline_name,
        f"median <= {FIRST_AUDIO_MEDIAN_MS:g} ms, p95 <= {FIRST_AUDIO_P95_MS:g} ms, ratio <= 0.4",
        bool(m.met) and absolute_ok,
        m.extra,
        m.paired_ratio,
    )
    first_q, quick_base = _pairs([t.first_audio_ms for t in heard], aggressive_turn)
    yield ratio_target(
        "first_audio_vs_quick_endpoint_ms",
        first_q,
        quick_base,
        "ms",
        None,
        "0.25 s endpoint + transcribe() + Piper first sentence",
    )

    yield from _part(engines, cfg, replace(opts, only="barge-in"), progress)
    if opts.llm:
        yield from _part(engines, cfg, replace(opts, only="llm"), progress)

    progress("idle CPU: our listener vs openWakeWord's Model alone")
    oww = OpenWakeWordAlone(paths.wake_models[cfg.wake.models[0]])
    quiet = room_tone(opts.idle_s, seed=7)
    noisy = corpus_negatives(opts.corpus, opts.idle_s)
    for name, audio, limit in (("idle_cpu_silence", quiet, 0.3), ("idle_cpu_noise", noisy, 1.2)):
        ours, base = idle_pair(engines, cfg, oww, audio, 1 if opts.quick else 2)
        yield ratio_target(name, ours, base, "cpu_s/audio_s", limit, "openWakeWord Model alone")
    del oww, engines

    progress(f"cold start and memory in fresh processes ({opts.soak_minutes:g} min of audio)")
    mine = _probe("ours", opts)
    rss_budget = RSS_STEADY_CASCADE_MIB if cascade else RSS_STEADY_MIB
    stock = _probe("baseline", opts)
    stock_name = "stock libraries (openWakeWord, faster-whisper, Piper)"
    yield Metric("cold_start_ms", mine["ready_ms"], stock["ready_ms"], "ms", stock_name)
    yield Metric(
        "rss_steady_mib",
        mine["rss_steady_mib"],
        stock["rss_steady_mib"],
        "MiB",
        stock_name,
        f"ours <= {rss_budget:g}",
        mine["rss_steady_mib"] <= rss_budget,
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


def _part(
    engines: Engines, cfg: Config, opts: BenchOptions, progress: Progress
) -> Iterator[Metric]:
    """The barge-ins, or the language model's turns (``opts.only``)."""
    if opts.only == "barge-in":
        barge_ins, replies = (1, 1) if opts.quick else (BARGE_INS, QUIET_REPLIES)
        progress(f"barge-in: {barge_ins} replies cut short, {replies} played out, in real time")
        yield from barge_in_metrics(engines, cfg, barge_ins, replies)
        return
    llm = start_llm(engines.cfg or cfg)
    if llm is None:
        progress("language model: not measured (it does not run here: see the log)")
        return
    try:
        yield from llm_metrics(engines, cfg, llm, opts.quick, progress)
    finally:
        llm.close()


def _probe(mode: str, opts: BenchOptions) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "hearthvox.bench.probe", mode, str(opts.corpus)]
    cmd += [str(opts.soak_minutes), str(opts.config_path or "")]
    done = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ), timeout=1800)
    if done.returncode != 0:
        raise HearthvoxError(f"the {mode} memory probe failed: {done.stderr.strip()[-500:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def extra_decodes(heard: list[TurnTiming]) -> Metric:
    """The share of turns the cascade sent to its larger model (``[asr] cascade``), and
    what the extra decodes (the vocabulary's prompted one, the larger model's) cost."""
    second = [t.asr_extra_ms["asr_second"] for t in heard if "asr_second" in t.asr_extra_ms]
    prompted = [t.asr_extra_ms["asr_prompted"] for t in heard if "asr_prompted" in t.asr_extra_ms]
    return Metric(
        "asr_escalated_share",
        len(second) / len(heard) if heard else None,
        None,
        "rate",
        "",
        "ours <= 0.25 (with [asr] cascade)",
        None if not heard else len(second) / len(heard) <= 0.25,
        {
            "n": len(heard),
            "asr_second_p50_ms": median(second),
            "prompted_share": len(prompted) / len(heard) if heard else None,
            "asr_prompted_p50_ms": median(prompted),
        },
    )


def by_answer(heard: list[TurnTiming]) -> dict[str, dict[str, float | int | None]]:
    """End of speech -> first audio, apart for the turns a skill answered and those only
    the fallback did (their endpoint waits differ: ``[endpoint] command_hangover_ms``)."""
    out: dict[str, dict[str, float | int | None]] = {}
    for kind in ("skill", "fallback"):
        times = [
            t.first_audio_ms
            for t in heard
            if t.first_audio_ms is not None and (t.skill == FALLBACK) == (kind == "fallback")
        ]
        out[kind] = {"median": median(times), "p95": p95(times), "n": len(times)}
    return out


def _pairs(ours: list[float | None], base: list[float | None]) -> tuple[list[float], list[float]]:
    """The pairs measured on the same input where both sides have a figure."""
    kept = [(o, b) for o, b in zip(ours, base, strict=True) if o is not None and b is not None]
    return [o for o, _ in kept], [b for _, b in kept]
