"""Cold start and memory of the bundle, measured in a fresh process.

``python -m hearthvox.report.probe '{"turns": 50, ...}'`` loads the engines one after
the other (load time and RSS step of each), listens to room tone (idle RSS), then
runs ``turns`` consecutive requests through the pipeline as fast as it goes, sampling
RSS after each turn and the high-water mark over them. Prints one JSON line of
figures only (no transcript, no audio).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from hearthvox.bench.probe import MIB, _peak_mib, _rss_mib


def _reset_peak() -> bool:
    """Reset this process's RSS high-water mark (Linux: ``echo 5 > clear_refs``)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def measure(args: dict[str, Any]) -> dict[str, Any]:
    from hearthvox.audio.sources import array_source
    from hearthvox.bench.audio import RATE_HZ, corpus_speech, room_tone, turn_stream
    from hearthvox.bench.measure import router
    from hearthvox.bench.turns import StampSink, bench_config
    from hearthvox.bundles.optional import load_second_asr
    from hearthvox.compat.tuning import device_setup
    from hearthvox.config import load
    from hearthvox.engines import Engines, load_asr, load_tts, load_wake
    from hearthvox.engines.memory import limit_malloc_arenas, release_free_memory
    from hearthvox.engines.vad import SileroVad
    from hearthvox.events import TurnDone
    from hearthvox.pipeline.runner import Pipeline
    from hearthvox.report.target import resolve

    limit_malloc_arenas()  # as `run` and `serve` do, before any model loads
    config = args.get("config")
    cfg0 = load(Path(config) if config else None)
    target = resolve(cfg0, args.get("bundle"), args.get("channel"))
    models, cfg = target.models, bench_config(target.cfg)
    steps: dict[str, dict[str, float]] = {}
    loaded: dict[str, Any] = {}
    loaders: dict[str, Callable[[], Any]] = {
        "wake": lambda: load_wake(models, cfg),
        "vad": lambda: SileroVad(models.vad, threads=cfg.vad.threads),
        "asr": lambda: load_asr(models, cfg),
        "tts": lambda: load_tts(models, cfg),
    }
    rss_imports = _rss_mib()
    for stage, loader in loaders.items():
        before, t0 = _rss_mib(), time.perf_counter()
        loaded[stage] = loader()
        steps[stage] = {
            "load_ms": round((time.perf_counter() - t0) * 1000.0, 1),
            "rss_mib": round(_rss_mib() - before, 1),
        }
    choice = device_setup(cfg).second_asr() if cfg.asr.cascade else None
    if choice is not None and choice.enabled:  # [asr] cascade: its larger model resident
        before, t0 = _rss_mib(), time.perf_counter()
        loaded["asr"].attach_second(load_second_asr(cfg))
        release_free_memory()
        steps["asr_second"] = {
            "load_ms": round((time.perf_counter() - t0) * 1000.0, 1),
            "rss_mib": round(_rss_mib() - before, 1),
        }
    ready_ms = (time.time() - psutil.Process().create_time()) * 1000.0
    engines = Engines(
        loaded["wake"],
        loaded["vad"],
        loaded["asr"],
        loaded["tts"],
        models.bundle_id,
        {s: v["load_ms"] for s, v in steps.items()},
        cfg,
    )
    utterances = corpus_speech(Path(args["corpus"]))
    n = int(args["turns"])
    stream = turn_stream(engines.tts, [utterances[i % len(utterances)] for i in range(n)])
    rss_turns: list[float] = []
    outcomes: list[str] = []

    async def drive(audio: Any, pipeline: Pipeline, sample: bool) -> None:
        source = array_source(audio, RATE_HZ, cfg.audio.chunk_ms, realtime=False)
        async for event in pipeline.run(source, StampSink(), realtime=False):
            if sample and isinstance(event, TurnDone):
                rss_turns.append(round(_rss_mib(), 2))
                outcomes.append(event.outcome)

    with tempfile.TemporaryDirectory() as tmp:
        pipeline = Pipeline(engines, router(Path(tmp)), cfg)
        asyncio.run(drive(room_tone(5.0, seed=3), pipeline, False))
        rss_idle = _rss_mib()
        reset = _reset_peak()
        asyncio.run(drive(stream.audio, pipeline, True))
    return {
        "cold_start_ms": round(ready_ms, 1),
        "rss_imports_mib": round(rss_imports, 1),
        "engines": steps,
        "rss_idle_mib": round(rss_idle, 1),
        "rss_peak_turn_mib": round(_peak_mib(), 1),
        "peak_reset": reset,
        "rss_turns_mib": rss_turns,
        "outcomes": outcomes,
        "turns_requested": n,
        "audio_s": round(len(stream.audio) / RATE_HZ, 1),
        "mem_available_mib": round(psutil.virtual_memory().available / MIB, 1),
        "mem_total_mib": round(psutil.virtual_memory().total / MIB, 1),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m hearthvox.report.probe JSON", file=sys.stderr)
        return 2
    print(json.dumps(measure(json.loads(argv[0]))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
