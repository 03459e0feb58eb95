"""The normaliser: Whisper's English normaliser, then codes, spelled letters and digit
strings; exact letters and digits; entity matching."""

from __future__ import annotations

import pytest

from hearthvox.evaluation.metrics import slice_metrics
from hearthvox.evaluation.runner import ClipOutcome
from hearthvox.evaluation.wer import (
    entity_found,
    false_insertions,
    letters_digits,
    normalize,
    term_said,
    word_error_rate,
    word_errors,
)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Mr. Smith, OK!", "mister smith okay"),
        ("It's five o'clock", "it is 5 oclock"),
        ("order part XJ-4471", "order part x j 4 4 7 1"),
        ("Order part XJ4471.", "order part x j 4 4 7 1"),
        ("order part XJ 4471", "order part x j 4 4 7 1"),
        ("order part X J 4 4 7 1", "order part x j 4 4 7 1"),
        ("4,471 apples", "4 4 7 1 apples"),
        ("set a timer for ten minutes", "set a timer for 1 0 minutes"),
        ("the third time on the twenty first", "the 3 rd time on the 2 1 st"),
        ("fifteen hundred dollars", "$ 1 5 0 0"),
    ],
)
def test_normalize(text: str, words: str) -> None:
    assert normalize(text) == words.split()


@pytest.mark.parametrize(
    ("reference", "heard"),
    [
        ("fifteen hundred dollars", "1500 dollars"),
        ("U M N Y H SIX", "UMNYH6"),
        ("U M N Y H SIX", "U.M.N.Y.H. 6."),
        ("one zero zero", "100"),
        ("the 3rd time on the 21st", "The third time on the twenty-first."),
        ("set a timer for 10 minutes", "Set a timer for ten minutes."),
        ("ENTER SEVEN TWO", "Enter 72."),
    ],
)
def test_numbers_in_words_and_digits_meet(reference: str, heard: str) -> None:
    assert word_errors(reference, heard)[0] == 0
    assert letters_digits(reference) == letters_digits(heard)


def test_letters_and_digits_judge_a_code_written_as_one_word() -> None:
    assert word_errors("U M N Y H SIX", "UMNYH 6")[0] > 0  # one word for five letters
    assert letters_digits("U M N Y H SIX") == letters_digits("UMNYH 6") == "umnyh6"
    assert letters_digits("U M N Y H SIX") != letters_digits("UMNYA 6")


def test_a_code_written_differently_is_no_error() -> None:
    assert word_errors("order part XJ-4471", "Order part X.J. 4471.") == (0, 8)
    assert word_errors("order part XJ-4471", "Order part XJ 4472.") == (1, 8)


def test_word_error_rate_pools_the_pairs() -> None:
    pairs = [("the child almost hurt the small dog", "The child almost hurt."), ("a b", "a b")]
    assert word_error_rate(pairs) == pytest.approx(3 / 9)


@pytest.mark.parametrize(
    ("entity", "heard", "found"),
    [
        ("Zbigniew", "Set a timer called Zbigniew.", True),
        ("Zbigniew", "Set a timer called z big new", False),
        ("XJ-4471", "Order part xj 4 4 7 1", True),
        ("XJ-4471", "Order part XJ 4417", False),
        ("Siobhan", "Call Shivaun on the kitchen speaker.", False),
        ("Nguyen", "book a table at Nguyen's for two", True),
        ("Nguyen", "Book a table at New Eens for 2.", False),
        ("", "anything", True),
    ],
)
def test_entity_found(entity: str, heard: str, found: bool) -> None:
    assert entity_found(entity, heard) is found


@pytest.mark.parametrize(
    ("term", "text", "said"),
    [
        ("Ann", "Ann is here", True),
        ("Ann", "planning the day", False),  # whole words only
        ("XJ-4471", "order part XJ 4 4 7 1", True),
        ("XJ-4471", "order part XJ 4 4 1 7", False),
        ("Aoife", "text a wife", False),
    ],
)
def test_term_said(term: str, text: str, said: bool) -> None:
    assert term_said(term, text) is said


def test_false_insertions_count_listed_terms_the_reference_lacks() -> None:
    listed = ("Zbigniew", "XJ-4471", "Aoife")
    assert false_insertions(listed, "set a timer", "set a timer Zbigniew") == 1
    assert false_insertions(listed, "call Aoife", "call Aoife") == 0
    clips = [
        ClipOutcome("a", "clean", "command", 1.0, listed_said=False, inserted=1),
        ClipOutcome("b", "clean", "command", 1.0, listed_said=False),
        ClipOutcome("c", "clean", "command", 1.0, listed_said=True, inserted=1),  # not counted
    ]
    m = slice_metrics("clean", clips)
    assert (m.unlisted, m.insertions, m.insertions_per_100) == (2, 1, 50.0)
    assert m.to_json()["false_insertions_per_100"] == 50.0
    without = slice_metrics("clean", [ClipOutcome("a", "clean", "command", 1.0)])
    assert without.unlisted == 0 and "false_insertions" not in without.to_json()


def test_a_spelled_o_and_a_zero_are_one_symbol() -> None:
    # the normaliser reads a lone O as zero: a right "BORO" must still match
    assert letters_digits("A Y L E S B O R O") == letters_digits("AYLES BORO") == "aylesboro"
    assert letters_digits("one zero two") == letters_digits("1 O 2")
    assert letters_digits("B O R O") != letters_digits("B O R E")
