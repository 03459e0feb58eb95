from __future__ import annotations

from datetime import timedelta, timezone

import pytest

from hearthvox.skills.base import SkillContext, SkillResult
from hearthvox.skills.builtin import DateSkill, RepeatSkill, StopSkill, TimeSkill

from .conftest import T0, FakeClock


@pytest.mark.parametrize(
    "utterance",
    [
        " What time is it?",
        "what time is it",
        "What's the time?",
        "Tell me the time.",
        "Time, please.",
        "time",
        "Do you know what time it is?",
        "Hey, what time is it right now?",
        "What is the current time?",
    ],
)
def test_time_phrasings(utterance: str, ctx: SkillContext) -> None:
    assert TimeSkill().handle(utterance, ctx) == SkillResult("It is 11:04 PM.")


@pytest.mark.parametrize(
    "utterance",
    [
        "What time is it in Tokyo?",
        "How much time is left on the timer?",
        "set a timer",
        "what is the date",
        "It's time to go.",
    ],
)
def test_time_declines(utterance: str, ctx: SkillContext) -> None:
    assert TimeSkill().handle(utterance, ctx) is None


@pytest.mark.parametrize(
    ("offset_s", "spoken"),
    [
        (0, "It is 11:04 PM."),
        (56 * 60, "It is 12:00 AM."),  # midnight
        (56 * 60 + 9 * 60, "It is 12:09 AM."),
        (11 * 3600 + 56 * 60 + 30, "It is 11:00 AM."),  # seconds are not spoken
        (12 * 3600 + 56 * 60, "It is 12:00 PM."),  # noon
        (13 * 3600 + 56 * 60 + 60 * 5, "It is 1:05 PM."),
    ],
)
def test_time_format(offset_s: float, spoken: str, ctx: SkillContext, clock: FakeClock) -> None:
    clock.advance(offset_s)
    result = TimeSkill().handle("what time is it", ctx)
    assert result is not None and result.text == spoken


def test_time_uses_the_context_timezone(ctx: SkillContext) -> None:
    ctx.timezone = timezone(timedelta(hours=-5))  # New York in November
    assert TimeSkill().handle("what time is it", ctx) == SkillResult("It is 6:04 PM.")
    ctx.timezone = timezone(timedelta(hours=5, minutes=30))  # India
    assert TimeSkill().handle("what time is it", ctx) == SkillResult("It is 4:34 AM.")


def test_time_without_timezone_is_local(ctx: SkillContext) -> None:
    ctx.timezone = None
    result = TimeSkill().handle("what time is it", ctx)
    assert result is not None
    assert result.text.startswith("It is ") and result.text.endswith(("AM.", "PM."))


@pytest.mark.parametrize(
    "utterance",
    [
        "What's the date?",
        " What is the date today?",
        "What day is it?",
        "Today's date.",
        "What is today's date?",
        "What day of the week is it?",
        "Which day is today?",
        "date please",
    ],
)
def test_date_phrasings(utterance: str, ctx: SkillContext) -> None:
    assert DateSkill().handle(utterance, ctx) == SkillResult("Today is Saturday, November 28.")


def test_date_follows_the_timezone(ctx: SkillContext) -> None:
    ctx.timezone = timezone(timedelta(hours=9))  # Tokyo: already Sunday morning
    assert DateSkill().handle("what day is it", ctx) == SkillResult("Today is Sunday, November 29.")


@pytest.mark.parametrize(
    "utterance", ["what is the date tomorrow", "what time is it", "update the date of easter"]
)
def test_date_declines(utterance: str, ctx: SkillContext) -> None:
    assert DateSkill().handle(utterance, ctx) is None


def test_date_at_fixed_clock_values(ctx: SkillContext, clock: FakeClock) -> None:
    clock.t = T0 + 3 * 86400
    assert DateSkill().handle("what's the date", ctx) == SkillResult(
        "Today is Tuesday, December 1."
    )


@pytest.mark.parametrize(
    "utterance",
    [
        "stop",
        " Stop.",
        "STOP!",
        "Cancel.",
        "Be quiet.",
        "Never mind.",
        "Nevermind",
        "Shut up!",
        "Okay, stop.",
        "Stop, please.",
        "stop stop stop",
        "Okay okay, just stop",
        "Jarvis stop",
        "That's enough.",
    ],
)
def test_stop_phrasings(utterance: str, ctx: SkillContext) -> None:
    assert StopSkill().handle(utterance, ctx) == SkillResult("", interrupt=True)


@pytest.mark.parametrize(
    "utterance",
    [
        "cancel the timer",
        "Stop the timer.",
        "timer stop",
        "cancel my alarm",
        "don't stop",
        "stop the music and tell me a joke",
        "what time is it",
        "",
    ],
)
def test_stop_declines(utterance: str, ctx: SkillContext) -> None:
    assert StopSkill().handle(utterance, ctx) is None


@pytest.mark.parametrize(
    "utterance",
    [
        "Repeat that.",
        "Say that again?",
        "What did you say?",
        "Can you repeat that, please?",
        "Pardon?",
        "Come again?",
    ],
)
def test_repeat_phrasings(utterance: str, ctx: SkillContext) -> None:
    ctx.last_reply = "It is 11:04 PM."
    assert RepeatSkill().handle(utterance, ctx) == SkillResult("It is 11:04 PM.")


def test_repeat_with_nothing_said(ctx: SkillContext) -> None:
    assert RepeatSkill().handle("repeat that", ctx) == SkillResult("I haven't said anything yet.")


def test_repeat_declines(ctx: SkillContext) -> None:
    assert RepeatSkill().handle("what time is it", ctx) is None
    assert RepeatSkill().handle("repeat the timer", ctx) is None
