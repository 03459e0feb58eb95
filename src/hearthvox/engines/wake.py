"""Wake word detection with openWakeWord's ONNX models, streamed in 80 ms frames.

The three-model chain of openWakeWord 0.4.0 (melspectrogram -> speech embedding
-> wake classifier) runs directly on ONNX Runtime, with the same feature
arithmetic as ``openwakeword.utils.AudioFeatures`` in streaming mode, so the
daemon does not import openWakeWord's training dependencies (scikit-learn,
SciPy) at run time.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hearthvox.engines._onnx import cpu_session
from hearthvox.engines.executor import EngineExecutor
from hearthvox.errors import EngineError, ModelError
from hearthvox.events import Int16Array

FRAME_SAMPLES = 1280  # 80 ms at 16 kHz
_MEL_CONTEXT = 160 * 3  # extra samples the melspectrogram needs for one frame's worth
_MEL_WINDOW = 76  # melspectrogram frames per embedding
_MEL_MAX = 10 * 97
_FEATURE_MAX = 120
_WARMUP_FRAMES = 5  # openWakeWord zeroes the first predictions of a fresh stream
_BLANK_ROWS = 116  # embeddings of openWakeWord's 10 s of initial silence


@dataclass(frozen=True)
class WakeHit:
    model: str
    score: float


DISOWN_HOLD_MS = 800.0
"""After a hit that was not a wake word, hits are held off this long: one "hey jarvis"
keeps the score over the threshold for about 560 ms (7 frames)."""


class WakeEngine:
    """Streaming wake-word scorer with a threshold and a refractory period."""

    def __init__(
        self,
        melspectrogram: Path,
        embedding: Path,
        models: dict[str, Path],
        *,
        threshold: float = 0.5,
        thresholds: Mapping[str, float] | None = None,
        refractory_s: float = 2.0,
        threads: int = 1,
    ) -> None:
        if not models:
            raise ModelError("no wake word model configured")
        self.threshold = threshold
        """The threshold of every model without one of its own in *thresholds*."""
        self.own_thresholds = dict(thresholds or {})
        self.strict = 0.0
        """A floor over every model's threshold (raised while the assistant speaks)."""
        self.refractory_ms = refractory_s * 1000.0
        self._mel = cpu_session(melspectrogram, threads)
        self._emb = cpu_session(embedding, threads)
        self._models: dict[str, Any] = {n: cpu_session(p, threads) for n, p in models.items()}
        self._inputs = {
            name: (sess.get_inputs()[0].name, int(sess.get_inputs()[0].shape[1]))
            for name, sess in self._models.items()
        }
        # openWakeWord starts a stream from the features of 10 s of silence; every row of
        # those is the same, so one short clip's first row, tiled, gives the same array
        # without the ~100 MB a 10 s embedding batch leaves behind
        row = self._embed_clip(np.zeros(16000 * 2, dtype=np.int16))[0]
        self._blank_features = np.tile(row, (_BLANK_ROWS, 1))
        self.executor = EngineExecutor("wake")
        """The detector's own thread (shared by its copies on the same models)."""
        self.reset()

    @property
    def model_names(self) -> list[str]:
        return list(self._models)

    def threshold_for(self, model: str) -> float:
        """*model*'s own threshold (or the common one), never below :attr:`strict`."""
        return max(self.strict, self.own_thresholds.get(model, self.threshold))

    def best_hit(self, scores: dict[str, float]) -> tuple[str, float] | None:
        """The highest-scoring model at or over its threshold, if any."""
        over = [(m, s) for m, s in scores.items() if s >= self.threshold_for(m)]
        return max(over, key=lambda kv: kv[1]) if over else None

    def new_stream(self) -> WakeEngine:
        """An independent detector for another audio stream on the same loaded models.

        The ONNX sessions are shared (safe to run from several threads at once);
        the stream state (buffers, warm-up, refractory clock) is the new
        detector's own, because :meth:`reset` allocates it afresh.
        """
        other = copy.copy(self)
        other.reset()
        return other

    def retuned(
        self, *, threshold: float, thresholds: Mapping[str, float], refractory_s: float
    ) -> WakeEngine:
        """A fresh detector on the same loaded models with other thresholds (a SIGHUP
        that changes only those loads nothing: each reload of a model leaves memory
        behind in the runtime's allocator)."""
        other = self.new_stream()
        other.threshold = threshold
        other.own_thresholds = dict(thresholds)
        other.refractory_ms = refractory_s * 1000.0
        other.strict = 0.0
        return other

    def reset(self) -> None:
        """Forget the stream (after a gap in the audio fed to the detector)."""
        self._raw = np.zeros(FRAME_SAMPLES + _MEL_CONTEXT, dtype=np.int16)
        self._melbuf = np.ones((_MEL_WINDOW, 32), dtype=np.float32)
        self._features = self._blank_features.copy()
        self._frames_seen = 0
        self._last_fire_ms = -1e18

    def resync(self) -> None:
        """Start the feature stream afresh (after audio it did not hear), keeping the
        refractory clock so a replayed wake phrase does not fire twice."""
        last_fire_ms = self._last_fire_ms
        self.reset()
        self._last_fire_ms = last_fire_ms

    def disown(self, hit_ms: float, last_fire_ms: float, hold_ms: float = DISOWN_HOLD_MS) -> None:
        """The hit at ``hit_ms`` was not a wake word (the assistant's own voice): it holds
        off hits for ``hold_ms`` only (the rest of the same phrase, whose score stays
        over the threshold for several frames), not the whole refractory period, so the
        user's wake word just after it still fires. ``last_fire_ms`` is
        :attr:`last_fire_ms` as it was before that hit."""
        if self._last_fire_ms == hit_ms:
            held = hit_ms - max(0.0, self.refractory_ms - hold_ms)
            self._last_fire_ms = max(last_fire_ms, held)

    @property
    def last_fire_ms(self) -> float:
        return self._last_fire_ms

    def _melspec(self, x: Int16Array) -> Any:
        spec = self._mel.run(None, {"input": x.astype(np.float32)[None, :]})[0]
        return np.squeeze(spec) / 10.0 + 2.0

    def _embed_clip(self, x: Int16Array) -> Any:
        spec = self._melspec(x)
        windows = [
            spec[i : i + _MEL_WINDOW]
            for i in range(0, spec.shape[0], 8)
            if spec[i : i + _MEL_WINDOW].shape[0] == _MEL_WINDOW
        ]
        batch = np.asarray(windows, dtype=np.float32)[..., None]
        return self._emb.run(None, {"input_1": batch})[0].squeeze()

    def scores(self, frame: Int16Array) -> dict[str, float]:
        """Feed one 80 ms frame and return every model's score for it."""
        if frame.shape != (FRAME_SAMPLES,):
            raise EngineError(f"wake engine takes {FRAME_SAMPLES}-sample frames, got {frame.shape}")
        try:
            self._raw = np.concatenate([self._raw[FRAME_SAMPLES:], frame])
            self._melbuf = np.vstack([self._melbuf, self._melspec(self._raw)])[-_MEL_MAX:]
            window = self._melbuf[-_MEL_WINDOW:].astype(np.float32)[None, :, :, None]
            emb = self._emb.run(None, {"input_1": window})[0].squeeze()
            self._features = np.vstack([self._features, emb])[-_FEATURE_MAX:]
            out: dict[str, float] = {}
            for name, sess in self._models.items():
                input_name, n_frames = self._inputs[name]
                feats = self._features[-n_frames:][None].astype(np.float32)
                out[name] = float(sess.run(None, {input_name: feats})[0].reshape(-1)[0])
        except Exception as exc:  # onnxruntime errors are untyped
            raise EngineError(f"wake word inference failed: {exc}") from exc
        self._frames_seen += 1
        if self._frames_seen <= _WARMUP_FRAMES:
            return dict.fromkeys(out, 0.0)
        return out

    def detect(self, frame: Int16Array, t_audio_ms: float) -> WakeHit | None:
        """Score a frame; a hit above threshold outside the refractory period fires."""
        hit = self.best_hit(self.scores(frame))
        if hit is None or t_audio_ms - self._last_fire_ms < self.refractory_ms:
            return None
        self._last_fire_ms = t_audio_ms
        return WakeHit(*hit)
