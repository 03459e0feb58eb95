"""Silero VAD v6 on ONNX Runtime, streaming in 32 ms frames with its state carried."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from hearthvox.engines._onnx import cpu_session
from hearthvox.engines.executor import EngineExecutor
from hearthvox.errors import EngineError
from hearthvox.events import Float32Array, Int16Array

FRAME_SAMPLES = 512  # 32 ms at 16 kHz
_CONTEXT = 64  # samples of the previous frame the model sees in front of each frame


class SileroVad:
    """Speech probability per 32 ms frame; feed any chunk size, frames are cut inside."""

    frame_ms = FRAME_SAMPLES * 1000 // 16000

    def __init__(self, model: Path, *, threads: int = 1) -> None:
        self._session = cpu_session(model, threads)
        self.executor = EngineExecutor("vad")
        """The VAD's own thread (a copy from :meth:`new_stream` shares it)."""
        self.reset()

    def new_stream(self) -> SileroVad:
        """An independent VAD for another audio stream sharing the loaded ONNX session
        (safe to run from several threads at once); :meth:`reset` gives it its own state."""
        other = copy.copy(self)
        other.reset()
        return other

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(_CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)

    def frame_prob(self, frame: Float32Array) -> float:
        """Probability of speech in one 512-sample float frame (state carried over)."""
        x = np.concatenate([self._context, frame])[None, :]
        try:
            out, self._h, self._c = self._session.run(
                None, {"input": x, "h": self._h, "c": self._c}
            )
        except Exception as exc:  # onnxruntime errors are untyped
            raise EngineError(f"VAD inference failed: {exc}") from exc
        self._context = frame[-_CONTEXT:]
        return float(np.asarray(out).reshape(-1)[0])

    def feed(self, samples: Int16Array) -> list[float]:
        """Append 16 kHz int16 audio; return the probabilities of every frame it completed."""
        self._pending = np.concatenate([self._pending, samples.astype(np.float32) / 32768.0])
        n = len(self._pending) // FRAME_SAMPLES
        probs = [
            self.frame_prob(self._pending[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES])
            for i in range(n)
        ]
        self._pending = self._pending[n * FRAME_SAMPLES :]
        return probs


def speech_segments(
    probs: list[float], threshold: float, frame_ms: float, min_silence_ms: float = 100.0
) -> list[tuple[float, float]]:
    """(start_s, end_s) of the voiced runs, joining runs split by less than ``min_silence_ms``."""
    segments: list[list[float]] = []
    for i, p in enumerate(probs):
        if p < threshold:
            continue
        start, end = i * frame_ms / 1000.0, (i + 1) * frame_ms / 1000.0
        if segments and start - segments[-1][1] < min_silence_ms / 1000.0:
            segments[-1][1] = end
        else:
            segments.append([start, end])
    return [(round(a, 3), round(b, 3)) for a, b in segments]
