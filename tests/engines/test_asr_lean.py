"""Lean decoding: guards as pure logic, and accuracy against the full-window decode."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from hearthvox.audio.wavio import load_wav
from hearthvox.engines import Engines
from hearthvox.engines.asr_guard import LeanOptions, cut_loop, judge, token_budget
from hearthvox.evaluation.wer import word_error_rate

OPTS = LeanOptions()


def test_a_restarted_sentence_is_cut_cleanly() -> None:
    cut = cut_loop("At that high level, the air is pure. At that high")
    assert cut is not None and cut.clean
    assert cut.text == "At that high level, the air is pure."
    cut = cut_loop("The birch canoe slid. the birch canoe slid.")
    assert cut is not None and cut.clean and cut.text == "The birch canoe slid."


def test_a_loop_inside_a_sentence_is_found_but_not_trusted() -> None:
    cut = cut_loop("mend the coat before you go out before you go out before you go out before")
    assert cut is not None and not cut.clean
    assert cut.text == "mend the coat before you go out"


def test_ordinary_text_has_no_loop() -> None:
    for text in ["what time is it", "set a timer for ten minutes", "no no", "hello hello there"]:
        assert cut_loop(text) is None, text


def test_judge_falls_back_when_a_guard_trips() -> None:
    budget = token_budget(2.0, OPTS)
    assert budget == OPTS.min_tokens + 12
    keep = judge("What time is it?", 6, budget, -0.2, 2.0, OPTS)
    assert keep.fallback is None and keep.text == "What time is it?"
    assert judge("set a timer", budget, budget, -0.2, 2.0, OPTS).fallback == "token_budget"
    assert judge("", 0, budget, -0.2, 2.0, OPTS).fallback == "empty"
    assert judge("what time is it", 5, budget, -1.6, 2.0, OPTS).fallback == "low_confidence"
    loop = judge("go out before you go out before you go out", 12, budget, -0.1, 2.0, OPTS)
    assert loop.fallback == "repetition"
    many = judge(" ".join(f"w{i}" for i in range(20)), 20, 40, -0.1, 1.0, OPTS)
    assert many.fallback == "too_many_words"


def _corpus_speech(corpus_dir: Path, corpus_rows: list[dict[str, str]]) -> list[tuple[str, Path]]:
    return [(r["transcript"], corpus_dir / r["file"]) for r in corpus_rows if r["kind"] == "speech"]


def test_lean_wer_is_within_one_point_of_the_full_window(
    engines: Engines, corpus_dir: Path, corpus_rows: list[dict[str, str]]
) -> None:
    asr = engines.asr
    assert asr.decode == "lean"
    lean, full, paths = [], [], []
    for truth, path in _corpus_speech(corpus_dir, corpus_rows):
        audio = load_wav(path).samples
        result = asr.transcribe(audio)
        paths.append(result.decode)
        lean.append((truth, result.text))
        full.append((truth, asr.transcribe_full(audio).text))
    assert len(lean) >= 8
    lean_wer, full_wer = word_error_rate(lean), word_error_rate(full)
    assert lean_wer <= full_wer + 0.01, (lean_wer, full_wer, lean, full)
    # the lean path really served (a fallback on every file would prove nothing)
    assert paths.count("full") <= 1, paths


def test_a_tripped_guard_falls_back_to_the_full_window(engines: Engines, corpus_dir: Path) -> None:
    asr = engines.asr
    audio = load_wav(corpus_dir / "spk1_snt1.wav").samples
    saved = asr.lean
    try:
        asr.lean = replace(saved, tokens_per_s=0.0, min_tokens=2)  # a budget no sentence fits
        result = asr.transcribe(audio)
    finally:
        asr.lean = saved
    assert result.decode == "full" and result.fallback == "token_budget"
    assert word_error_rate([("the child almost hurt the small dog", result.text)]) <= 0.15


def test_silence_decodes_to_little_or_nothing(engines: Engines) -> None:
    result = engines.asr.transcribe(np.zeros(16000, dtype=np.int16))
    assert len(result.text.split()) <= 2, result
