"""Speech recognition on every real recording of the corpus."""

from __future__ import annotations

from pathlib import Path

from hearthvox.audio.wavio import load_wav
from hearthvox.engines import Engines
from hearthvox.evaluation.wer import normalize, word_error_rate


def test_wer_over_corpus_speech_is_at_most_15_percent(
    engines: Engines, corpus_dir: Path, corpus_rows: list[dict[str, str]]
) -> None:
    pairs = []
    for row in corpus_rows:
        if row["kind"] != "speech":
            continue
        audio = load_wav(corpus_dir / row["file"])
        pairs.append((row["transcript"], engines.asr.transcribe(audio.samples).text))
    assert len(pairs) >= 8
    wer = word_error_rate(pairs)
    assert wer <= 0.15, f"WER {wer:.1%}: {pairs}"


def test_empty_audio_gives_empty_text(engines: Engines) -> None:
    import numpy as np

    assert engines.asr.transcribe(np.zeros(0, dtype=np.int16)).text == ""


def test_normaliser_handles_case_punctuation_and_numbers() -> None:
    assert normalize("It's 5 o'clock, Mr. Smith!") == "it is 5 oclock mister smith".split()
    assert word_error_rate([("set a timer for five minutes", "Set a timer for 5 minutes.")]) == 0
    assert word_error_rate([("a b c d", "a x c")]) == 0.5
