from __future__ import annotations

import pytest

from hearthvox.skills.base import SkillContext
from hearthvox.skills.timers import FOR_HOW_LONG, TimerSkill

from .conftest import FakeClock


def say(utterance: str, ctx: SkillContext) -> str | None:
    result = TimerSkill().handle(utterance, ctx)
    if result is None:
        return None
    assert not result.interrupt
    ctx.last_reply = result.text  # as the router does
    return result.text


@pytest.mark.parametrize(
    ("utterance", "reply", "label", "duration_s"),
    [
        ("Set a timer for five minutes.", "Timer set for 5 minutes.", None, 300),
        (" Set a timer for 5 minutes.", "Timer set for 5 minutes.", None, 300),
        ("timer for 30 seconds", "Timer set for 30 seconds.", None, 30),
        ("Start a 5 minute timer.", "Timer set for 5 minutes.", None, 300),
        ("Start a 5-minute timer", "Timer set for 5 minutes.", None, 300),
        ("Set a pasta timer for ten minutes.", "Pasta timer set for 10 minutes.", "pasta", 600),
        (
            "Set a timer called pasta for 10 minutes.",
            "Pasta timer set for 10 minutes.",
            "pasta",
            600,
        ),
        (
            "Set a timer for 10 minutes for the pasta.",
            "Pasta timer set for 10 minutes.",
            "pasta",
            600,
        ),
        ("Set a timer for the eggs for 7 minutes", "Eggs timer set for 7 minutes.", "eggs", 420),
        (
            "Start a 10 minute chocolate cake timer",
            "Chocolate cake timer set for 10 minutes.",
            "chocolate cake",
            600,
        ),
        (
            "Can you set a timer for a minute and a half?",
            "Timer set for 1 minute and 30 seconds.",
            None,
            90,
        ),
        ("Set a timer for 1 minute 30 seconds", "Timer set for 1 minute and 30 seconds.", None, 90),
        ("Set a second timer for 2 hours", "Timer set for 2 hours.", None, 7200),
        ("Please set me a timer for half an hour", "Timer set for 30 minutes.", None, 1800),
    ],
)
def test_set(
    utterance: str, reply: str, label: str | None, duration_s: float, ctx: SkillContext
) -> None:
    assert say(utterance, ctx) == reply
    [timer] = ctx.timers.timers()
    assert (timer.label, timer.duration_s) == (label, duration_s)


@pytest.mark.parametrize("utterance", ["Set a timer.", "Start a timer please", "timer"])
def test_set_without_duration_asks(utterance: str, ctx: SkillContext) -> None:
    assert say(utterance, ctx) == FOR_HOW_LONG == "For how long?"
    assert ctx.timers.timers() == []


def test_bare_duration_answers_for_how_long(ctx: SkillContext) -> None:
    assert say("set a timer", ctx) == FOR_HOW_LONG
    assert say("Five minutes.", ctx) == "Timer set for 5 minutes."
    # without the question, a bare duration is not the timer skill's
    assert say("five minutes", ctx) is None


def test_too_long(ctx: SkillContext) -> None:
    assert say("set a timer for 25 hours", ctx) == "Timers can run for at most 24 hours."
    assert ctx.timers.timers() == []


def test_remaining(ctx: SkillContext, clock: FakeClock) -> None:
    assert say("How long is left?", ctx) == "There are no timers running."
    say("set a timer for 5 minutes", ctx)
    clock.advance(30)
    for utterance in [
        "How long is left?",
        "how much time is left on the timer",
        "How long left?",
        "How much time is left?",
        "How much longer on my timer?",
    ]:
        assert say(utterance, ctx) == "4 minutes and 30 seconds left.", utterance
    clock.advance(0.4)  # a partial second is rounded up while it runs
    assert say("how long left", ctx) == "4 minutes and 30 seconds left."


def test_remaining_with_labels_and_several(ctx: SkillContext, clock: FakeClock) -> None:
    say("set a pasta timer for 10 minutes", ctx)
    assert say("how long is left", ctx) == "10 minutes left on your pasta timer."
    say("set a timer for 2 minutes", ctx)
    clock.advance(60)
    assert say("How much time is left?", ctx) == (
        "You have 2 timers. Your 2 minute timer has 1 minute left. "
        "Your pasta timer has 9 minutes left."
    )
    assert say("how long left on the pasta timer", ctx) == "9 minutes left on your pasta timer."
    assert say("how long left on the rice timer", ctx) == "There is no rice timer."
    assert say("Do I have any timers?", ctx) is not None
    assert say("What's left on my pasta timer?", ctx) == "9 minutes left on your pasta timer."


def test_cancel(ctx: SkillContext) -> None:
    assert say("Cancel the timer.", ctx) == "There is no timer to cancel."
    say("set a timer for 5 minutes", ctx)
    assert say("Cancel the timer.", ctx) == "Timer cancelled."
    assert ctx.timers.timers() == []
    say("set a timer for 5 minutes", ctx)
    assert say("Stop the timer", ctx) == "Timer cancelled."
    say("set a timer for 5 minutes", ctx)
    say("set a timer for 6 minutes", ctx)
    assert say("Delete my timers.", ctx) == "2 timers cancelled."
    assert say("turn off the timer", ctx) == "There is no timer to cancel."


def test_cancel_by_label_or_duration(ctx: SkillContext) -> None:
    say("set a pasta timer for 10 minutes", ctx)
    say("set a timer for 5 minutes", ctx)
    assert say("cancel the rice timer", ctx) == "There is no rice timer."
    assert say("cancel the 3 minute timer", ctx) == "There is no 3 minute timer."
    assert say("Cancel the pasta timer.", ctx) == "Pasta timer cancelled."
    assert [t.duration_s for t in ctx.timers.timers()] == [300.0]
    assert say("cancel the five minute timer", ctx) == "Timer cancelled."
    assert ctx.timers.timers() == []


@pytest.mark.parametrize(
    "utterance", ["what time is it", "stop", "repeat that", "what is the meaning of life", ""]
)
def test_not_mine(utterance: str, ctx: SkillContext) -> None:
    assert TimerSkill().handle(utterance, ctx) is None
