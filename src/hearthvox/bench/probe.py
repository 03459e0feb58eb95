"""Cold start and memory, each measured in a fresh process.

``python -m hearthvox.bench.probe ours CORPUS SOAK_MIN`` loads the runtime, then
feeds ``SOAK_MIN`` minutes of audio (room tone, one spoken request a minute,
noise) through the pipeline as fast as it goes, sampling RSS once a minute
(after one long sentence, so the voice's buffers are already at their size).
``... baseline CORPUS`` loads the stock libraries their own default way
(openWakeWord ``Model``, faster-whisper ``WhisperModel`` and its Silero VAD,
``PiperVoice.load``) and runs three turns' worth of work. Each prints one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil

MIB = 1024.0 * 1024.0
_LONG_SENTENCE = (
    "Your pasta timer, your tea timer and your laundry timer are all still running, and "
    "the first of them rings in about twelve minutes and forty seconds from now."
)


def _since_start_ms() -> float:
    return (time.time() - psutil.Process().create_time()) * 1000.0


def _rss_mib() -> float:
    return float(psutil.Process().memory_info().rss) / MIB


def _peak_mib() -> float:
    """This process's RSS high-water mark (VmHWM: ru_maxrss would carry the parent's
    over fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return float(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _summary(
    ready_ms: float, rss_ready: float, samples: list[float], audio_s: float
) -> dict[str, Any]:
    """Steady RSS: the median after the first minutes; growth: the median of the last
    third of the samples minus that of the first third (a one-off step barely moves it,
    a steady climb does)."""
    settled = samples[min(2, len(samples) - 1) :] if samples else [rss_ready]
    third = max(1, len(settled) // 3)
    growth = statistics.median(settled[-third:]) - statistics.median(settled[:third])
    return {
        "ready_ms": round(ready_ms, 1),
        "rss_ready_mib": round(rss_ready, 1),
        "rss_steady_mib": round(statistics.median(settled), 1),
        "rss_peak_mib": round(_peak_mib(), 1),
        "rss_growth_mib": round(growth, 1),
        "samples": len(samples),
        "audio_s": round(audio_s, 1),
    }


def ours(corpus: Path, soak_min: float, config_path: Path | None) -> dict[str, Any]:
    from hearthvox.audio.sources import array_source
    from hearthvox.bench.audio import RATE_HZ, corpus_negatives, room_tone, spoken
    from hearthvox.bench.turns import StampSink, bench_config
    from hearthvox.config import load
    from hearthvox.engines.memory import limit_malloc_arenas
    from hearthvox.runtime import load_runtime

    limit_malloc_arenas()  # as `run` and `serve` do, before any model loads
    cfg = bench_config(load(config_path))
    runtime = load_runtime(cfg, wait_second=True)  # [asr] cascade: its model resident
    ready_ms = _since_start_ms()
    rss_ready = _rss_mib()
    request = spoken(runtime.engines.tts, "Hey Jarvis. What time is it?")
    # the voice's working memory grows with the longest sentence synthesised so far
    # (bounded, not a leak): synthesise a long one first, so growth shows leaks only
    list(runtime.engines.tts.stream(_LONG_SENTENCE))
    noise = corpus_negatives(corpus, 8.0)
    minutes = max(1, round(soak_min))
    minute_s = 60.0 * soak_min / minutes
    quiet = room_tone(max(1.0, minute_s - (len(request) + len(noise)) / RATE_HZ - 1.0))
    one = np.concatenate([request, room_tone(1.0, seed=1), noise, quiet])
    samples: list[float] = []
    pipeline = runtime.pipeline()
    pipeline.cfg = cfg

    async def drive() -> None:
        for _ in range(minutes):
            source = array_source(one, RATE_HZ, cfg.audio.chunk_ms, realtime=False)
            async for _event in pipeline.run(source, StampSink(), realtime=False):
                pass
            samples.append(_rss_mib())  # once a minute, after that minute's turn

    asyncio.run(drive())
    return _summary(ready_ms, rss_ready, samples, minutes * len(one) / RATE_HZ)


def baseline(corpus: Path) -> dict[str, Any]:
    import openwakeword.model
    from faster_whisper import WhisperModel
    from faster_whisper.vad import get_vad_model
    from piper import PiperVoice

    from hearthvox.audio.resample import resample_int16
    from hearthvox.bench.audio import RATE_HZ, room_tone
    from hearthvox.bundles.default import default_model_paths

    paths = default_model_paths()
    oww: Any = openwakeword.model.Model(wakeword_model_paths=[str(paths.wake_models["hey_jarvis"])])
    whisper: Any = WhisperModel(str(paths.asr_dir), device="cpu", compute_type="int8")
    vad: Any = get_vad_model()
    voice: Any = PiperVoice.load(str(paths.tts_model), config_path=str(paths.tts_config))
    ready_ms = _since_start_ms()
    rss_ready = _rss_mib()
    samples: list[float] = []
    audio_s = 0.0
    for i in range(3):
        chunks = voice.synthesize("Hey Jarvis. What time is it?")
        speech = np.concatenate([c.audio_int16_array for c in chunks])
        rate = int(voice.config.sample_rate)
        x = np.concatenate([room_tone(1.0, seed=i), resample_int16(speech, rate, RATE_HZ)])
        for k in range(0, len(x) - 1280 + 1, 1280):
            oww.predict(x[k : k + 1280])
        vad(x[: len(x) // 512 * 512].astype(np.float32) / 32768.0)  # whole 32 ms windows
        segments, _ = whisper.transcribe(x.astype(np.float32) / 32768.0, language="en", beam_size=1)
        list(segments)
        list(voice.synthesize("It is eleven thirty in the evening."))
        audio_s += len(x) / RATE_HZ
        samples.append(_rss_mib())
    del corpus
    return _summary(ready_ms, rss_ready, samples, audio_s)


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("ours", "baseline"):
        usage = "usage: python -m hearthvox.bench.probe ours|baseline CORPUS [SOAK_MIN [CONFIG]]"
        print(usage, file=sys.stderr)
        return 2
    corpus = Path(argv[1])
    soak_min = float(argv[2]) if len(argv) > 2 else 1.0
    config_path = Path(argv[3]) if len(argv) > 3 and argv[3] else None
    result = ours(corpus, soak_min, config_path) if argv[0] == "ours" else baseline(corpus)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
