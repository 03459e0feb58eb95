"""Biasing towards a vocabulary: the prompt and the correction after decoding."""

from __future__ import annotations

import numpy as np
import pytest

from hearthvox.bundles.default import default_model_paths
from hearthvox.config import AsrConfig
from hearthvox.engines import Engines
from hearthvox.engines.asr import BiasOptions, WhisperAsr
from hearthvox.engines.biasing import (
    CORRECT_THRESHOLD,
    PROMPT_TOKENS,
    SUSPECT,
    correct,
    prefer_second,
    prompt_text,
    prompt_tokens,
    suspect,
    whole_token_words,
)
from hearthvox.evaluation.synth import Synthesiser
from hearthvox.vocabulary import Term, Vocabulary, parse_vocabulary
from tests.conftest import silence

LIST = parse_vocabulary(
    "Zbigniew\nXJ-4471\nSiobhan = shiv awn\nQZ-209\nKV-8813\nPriyanka\nNguyen = win\nBR-50\n"
    "Oluwaseun = oh loo wah shay oon\nAoife = ee fa\nZoltan\nIngrid\nWojciech = voy chek\n",
    "test",
)


@pytest.fixture(scope="module")
def known(engines: Engines):  # type: ignore[no-untyped-def]
    return whole_token_words(engines.asr._tokenizer)


@pytest.mark.parametrize(
    ("heard", "fixed"),
    [
        ("Set a timer called Z-Bagnue.", "Set a timer called Zbigniew."),
        ("Or part XJ4471.", "Or part XJ-4471."),
        ("Order part XJ 4 4 7 1.", "Order part XJ-4471."),
        ("At QZ209 to my basket.", "At QZ-209 to my basket."),
        ("Send part KB8813 to the workshop.", "Send part KV-8813 to the workshop."),  # one letter
        ("Play the playlist called pre-ancha.", "Play the playlist called Priyanka."),
        ("Book a table at Newyans for 2.", "Book a table at Nguyen for 2."),
        ("Remind me to email Oluwasun tomorrow", "Remind me to email Oluwaseun tomorrow"),
    ],
)
def test_close_spellings_become_the_listed_term(heard: str, fixed: str, known) -> None:  # type: ignore[no-untyped-def]
    result = correct(heard, LIST, 0.75, known)
    assert result.text == fixed
    assert len(result.terms) == 1


@pytest.mark.parametrize(
    "heard",
    [
        "I played a prank on my friend.",  # a real word, and much shorter than Priyanka
        "Text if that I am running late.",  # "if" is not Aoife
        "Turn off the lights in the kitchen.",
        "Set a timer for five minutes.",
        "Send part KB8814 to the workshop.",  # a digit off: another code
        "Order part XJ-4471 now.",  # already right
        "Call my mother tomorrow morning.",
    ],
)
def test_ordinary_words_and_other_codes_stay(heard: str, known) -> None:  # type: ignore[no-untyped-def]
    assert correct(heard, LIST, 0.75, known).text == heard


def test_no_vocabulary_or_threshold_zero_changes_nothing() -> None:
    assert correct("Z-Bagnue", Vocabulary(), 0.8).text == "Z-Bagnue"
    assert correct("Z-Bagnue", LIST, 0.0).text == "Z-Bagnue"


def test_the_prompt_holds_whole_terms_up_to_its_token_budget(engines: Engines) -> None:
    tok = engines.asr._tokenizer
    many = Vocabulary(tuple(Term(f"Name{i}x{i * 7}") for i in range(300)))
    text = prompt_text(many, tok)
    assert text is not None
    assert len(tok.encode(" " + text)) <= PROMPT_TOKENS
    kept = text.split(", ")
    assert kept == [f"Name{i}x{i * 7}" for i in range(len(kept))]
    tokens = prompt_tokens(many, tok)
    assert tokens[0] == tok.sot_prev and len(tokens) <= PROMPT_TOKENS + 1
    assert prompt_text(Vocabulary(), tok) is None and prompt_tokens(Vocabulary(), tok) == []


SAID = [
    ("Set a timer called Zbigniew.", "Zbigniew"),
    ("Call Zbigniew tomorrow.", "Zbigniew"),
    ("Remind Zbigniew about the meeting.", "Zbigniew"),
    ("Play the playlist called Priyanka.", "Priyanka"),
    ("Order part XJ-4471.", "XJ-4471"),
    ("Book a table at Nguyen for two.", "Nguyen"),
    ("Send a message to Siobhan.", "Siobhan"),
    ("Set a timer called Zoltan.", "Zoltan"),
]
"""Requests with a listed term, each said by the noiseless voice at two speeds (16)."""
LISTED_AT_LEAST = 11
"""Measured: the listed term in 13 of 16 with CT2_FORCE_CPU_ISA=AVX512 and 14 with
GENERIC (21 and 20 of 24 with a third speed); tiny.en alone: 0 of 16 under both."""


def test_the_live_decoder_hears_listed_names(
    engines: Engines, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tiny.en alone spells the names otherwise; with the user's list most become the
    listed term, and a request's own list does exactly the same for that request only."""
    # the shared engines may carry the skills' words from a test that started a runtime
    # on them; the comparison is with the user's list alone
    monkeypatch.setattr(engines.asr, "skill_vocabulary", Vocabulary())
    voice = Synthesiser(tmp_path_factory.mktemp("voice"))
    listed = WhisperAsr(default_model_paths().asr_dir, threads=1, bias=BiasOptions(vocabulary=LIST))
    alone_hits = listed_hits = 0
    for text, term in SAID:
        for speed in (1.0, 1.1):
            audio = np.concatenate([silence(0.5), voice.speak(text, speed), silence(0.5)])
            alone = engines.asr.transcribe(audio).text
            result = listed.transcribe(audio)
            alone_hits += term in alone
            listed_hits += term in result.text
            assert result.corrected <= 1
            assert engines.asr.transcribe(audio, vocabulary=LIST).text == result.text
            assert engines.asr.transcribe(audio).text == alone  # for that request only
    assert alone_hits <= 2
    assert listed_hits >= LISTED_AT_LEAST


def test_the_config_default_is_the_tuned_threshold() -> None:
    assert AsrConfig().correct_threshold == CORRECT_THRESHOLD


@pytest.mark.parametrize(
    ("heard", "is_suspect"),
    [
        ("Find a table at wad such as tonight.", True),  # near Wojciech
        ("Chip part are X 9 0 5 2 today.", True),  # a spelled code that is not listed
        ("Order part XJ-4471.", False),  # listed and right
        ("Set a timer for five minutes.", False),
        ("That's it.", False),
        ("9.", False),
    ],
)
def test_a_near_miss_or_an_unlisted_code_is_a_suspect(heard: str, is_suspect: bool, known) -> None:  # type: ignore[no-untyped-def]
    assert suspect(heard, LIST, SUSPECT, known) is is_suspect


def test_the_prompted_text_wins_only_with_more_terms_and_as_much_text() -> None:
    assert prefer_second("Ship part are X 9 0 5 2 today.", "Ship part XJ-4471 today.", LIST)
    assert not prefer_second("Ship part today.", "Ship part today.", LIST)  # no more terms
    assert not prefer_second("six", "Zbigniew", LIST)  # a name for a short word: too long
    assert not prefer_second(
        "Please call my sister tomorrow morning about the dinner.", "Zbigniew.", LIST
    )
