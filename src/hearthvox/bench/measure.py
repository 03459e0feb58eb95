"""Engine-level figures, ours and the baseline alternated on the same input."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from hearthvox.audio.sources import array_source
from hearthvox.bench.audio import RATE_HZ
from hearthvox.bench.turns import StampSink, bench_config
from hearthvox.config import Config
from hearthvox.engines import Engines
from hearthvox.engines.wake import FRAME_SAMPLES
from hearthvox.errors import HearthvoxError
from hearthvox.events import Int16Array, WakeDetected
from hearthvox.pipeline.runner import Pipeline
from hearthvox.skills.base import SkillContext, SystemClock
from hearthvox.skills.registry import SkillRouter, load_skills

REPLIES = (
    "Sorry, I can't do that yet. Try asking for the time or a timer.",
    "Today is Saturday, the twenty-ninth of November. It is a quiet day.",
    "You have two timers. Your pasta timer has four minutes left. Your tea timer has thirty "
    "seconds left.",
    "Your pasta timer is set for ten minutes and it will ring at eleven forty. I will tell you "
    "when it is done.",
    "Timer cancelled. You have no other timers running.",
    "It is eleven thirty in the evening. Your next timer rings in five minutes.",
)


def timed_ms(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000.0


def router(state_dir: Path, fallback: str = "Sorry, I can't do that yet.") -> SkillRouter:
    ctx = SkillContext(clock=SystemClock(), state_dir=state_dir)
    return SkillRouter(load_skills(), ctx, fallback)


def asr_times(
    engines: Engines, audios: list[Int16Array], reps: int
) -> tuple[list[float], list[float], list[str], list[str]]:
    """Lean ``transcribe`` vs faster-whisper ``WhisperModel.transcribe`` on each audio."""
    asr = engines.asr
    ours: list[float] = []
    base: list[float] = []
    texts_ours: list[str] = []
    texts_base: list[str] = []
    for audio in audios:
        for r in range(reps):
            t0 = time.perf_counter()
            mine = asr.transcribe(audio).text
            ours.append((time.perf_counter() - t0) * 1000.0)
            t0 = time.perf_counter()
            stock = asr.transcribe_full(audio).text
            base.append((time.perf_counter() - t0) * 1000.0)
            if r == 0:
                texts_ours.append(mine)
                texts_base.append(stock)
    return ours, base, texts_ours, texts_base


def tts_times(
    engines: Engines, reps: int, replies: tuple[str, ...] = REPLIES
) -> tuple[list[float], list[float]]:
    """First audio: our first-clause stream vs Piper's first chunk (the whole first sentence)."""
    tts = engines.tts
    ours: list[float] = []
    base: list[float] = []
    for text in replies:
        for _ in range(reps):
            stream = tts.stream(text)
            ours.append(timed_ms(lambda s=stream: next(s)))  # type: ignore[misc]  # lambda default
            stream.close()
            base.append(timed_ms(lambda t=text: next(iter(tts.sentences(t)))))  # type: ignore[misc]
    return ours, base


def piper_first_sentence_ms(engines: Engines, text: str) -> float:
    return timed_ms(lambda: next(iter(engines.tts.sentences(text)), None))


def idle_cpu_ours(engines: Engines, cfg: Config, audio: Int16Array) -> float:
    """CPU seconds per audio second of the whole pipeline listening idle to ``audio``."""
    cfg = bench_config(cfg)
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = Pipeline(engines, router(Path(tmp)), cfg)

        async def drive() -> int:
            source = array_source(audio, RATE_HZ, cfg.audio.chunk_ms, realtime=False)
            wakes = 0
            async for event in pipeline.run(source, StampSink(), realtime=False):
                wakes += isinstance(event, WakeDetected)
            return wakes

        t0 = time.process_time()
        asyncio.run(drive())
        return (time.process_time() - t0) / (len(audio) / RATE_HZ)


class OpenWakeWordAlone:
    """openWakeWord's own ``Model`` with the same wake model: the idle baseline."""

    def __init__(self, model_path: Path) -> None:
        import warnings

        try:
            import openwakeword.model
        except ImportError:
            raise HearthvoxError(
                "the bench's idle baseline runs openWakeWord's own Model, which needs SciPy "
                "and scikit-learn: pip install 'hearthvox[bench]'"
            ) from None

        with warnings.catch_warnings():  # it asks for CUDA first, then settles for the CPU
            warnings.simplefilter("ignore", UserWarning)
            self.model: Any = openwakeword.model.Model(wakeword_model_paths=[str(model_path)])

    def cpu_per_audio_s(self, audio: Int16Array) -> float:
        self.model.reset()
        n = len(audio) // FRAME_SAMPLES * FRAME_SAMPLES
        frames = audio[:n].reshape(-1, FRAME_SAMPLES)
        t0 = time.process_time()
        for frame in frames:
            self.model.predict(frame)
        return (time.process_time() - t0) / (n / RATE_HZ)


def idle_pair(
    engines: Engines, cfg: Config, oww: OpenWakeWordAlone, audio: Int16Array, reps: int
) -> tuple[list[float], list[float]]:
    ours: list[float] = []
    base: list[float] = []
    for _ in range(reps):
        ours.append(idle_cpu_ours(engines, cfg, audio))
        base.append(oww.cpu_per_audio_s(audio))
    return ours, base


def silence_is_silent(x: Int16Array) -> bool:
    return bool(np.max(np.abs(x)) < 1000) if len(x) else True
