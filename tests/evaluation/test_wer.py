"""The normaliser: case, punctuation, numbers, ordinals, product codes; entity matching."""

from __future__ import annotations

import pytest

from hearthvox.evaluation.wer import entity_found, normalize, word_error_rate, word_errors


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("It's 5 o'clock, Mr. Smith!", "its five oclock mister smith"),
        ("order part XJ-4471", "order part x j four four seven one"),
        ("Order part XJ4471.", "order part x j four four seven one"),
        ("order part XJ 4471", "order part x j four four seven one"),
        ("order part X J 4 4 7 1", "order part x j four four seven one"),
        ("4,471 apples", "four four seven one apples"),
        ("set a timer for 10 minutes", "set a timer for ten minutes"),
        ("the 3rd time on the 21st", "the third time on the twenty first"),
        ("the 20th", "the twentieth"),
        ("at 5 pm", "at five pm"),
    ],
)
def test_normalize(text: str, words: str) -> None:
    assert normalize(text) == words.split()


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
