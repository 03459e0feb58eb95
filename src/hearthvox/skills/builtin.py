"""Built-in skills: time, date, stop and repeat (timers live in :mod:`.timers`).

Every skill matches on :func:`normalize`-d text, so Whisper's " What time is it?"
and "what's the time" reach it. Each declines (returns ``None``) what another
skill owns: "what time is it in Tokyo" (not local time), "cancel the timer"
(the timer skill), "what is the date tomorrow".
"""

from __future__ import annotations

import re
from datetime import datetime

from hearthvox.skills.base import SkillContext, SkillResult
from hearthvox.skills.text import normalize

NOTHING_SAID_YET = "I haven't said anything yet."


def _any(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


def _now(ctx: SkillContext) -> datetime:
    """The context clock's time in ``ctx.timezone`` (local time when it is None)."""
    return datetime.fromtimestamp(ctx.clock.now(), ctx.timezone)


def say_time(moment: datetime) -> str:
    """``23:04`` -> "11:04 PM" (12-hour clock, no leading zero)."""
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"


def say_date(moment: datetime) -> str:
    """-> "Saturday, November 28"."""
    return f"{moment:%A}, {moment:%B} {moment.day}"


_TIME = _any(
    (
        r"\bwhat time is it\b",
        r"\bwhat is the time\b",
        r"\bwhat time it is\b",
        r"\bwhat the time is\b",
        r"\b(tell|give|show) me the time\b",
        r"\bgot the time\b",
        r"\b(current|exact) time\b",
        r"^(the )?time( please| now| right now)?$",
        r"^what time$",
    )
)
_TIME_ELSEWHERE = re.compile(r"\btime (is it )?(in|at|for)\b|\btimers?\b|\b(left|until|since)\b")


class TimeSkill:
    """ "What time is it?" -> "It is 11:04 PM." """

    name = "time"
    side_effects = False
    vocabulary = ("time", "o'clock")

    def handle(self, utterance: str, ctx: SkillContext) -> SkillResult | None:
        text = normalize(utterance)
        if not _TIME.search(text) or _TIME_ELSEWHERE.search(text):
            return None
        return SkillResult(f"It is {say_time(_now(ctx))}.")


_DATE = _any(
    (
        r"\bwhat is (the|today) date\b",
        r"\bwhat date is it\b",
        r"\bwhat is the date\b",
        r"\btoday date\b",
        r"\bthe date today\b",
        r"\b(what|which) day is (it|today)\b",
        r"\bwhat day of the (week|month) is it\b",
        r"\bwhat is the day( today)?$",
        r"\bwhat is today$",
        r"^(the |today )?date( please| today)?$",
    )
)
_DATE_ELSEWHERE = re.compile(
    r"\b(tomorrow|yesterday)\b|\bdate (of|for|on|in)\b|\bday (of|in) \w+ (is|was)"
)


class DateSkill:
    """ "What's the date?" -> "Today is Saturday, November 28." """

    name = "date"
    side_effects = False
    vocabulary = ("date", "today", "tomorrow")

    def handle(self, utterance: str, ctx: SkillContext) -> SkillResult | None:
        text = normalize(utterance)
        if not _DATE.search(text) or _DATE_ELSEWHERE.search(text):
            return None
        return SkillResult(f"Today is {say_date(_now(ctx))}.")


_STOP_PHRASES = frozenset(
    {
        "stop",
        "stop it",
        "stop that",
        "stop talking",
        "stop speaking",
        "cancel",
        "cancel that",
        "cancel it",
        "quiet",
        "be quiet",
        "quiet down",
        "silence",
        "be silent",
        "shut up",
        "never mind",
        "nevermind",
        "forget it",
        "forget about it",
        "enough",
        "that is enough",
        "hush",
        "shush",
        "abort",
    }
)
_LEADING_FILLERS = frozenset(
    "okay ok oh um uh hey please just alright now so well no actually".split()
)
_TRAILING_FILLERS = frozenset({"please", "now", "thanks", "already", "then"})
_NOT_A_STOP = re.compile(r"\b(timers?|alarms?)\b|\b(not|never|dont) stop$")


def _strip_fillers(tokens: list[str]) -> list[str]:
    while len(tokens) > 1 and tokens[0] in _LEADING_FILLERS:
        tokens = tokens[1:]
    while len(tokens) > 1 and tokens[-1] in _TRAILING_FILLERS:
        tokens = tokens[:-1]
    if len(tokens) > 2 and tokens[-2:] == ["thank", "you"]:
        tokens = tokens[:-2]
    return tokens


class StopSkill:
    """ "Stop" / "be quiet" / "never mind" -> interrupt (stop speaking, drop queued speech).

    Matches a whole utterance from its phrase list (ignoring fillers such as
    "okay ... please"), or any utterance whose last word is "stop" ("okay okay
    stop"). Declines anything naming a timer or alarm ("cancel the timer", "stop
    the timer", "timer stop"): those belong to the timer skill.
    """

    name = "stop"
    side_effects = False  # its result interrupts; handle itself changes nothing
    vocabulary = ("stop", "cancel", "never mind")

    def handle(self, utterance: str, ctx: SkillContext) -> SkillResult | None:
        text = normalize(utterance)
        if not text or _NOT_A_STOP.search(text):
            return None
        tokens = _strip_fillers(text.split())
        if " ".join(tokens) in _STOP_PHRASES or tokens[-1] == "stop":
            return SkillResult("", interrupt=True)
        return None


_REPEAT = _any(
    (
        r"\brepeat\b",
        r"\bsay (that|it|this) again\b",
        r"\bsay again\b",
        r"\bwhat did you (just )?say\b",
        r"\bi did not (hear|catch|get|understand) (that|you|it)\b",
        r"^(pardon|pardon me|come again|sorry what|what was that|one more time|what)$",
    )
)


class RepeatSkill:
    """ "Say that again" -> the last thing said (``ctx.last_reply``)."""

    name = "repeat"
    side_effects = False
    vocabulary = ("repeat", "say that again")

    def handle(self, utterance: str, ctx: SkillContext) -> SkillResult | None:
        text = normalize(utterance)
        if not _REPEAT.search(text) or re.search(r"\btimers?\b", text):
            return None
        return SkillResult(ctx.last_reply or NOTHING_SAID_YET)
