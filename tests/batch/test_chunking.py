"""VAD chunking on real recordings."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hearthvox.batch.chunking import ChunkOptions, VadScorer, plan_chunks
from hearthvox.batch.decode import load_audio
from hearthvox.bundles.default import ModelPaths


def test_chunks_cover_the_labelled_speech_and_skip_the_silence(
    corpus_dir: Path, model_paths: ModelPaths
) -> None:
    audio = load_audio(corpus_dir / "vad_valid.wav")
    vad = VadScorer(model_paths.vad)
    chunks = plan_chunks(vad.probs(audio), len(audio), ChunkOptions())
    spans = [(c.start / 16000, c.end / 16000) for c in chunks]
    for start, end in [(0.38, 2.00), (2.00, 2.70), (4.10, 5.88)]:  # labelled speech
        assert any(a <= start + 0.1 and end - 0.1 <= b for a, b in spans), spans
    assert not any(a >= 6.0 and b <= 8.0 for a, b in spans), spans  # labelled silence


def test_long_speech_is_cut_into_chunks_no_longer_than_the_limit(
    corpus_dir: Path, model_paths: ModelPaths
) -> None:
    sentence = load_audio(corpus_dir / "LDC93S1.wav")
    audio = np.concatenate([sentence] * 20)  # about a minute with no real pause
    opts = ChunkOptions(max_chunk_s=8.0)
    chunks = plan_chunks(VadScorer(model_paths.vad).probs(audio), len(audio), opts)
    assert len(chunks) >= 7
    assert all(c.duration_s <= 8.0 for c in chunks)
    assert all(a.end <= b.start for a, b in zip(chunks, chunks[1:], strict=False))
    covered = sum(c.end - c.start for c in chunks)
    assert covered >= 0.8 * len(audio)


def test_silence_and_empty_audio_give_no_chunks(model_paths: ModelPaths) -> None:
    vad = VadScorer(model_paths.vad)
    assert plan_chunks(vad.probs(np.zeros(16000 * 3, np.int16)), 48000, ChunkOptions()) == []
    assert plan_chunks(vad.probs(np.zeros(0, np.int16)), 0, ChunkOptions()) == []
