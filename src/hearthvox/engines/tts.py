"""Speech synthesis: a Piper (VITS) voice on ONNX Runtime.

``sentences`` is Piper's own way (one chunk per sentence); ``stream`` is the
fast one: the first clause alone first, then the rest, synthesised ahead while
the caller plays (see :mod:`hearthvox.engines.tts_chunks`).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from hearthvox.engines._onnx import cpu_session
from hearthvox.engines.executor import EngineExecutor
from hearthvox.engines.tts_chunks import ChunkOptions, Prefetch, speech_chunks
from hearthvox.errors import EngineError, ModelError
from hearthvox.events import Int16Array


class PiperTts:
    """Loaded once; ``sentences`` is blocking: iterate it off the event loop."""

    def __init__(
        self,
        model: Path,
        config: Path,
        *,
        length_scale: float = 1.0,
        threads: int = 1,
        first_clause: bool = True,
    ) -> None:
        from piper import PiperVoice, SynthesisConfig
        from piper.config import PiperConfig

        try:
            cfg = PiperConfig.from_dict(json.loads(config.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"cannot read the voice config {config}: {exc}") from exc
        # no memory arena: it grew in steps with the sentences synthesised (170 -> 344
        # MiB over sixteen replies, the ramp of the soak's first hour) and saved ~10 ms
        # of the first chunk; without it RSS stays flat (docs/performance.md)
        session = cpu_session(model, threads)
        self._voice: Any = PiperVoice(session=session, config=cfg)
        self._syn = SynthesisConfig(length_scale=length_scale)
        self.rate_hz: int = int(cfg.sample_rate)
        self.chunking = ChunkOptions(first_clause=first_clause)
        self.executor = EngineExecutor("tts")
        """The voice's own thread: every synthesis of :meth:`stream` runs there."""

    def retuned(self, *, length_scale: float, first_clause: bool) -> PiperTts:
        """The same loaded voice with another speed and first-clause chunking."""
        from piper import SynthesisConfig

        other = copy.copy(self)
        other._syn = SynthesisConfig(length_scale=length_scale)
        other.chunking = ChunkOptions(first_clause=first_clause)
        return other

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

    def stream(self, text: str, length_scale: float | None = None) -> Prefetch[Int16Array]:
        """Yield ``text`` as audio chunks: the first clause alone, then the rest of the
        first sentence, then one chunk per sentence; each is synthesised on the voice's
        thread (:attr:`executor`), the next while the caller plays the current one.
        ``close()`` stops it. Phonemising runs on the calling thread: call it there."""
        from piper import SynthesisConfig

        syn = self._syn if length_scale is None else SynthesisConfig(length_scale=length_scale)
        try:
            sentences: list[list[str]] = self._voice.phonemize(text)
        except Exception as exc:  # espeak-ng failure
            raise EngineError(f"speech synthesis failed: {exc}") from exc

        def synth(phonemes: list[str]) -> Int16Array:
            try:
                ids = self._voice.phonemes_to_ids(phonemes)
                audio = np.asarray(self._voice.phoneme_ids_to_audio(ids, syn), dtype=np.float32)
            except Exception as exc:  # onnxruntime failure
                raise EngineError(f"speech synthesis failed: {exc}") from exc
            peak = float(np.max(np.abs(audio))) if audio.size else 0.0
            if peak > 1e-8:  # Piper's normalize_audio, per chunk as Piper does per sentence
                audio = audio / peak
            return (np.clip(audio, -1.0, 1.0) * 32767.0).astype(np.int16)

        return Prefetch(synth, speech_chunks(sentences, self.chunking), self.executor)
