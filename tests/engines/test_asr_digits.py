"""Digit words: a short, unsure text is scored against the ten digit words.

tiny.en hears a lone spoken digit as a word ("seven" as "Kevin.", "four" as
"Cool."); its own token probabilities on the same audio prefer the digit. The
quality checks use every short command word and two speakers' digits of
``speech.csv``, with ranges measured under two CPU instruction sets.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hearthvox.audio.wavio import load_wav
from hearthvox.batch.floorbench import exact_key
from hearthvox.engines import Engines
from hearthvox.engines.asr import DIGIT_MAX_S, BiasOptions, WhisperAsr, digit_candidate

DIGITS = set("zero one two three four five six seven eight nine".split())
SPEAKERS = ("fsdd_jackson", "fsdd_yweweler")
MIN_DIGITS_EXACT = 31
"""Of these two speakers' 40 digits: 36 exact with digit words under AVX-512 and AVX2,
35 under GENERIC (``CT2_FORCE_CPU_ISA``); 28-29 without them."""
SCORED = "seven (scored)"
MAX_COMMANDS_AS_DIGITS = 1
"""Short command words that came out as a digit: 0 measured (every ISA)."""


@pytest.fixture(scope="module")
def short_rows(corpus_dir: Path) -> list[dict[str, str]]:
    with (corpus_dir / "speech.csv").open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["kind"] in ("command", "alphanumeric")]
    return [r for r in rows if float(r["duration_s"]) <= DIGIT_MAX_S]


def _heard(asr: WhisperAsr, corpus_dir: Path, row: dict[str, str]) -> str:
    return asr.transcribe(load_wav(corpus_dir / row["file"]).samples).text


def _asr(engines: Engines) -> WhisperAsr:
    assert isinstance(engines.asr, WhisperAsr)
    return engines.asr


def test_which_texts_are_scored() -> None:
    assert digit_candidate("Kevin.")
    assert digit_candidate("That's it.")
    assert not digit_candidate("")
    assert not digit_candidate("7.")
    assert not digit_candidate("Seven.")
    assert not digit_candidate("set a timer")


def test_lone_digits_are_heard_as_digits(
    engines: Engines, corpus_dir: Path, short_rows: list[dict[str, str]]
) -> None:
    asr = _asr(engines)
    rows = [r for r in short_rows if r["speaker_id"] in SPEAKERS]
    assert len(rows) == 40
    pairs = [(r["transcript"], _heard(asr, corpus_dir, r)) for r in rows]
    exact = sum(exact_key(ref) == exact_key(hyp) for ref, hyp in pairs)
    assert exact >= MIN_DIGITS_EXACT, pairs


def test_command_words_do_not_become_digits(
    engines: Engines, corpus_dir: Path, short_rows: list[dict[str, str]]
) -> None:
    asr = _asr(engines)
    rows = [r for r in short_rows if r["kind"] == "command"]
    assert len(rows) >= 40
    heard = [(r["transcript"], _heard(asr, corpus_dir, r)) for r in rows]
    digits = [
        (ref, hyp)
        for ref, hyp in heard
        if any(c.isdigit() for c in hyp) or DIGITS & set(exact_key(hyp).split())
    ]
    assert len(digits) <= MAX_COMMANDS_AS_DIGITS, digits


def test_scoring_runs_only_where_asked(
    engines: Engines,
    corpus_dir: Path,
    short_rows: list[dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asr = _asr(engines)
    calls: list[str] = []

    def scored(self: WhisperAsr, encoded: Any, frames: int, text: str) -> str:
        calls.append(text)
        assert encoded.shape[0] == 1 and frames > 0
        return SCORED

    monkeypatch.setattr(WhisperAsr, "_digit_word", scored)
    # longer audio never is; a switched-off setting never is
    long_row = next(r for r in short_rows if r["speaker_id"] == "fsdd_jackson")
    audio = load_wav(corpus_dir / long_row["file"]).samples
    asr.transcribe(np.concatenate([audio] * 4))
    off = asr.retuned(
        beam_size=asr.beam_size,
        decode=asr.decode,
        bias=BiasOptions(digits=False),
        cascade=asr.cascade,
    )
    digits = [r for r in short_rows if r["speaker_id"] in SPEAKERS]
    for row in digits[:12]:
        off.transcribe(load_wav(corpus_dir / row["file"]).samples)
    assert calls == []
    # on: an unsure short text is scored, and the digit is what comes back
    results = [asr.transcribe(load_wav(corpus_dir / r["file"]).samples) for r in digits]
    taken = [res for res in results if res.text == SCORED]
    assert calls and len(taken) == len(calls)
    assert all(res.fallback == "low_confidence" for res in taken)
