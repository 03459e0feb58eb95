"""VAD-based chunking: a recording becomes spans of speech of at most ``max_chunk_s`` each.

Silero VAD v6 (the bundle's ``vad`` artifact) scores every 32 ms frame; the frames
go through ONNX Runtime a block at a time with the LSTM state carried, as
faster-whisper's batched VAD does, so an hour of audio takes seconds. Voiced runs
closer than ``min_silence_ms`` are joined, padded by ``pad_ms`` each side, and packed
into chunks: a chunk keeps the short pauses inside it (so timestamps map back by
one offset) and ends at a pause longer than ``max_gap_s`` or before it would
pass ``max_chunk_s``. A run longer than that is cut at its quietest frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hearthvox.engines._onnx import cpu_session
from hearthvox.engines.vad import FRAME_SAMPLES, speech_segments
from hearthvox.errors import EngineError
from hearthvox.events import Int16Array

_CONTEXT = 64
_BLOCK_FRAMES = 4096  # frames per ONNX call (about 131 s of audio)
RATE_HZ = 16000


@dataclass(frozen=True)
class ChunkOptions:
    threshold: float = 0.5
    min_silence_ms: float = 300.0
    pad_ms: float = 200.0
    max_gap_s: float = 2.0
    max_chunk_s: float = 12.0
    """Short windows cost the encoder less per second (its attention grows with the square)."""


@dataclass(frozen=True)
class Chunk:
    start: int
    """First sample (16 kHz)."""
    end: int
    """One past the last sample."""

    @property
    def duration_s(self) -> float:
        return (self.end - self.start) / RATE_HZ


class VadScorer:
    """Speech probability of every 512-sample frame of a whole recording."""

    def __init__(self, model: Path, threads: int = 1) -> None:
        self._session: Any = cpu_session(model, threads)

    def probs(self, audio: Int16Array) -> npt.NDArray[np.float32]:
        n_frames = -(-len(audio) // FRAME_SAMPLES)
        if n_frames == 0:
            return np.zeros(0, dtype=np.float32)
        h = np.zeros((1, 1, 128), dtype=np.float32)
        c = np.zeros((1, 1, 128), dtype=np.float32)
        context = np.zeros(_CONTEXT, dtype=np.float32)
        out: list[npt.NDArray[np.float32]] = []
        for first in range(0, n_frames, _BLOCK_FRAMES):
            count = min(_BLOCK_FRAMES, n_frames - first)
            block = audio[first * FRAME_SAMPLES : (first + count) * FRAME_SAMPLES]
            x = np.zeros(count * FRAME_SAMPLES, dtype=np.float32)
            x[: len(block)] = block.astype(np.float32) / 32768.0
            frames = x.reshape(count, FRAME_SAMPLES)
            ctx = np.concatenate([context[None, :], frames[:-1, -_CONTEXT:]], axis=0)
            try:
                probs, h, c = self._session.run(
                    None, {"input": np.concatenate([ctx, frames], axis=1), "h": h, "c": c}
                )
            except Exception as exc:  # onnxruntime errors are untyped
                raise EngineError(f"VAD inference failed: {exc}") from exc
            context = frames[-1, -_CONTEXT:].copy()
            out.append(np.asarray(probs, dtype=np.float32).reshape(-1))
        return np.concatenate(out)


def plan_chunks(probs: npt.NDArray[np.float32], n_samples: int, opts: ChunkOptions) -> list[Chunk]:
    """Chunks of speech covering every voiced frame, each at most ``max_chunk_s`` long."""
    frame_ms = FRAME_SAMPLES * 1000 / RATE_HZ
    runs = speech_segments(list(map(float, probs)), opts.threshold, frame_ms, opts.min_silence_ms)
    pad = int(opts.pad_ms * RATE_HZ / 1000)
    spans: list[list[int]] = []
    for start_s, end_s in runs:
        a = max(0, int(start_s * RATE_HZ) - pad)
        b = min(n_samples, int(end_s * RATE_HZ) + pad)
        if spans and a <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], b)
        elif b > a:
            spans.append([a, b])
    limit = int(opts.max_chunk_s * RATE_HZ)
    pieces: list[tuple[int, int]] = []
    for a, b in spans:
        pieces.extend(_split_long(a, b, limit, probs))
    chunks: list[Chunk] = []
    max_gap = int(opts.max_gap_s * RATE_HZ)
    for a, b in pieces:
        last = chunks[-1] if chunks else None
        if last is not None and a - last.end <= max_gap and b - last.start <= limit:
            chunks[-1] = Chunk(last.start, b)
        else:
            chunks.append(Chunk(a, b))
    return chunks


def _split_long(
    a: int, b: int, limit: int, probs: npt.NDArray[np.float32]
) -> list[tuple[int, int]]:
    """Cut [a, b) into pieces of at most *limit* samples at the quietest frames."""
    out: list[tuple[int, int]] = []
    while b - a > limit:
        lo = (a + limit // 2) // FRAME_SAMPLES
        hi = (a + limit) // FRAME_SAMPLES
        window = probs[lo:hi]
        cut = (lo + int(np.argmin(window))) * FRAME_SAMPLES if len(window) else a + limit
        cut = min(max(cut, a + FRAME_SAMPLES), a + limit)
        out.append((a, cut))
        a = cut
    out.append((a, b))
    return out
