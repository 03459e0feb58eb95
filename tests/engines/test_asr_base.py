"""The second ASR model, Whisper base (multilingual), loads from the store at int8 on the
CPU and transcribes a real recording (one load for the module)."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from hearthvox.bundles.optional import second_asr_dir
from hearthvox.engines.asr import WhisperAsr


def test_whisper_base_transcribes_a_corpus_recording(corpus_dir: Path) -> None:
    asr = WhisperAsr(second_asr_dir(), compute_type="int8", threads=2, language="en")
    with wave.open(str(corpus_dir / "spk1_snt1.wav")) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        audio = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    result = asr.transcribe(audio)
    words = result.text.lower().strip(".").split()
    assert words == "the child almost hurt the small dog".split(), result.text
