"""Speech recognition: Whisper tiny.en on CTranslate2 through faster-whisper."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hearthvox.errors import EngineError, ModelError
from hearthvox.events import Int16Array

RATE_HZ = 16000


@dataclass(frozen=True)
class AsrResult:
    text: str
    audio_duration_s: float


class WhisperAsr:
    """Loaded once; ``transcribe`` is blocking: call it off the event loop."""

    def __init__(
        self,
        model_dir: Path,
        *,
        device: str = "cpu",
        compute_type: str = "int8",
        threads: int = 2,
        beam_size: int = 1,
        language: str = "en",
    ) -> None:
        from faster_whisper import WhisperModel

        self.beam_size = beam_size
        self.language = language
        self.device = device
        self.compute_type = compute_type
        try:
            self._model: Any = WhisperModel(
                str(model_dir), device=device, compute_type=compute_type, cpu_threads=threads
            )
        except Exception as exc:  # CTranslate2 raises RuntimeError/ValueError variously
            raise ModelError(f"cannot load the ASR model from {model_dir}: {exc}") from exc

    def transcribe(self, audio: Int16Array) -> AsrResult:
        """Transcribe mono 16 kHz audio; returns the text stripped of edge spaces."""
        duration_s = len(audio) / RATE_HZ
        if len(audio) == 0:
            return AsrResult("", 0.0)
        try:
            segments, _info = self._model.transcribe(
                audio.astype(np.float32) / 32768.0,
                language=self.language,
                beam_size=self.beam_size,
                without_timestamps=True,
                condition_on_previous_text=False,
                vad_filter=False,
            )
            text = " ".join(seg.text.strip() for seg in segments)
        except Exception as exc:  # any failure in decoding is this turn's error
            raise EngineError(f"transcription failed: {exc}") from exc
        return AsrResult(text.strip(), duration_s)
