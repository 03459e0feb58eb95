from __future__ import annotations

import pytest

from hearthvox.skills.base import normalize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" What time is it?", "what time is it"),
        ("What's the time?", "what is the time"),
        ("What\u2019s the date?", "what is the date"),
        ("Today's date, please.", "today date please"),
        ("Set a 10-minute timer.", "set a 10 minute timer"),
        ("Set a timer for 1.5 hours.", "set a timer for 1.5 hours"),
        ("5min", "5 min"),
        ("1,000 seconds", "1000 seconds"),
        ("I can't hear you", "i can not hear you"),
        ("Don't stop!", "do not stop"),
        ("  STOP!!!  ", "stop"),
        ("Never mind...", "never mind"),
        ("", ""),
        ("?!", ""),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected
