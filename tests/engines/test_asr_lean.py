"""Lean decoding: guards as pure logic, and accuracy against the full-window decode."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from hearthvox.audio.wavio import load_wav
from hearthvox.engines import Engines
from hearthvox.engines.asr_guard import (
    BATCH_GUARD,
    LIVE_GUARD,
    cut_loop,
    judge,
    one_unit_repeated,
    repeated_run,
    token_budget,
)
from hearthvox.evaluation.wer import word_error_rate

OPTS = LIVE_GUARD


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


def test_a_short_token_repeated_is_a_loop() -> None:
    assert repeated_run("0. 0. 0. 0. 0") == "0"
    assert repeated_run("Nine, nine, nine, nine") == "nine"
    assert repeated_run("two six two six two six") == "two six"
    for text in ["no no", "1111", "four four one eight", "268-4418", "Pittsburgh."]:
        assert repeated_run(text) is None, text


def test_a_text_of_one_unit_said_over_and_over_gives_the_unit() -> None:
    assert one_unit_repeated("Stop Stop Stop Stop") == "Stop"
    assert one_unit_repeated(" Yes. Yes.") == "Yes."
    assert one_unit_repeated("repeat repeat repeat rep") == "repeat"  # the last copy cut
    assert one_unit_repeated("two six two six two") == "two six"
    for text in ["Stop", "size 5, 3, 5, 5, 5", "stop stop go", "what time is it", ""]:
        assert one_unit_repeated(text) is None, text


def test_both_decoders_send_a_short_repetition_to_the_full_window() -> None:
    for guard in (LIVE_GUARD, BATCH_GUARD):
        budget = token_budget(1.0, guard)
        # "0. 0. 0" reads as a restarted sentence, but a one-word unit is never trusted
        verdict = judge("0. 0. 0. 0. 0", 10, budget, -0.3, 1.0, guard)
        assert verdict.fallback == "repetition", guard
        verdict = judge("9. 9. 9", 6, budget, -0.3, 1.0, guard)
        assert verdict.fallback == "repetition", guard
        # a whole sentence said again is cut to one copy and kept
        cut = judge("The birch canoe slid. The birch canoe", 9, budget, -0.2, 1.5, guard)
        assert cut.fallback is None and cut.loop_cut and cut.text == "The birch canoe slid."


def test_a_copy_cut_inside_its_last_word_is_still_a_loop() -> None:
    cut = cut_loop("Enter 624. Enter 624. Enter 6")
    assert cut is not None and cut.clean and cut.text == "Enter 624."
    # two words said again are too few to trust the first copy: the full window decides
    assert judge("Enter 624. Enter 624. Enter 6", 12, 19, -0.2, 1.7, OPTS).fallback == "repetition"


def test_a_text_that_stops_on_a_joiner_is_truncated() -> None:
    assert judge("P-I-T-T-S-B-U-R-G-", 20, 35, -0.2, 4.5, OPTS).fallback == "truncated"
    assert judge("P-I-T-T-S-B-U-R-G-H.", 21, 35, -0.2, 4.5, OPTS).fallback is None


def test_thresholds_differ_by_configuration() -> None:
    assert token_budget(3.0, BATCH_GUARD) > token_budget(3.0, LIVE_GUARD)
    strict = replace(LIVE_GUARD, repeat_times=2)
    assert judge("no no", 2, 20, -0.1, 1.0, strict).fallback == "repetition"
    assert judge("no no", 2, 20, -0.1, 1.0, LIVE_GUARD).fallback is None


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
        guard = replace(saved.guard, tokens_per_s=0.0, min_tokens=2)  # a budget no sentence fits
        asr.lean = replace(saved, guard=guard)
        result = asr.transcribe(audio)
    finally:
        asr.lean = saved
    assert result.decode == "full" and result.fallback == "token_budget"
    assert word_error_rate([("the child almost hurt the small dog", result.text)]) <= 0.15


def test_silence_decodes_to_little_or_nothing(engines: Engines) -> None:
    result = engines.asr.transcribe(np.zeros(16000, dtype=np.int16))
    assert len(result.text.split()) <= 2, result
