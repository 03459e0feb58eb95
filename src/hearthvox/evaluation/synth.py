"""Speech for the eval set from the packaged Piper voice, synthesised once and cached.

Piper's graph draws noise (phoneme durations and the waveform), so the eval's voice
runs with both noise scales at zero: the same text gives the same samples in every
process, and so the same set digest on every run. Each utterance (voice sha256,
text, length scale) is also synthesised once and kept under the cache directory;
every later build of the eval set reads it back.
The voice is always the default bundle's (from the installed packages), never the
bundle under test: two bundles are compared on the same audio.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from hearthvox.audio.resample import resample_int16
from hearthvox.errors import ModelError
from hearthvox.events import Int16Array

RATE_HZ = 16000
SYNTH_VERSION = 2
"""Part of every cached utterance's key: 2 is the noiseless voice."""


class Synthesiser:
    """``speak(text, length_scale)``: 16 kHz int16 audio, from the cache or from Piper."""

    def __init__(self, cache_dir: Path, on_synth: Callable[[str], None] | None = None) -> None:
        from hearthvox.bundles.default import default_model_paths

        self._paths = default_model_paths()
        tts = self._paths.artifacts["tts"]
        self.voice_sha256 = next(f.sha256 for f in tts.files if f.name.endswith(".onnx"))
        self.cache_dir = cache_dir / "tts"
        self._voice: Any = None
        self._on_synth = on_synth
        self.synthesised = 0

    def _path(self, text: str, length_scale: float) -> Path:
        parts = (SYNTH_VERSION, self.voice_sha256, repr(length_scale), text)
        key = hashlib.sha256("\x1f".join(map(str, parts)).encode())
        return self.cache_dir / f"{key.hexdigest()[:32]}.npy"

    def speak(self, text: str, length_scale: float = 1.0) -> Int16Array:
        path = self._path(text, length_scale)
        if path.is_file():
            try:
                return np.asarray(np.load(path, allow_pickle=False), dtype=np.int16)
            except (OSError, ValueError):
                path.unlink(missing_ok=True)  # a damaged cache file: synthesise again
        if self._on_synth is not None:
            self._on_synth(text)
        audio = resample_int16(*self._synthesise(text, length_scale), RATE_HZ)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.npy")
        np.save(tmp, audio, allow_pickle=False)
        os.replace(tmp, path)
        self.synthesised += 1
        return audio

    def _synthesise(self, text: str, length_scale: float) -> tuple[Int16Array, int]:
        """Piper with no noise: (samples, rate); one thread, so the sums run in one order."""
        from piper import PiperVoice, SynthesisConfig
        from piper.config import PiperConfig

        from hearthvox.engines._onnx import cpu_session

        if self._voice is None:
            try:
                raw = json.loads(self._paths.tts_config.read_text(encoding="utf-8"))
                cfg = PiperConfig.from_dict(raw)
            except (OSError, ValueError, KeyError) as exc:
                raise ModelError(f"cannot read the voice config: {exc}") from exc
            session = cpu_session(self._paths.tts_model, 1)
            self._voice = (PiperVoice(session=session, config=cfg), int(cfg.sample_rate))
        voice, rate = self._voice
        syn = SynthesisConfig(length_scale=length_scale, noise_scale=0.0, noise_w_scale=0.0)
        chunks = [c.audio_int16_array for c in voice.synthesize(text, syn)]
        return np.concatenate(chunks).astype(np.int16), rate
