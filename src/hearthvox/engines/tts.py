"""Speech synthesis: a Piper (VITS) voice on ONNX Runtime, one chunk per sentence."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hearthvox.engines._onnx import cpu_session
from hearthvox.errors import EngineError, ModelError
from hearthvox.events import Int16Array


class PiperTts:
    """Loaded once; ``sentences`` is blocking: iterate it off the event loop."""

    def __init__(
        self, model: Path, config: Path, *, length_scale: float = 1.0, threads: int = 1
    ) -> None:
        from piper import PiperVoice, SynthesisConfig
        from piper.config import PiperConfig

        try:
            cfg = PiperConfig.from_dict(json.loads(config.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"cannot read the voice config {config}: {exc}") from exc
        self._voice: Any = PiperVoice(session=cpu_session(model, threads), config=cfg)
        self._syn = SynthesisConfig(length_scale=length_scale)
        self.rate_hz: int = int(cfg.sample_rate)

    def sentences(self, text: str, length_scale: float | None = None) -> Iterator[Int16Array]:
        """Yield the audio of each sentence of ``text`` as soon as it is synthesised."""
        syn = self._syn
        if length_scale is not None:
            from piper import SynthesisConfig

            syn = SynthesisConfig(length_scale=length_scale)
        try:
            for chunk in self._voice.synthesize(text, syn):
                yield chunk.audio_int16_array
        except Exception as exc:  # phonemiser or onnxruntime failure
            raise EngineError(f"speech synthesis failed: {exc}") from exc
