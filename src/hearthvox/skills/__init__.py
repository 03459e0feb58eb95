"""Intent handlers: time, date, timers, stop, repeat, and third-party skills.

The pipeline builds one :class:`SkillContext` and one :class:`SkillRouter`
(``SkillRouter.from_config(config.skills, ctx)``), asks ``router.answer(text)``
per transcript, and polls ``ctx.timers.due()`` to announce timers. See
:mod:`hearthvox.skills.registry` for discovery and precedence.
"""

from hearthvox.skills.base import (
    Clock,
    Skill,
    SkillContext,
    SkillResult,
    SystemClock,
    normalize,
)
from hearthvox.skills.numbers import parse_duration, say_duration
from hearthvox.skills.registry import FALLBACK, SkillRouter, load_skills
from hearthvox.skills.timer_store import Timer, TimerStore

__all__ = [
    "FALLBACK",
    "Clock",
    "Skill",
    "SkillContext",
    "SkillResult",
    "SkillRouter",
    "SystemClock",
    "Timer",
    "TimerStore",
    "load_skills",
    "normalize",
    "parse_duration",
    "say_duration",
]
