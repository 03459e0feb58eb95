"""Silero VAD on the labelled recording, and the endpointer's rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hearthvox.audio.wavio import load_wav
from hearthvox.config import EndpointConfig
from hearthvox.engines import Engines
from hearthvox.engines.endpoint import Endpointer
from hearthvox.engines.vad import speech_segments

# From corpus.csv: speech 0.38-2.00, 2.00-2.70 (adjacent: one run), 4.10-5.88; silence 6.00-8.00
LABELLED_SPEECH = [(0.38, 2.70), (4.10, 5.88)]
LABELLED_SILENCE = (6.00, 8.00)


def test_vad_finds_labelled_segments_within_150_ms(engines: Engines, corpus_dir: Path) -> None:
    audio = load_wav(corpus_dir / "vad_valid.wav")
    engines.vad.reset()
    probs: list[float] = []
    for i in range(0, len(audio.samples), 1280):  # fed in 80 ms chunks, as the pipeline does
        probs.extend(engines.vad.feed(audio.samples[i : i + 1280]))
    found = speech_segments(probs, 0.5, engines.vad.frame_ms)
    for start, end in LABELLED_SPEECH:
        match = [s for s in found if s[0] < end and s[1] > start]
        assert len(match) == 1, f"segment {start}-{end}: found {found}"
        assert abs(match[0][0] - start) <= 0.15 and abs(match[0][1] - end) <= 0.15, found
    quiet_start, quiet_end = LABELLED_SILENCE
    assert not [s for s in found if s[0] < quiet_end and s[1] > quiet_start], found


def test_vad_state_carries_across_frames(engines: Engines, corpus_dir: Path) -> None:
    audio = load_wav(corpus_dir / "vad_valid.wav").samples[: 16000 * 3]
    engines.vad.reset()
    whole = engines.vad.feed(audio)
    engines.vad.reset()
    pieces: list[float] = []
    for i in range(0, len(audio), 333):  # odd chunk sizes: frames are cut inside
        pieces.extend(engines.vad.feed(audio[i : i + 333]))
    assert np.allclose(whole, pieces[: len(whole)], atol=1e-5)


def _run(ep: Endpointer, voiced: list[bool], frame_ms: float = 32.0) -> list[tuple[str, float]]:
    out = []
    for i, v in enumerate(voiced):
        b = ep.push(0.9 if v else 0.1, i * frame_ms)
        if b is not None:
            out.append((b.kind, b.t_ms))
    return out


def test_endpointer_start_hangover_and_timeout() -> None:
    cfg = EndpointConfig(
        speech_start_ms=96, hangover_ms=320, no_speech_timeout_s=1.0, adaptive=False
    )
    ep = Endpointer(cfg, 0.5, 32.0)
    ep.arm(0.0, cfg.no_speech_timeout_s)
    # 2 voiced frames (64 ms) are not speech; then 20 voiced frames and silence
    events = _run(ep, [True, True] + [False] * 12 + [True] * 20 + [False] * 20)
    assert events == [("start", 14 * 32.0), ("end", 34 * 32.0)]
    ep.arm(0.0, cfg.no_speech_timeout_s)
    assert _run(ep, [False] * 40) == [("timeout", 32 * 32.0)]


def test_endpointer_cuts_at_max_length() -> None:
    cfg = EndpointConfig(max_utterance_s=1.0, adaptive=False)
    ep = Endpointer(cfg, 0.5, 32.0)
    ep.arm(0.0, 5.0)
    events = _run(ep, [True] * 100)
    assert events[0] == ("start", 0.0)
    assert events[1][0] == "end" and events[1][1] == 32 * 32.0


def test_endpointer_ignores_wake_phrase_tail() -> None:
    cfg = EndpointConfig(speech_start_ms=96, hangover_ms=320, adaptive=False)
    ep = Endpointer(cfg, 0.5, 32.0)
    ep.arm(0.0, 5.0, settle_ms=400)
    # the tail of the wake phrase (5 frames), a pause, then the command
    events = _run(ep, [True] * 5 + [False] * 5 + [True] * 10 + [False] * 12)
    assert events == [("start", 10 * 32.0), ("end", 20 * 32.0)]
