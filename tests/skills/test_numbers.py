from __future__ import annotations

import pytest

from hearthvox.skills.numbers import (
    duration_adjective,
    find_duration,
    parse_duration,
    say_duration,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("five minutes", 300),
        ("twenty five seconds", 25),
        ("twenty-five seconds", 25),
        ("a minute and a half", 90),
        ("one hour thirty minutes", 5400),
        ("one hour and thirty minutes", 5400),
        ("90 seconds", 90),
        ("5 min", 300),
        ("5 mins", 300),
        ("5min", 300),
        ("10s", 10),
        ("2 hours", 7200),
        ("2 hrs", 7200),
        ("an hour", 3600),
        ("a minute", 60),
        ("half an hour", 1800),
        ("half a minute", 30),
        ("a quarter of an hour", 900),
        ("three quarters of an hour", 2700),
        ("1 minute 30 seconds", 90),
        ("1 minute and 30 seconds", 90),
        ("one minute 30 seconds", 90),
        ("1 hour, 2 minutes and 3 seconds", 3723),
        ("an hour and a half", 5400),
        ("one and a half hours", 5400),
        ("two and a half minutes", 150),
        ("1.5 hours", 5400),
        ("a couple of minutes", 120),
        ("a hundred and twenty seconds", 120),
        ("one hundred seconds", 100),
        ("ninety seconds", 90),
        ("one hour thirty", 5400),
        ("a minute thirty", 90),
        ("Set a timer for Five Minutes.", 300),
        ("set a second timer for 5 minutes", 300),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text",
    ["", "set a timer", "what time is it", "five", "a second timer", "minutes", "for a while"],
)
def test_no_duration(text: str) -> None:
    assert parse_duration(text) is None


def test_find_duration_reports_the_span() -> None:
    tokens = "start a 5 minute pasta timer".split()
    match = find_duration(tokens)
    assert match is not None
    assert (match.seconds, tokens[match.start : match.end]) == (300, ["5", "minute"])


@pytest.mark.parametrize(
    ("seconds", "spoken"),
    [
        (270, "4 minutes and 30 seconds"),
        (60, "1 minute"),
        (45, "45 seconds"),
        (1, "1 second"),
        (3900, "1 hour and 5 minutes"),
        (7500, "2 hours and 5 minutes"),
        (3723, "1 hour, 2 minutes and 3 seconds"),
        (7200, "2 hours"),
        (59.6, "1 minute"),
        (0, "0 seconds"),
        (-3, "0 seconds"),
    ],
)
def test_say_duration(seconds: float, spoken: str) -> None:
    assert say_duration(seconds) == spoken


def test_duration_adjective() -> None:
    assert duration_adjective(300) == "5 minute"
    assert duration_adjective(90) == "1 minute 30 second"
