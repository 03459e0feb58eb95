"""Speech for the eval set from the packaged Piper voice, synthesised once and cached.

Piper's synthesis is not bit-identical from run to run (its graph draws noise), so
each utterance (voice sha256, text, length scale) is synthesised once and kept
under the cache directory; every later build of the eval set reads it back.
The voice is always the default bundle's (from the installed packages), never the
bundle under test: two bundles are compared on the same audio.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hearthvox.audio.resample import resample_int16
from hearthvox.engines.tts import PiperTts
from hearthvox.events import Int16Array

RATE_HZ = 16000


class Synthesiser:
    """``speak(text, length_scale)``: 16 kHz int16 audio, from the cache or from Piper."""

    def __init__(self, cache_dir: Path, on_synth: Callable[[str], None] | None = None) -> None:
        from hearthvox.bundles.default import default_model_paths

        self._paths = default_model_paths()
        tts = self._paths.artifacts["tts"]
        self.voice_sha256 = next(f.sha256 for f in tts.files if f.name.endswith(".onnx"))
        self.cache_dir = cache_dir / "tts"
        self._tts: PiperTts | None = None
        self._on_synth = on_synth
        self.synthesised = 0

    def _path(self, text: str, length_scale: float) -> Path:
        key = hashlib.sha256(f"{self.voice_sha256}\x1f{length_scale!r}\x1f{text}".encode())
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
        if self._tts is None:
            self._tts = PiperTts(self._paths.tts_model, self._paths.tts_config, threads=1)
        audio = np.concatenate(list(self._tts.sentences(text, length_scale)))
        audio = resample_int16(audio, self._tts.rate_hz, RATE_HZ)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.npy")
        np.save(tmp, audio, allow_pickle=False)
        os.replace(tmp, path)
        self.synthesised += 1
        return audio
