"""What every skill shares: the clock, the result, the context, the protocol, normalize().

A skill is any class with a ``name`` and a ``handle(utterance, ctx)`` method,
constructed with no arguments. ``handle`` returns ``None`` when the utterance is
not the skill's, else a :class:`SkillResult`. Skills never sleep and never read
the wall clock directly: time comes from ``ctx.clock`` so tests can drive it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Protocol, runtime_checkable

from hearthvox.skills.clock import Clock, SystemClock
from hearthvox.skills.text import normalize
from hearthvox.skills.timer_store import TIMERS_FILE, TimerStore

__all__ = ["Clock", "Skill", "SkillContext", "SkillResult", "SystemClock", "normalize"]


@dataclass(frozen=True)
class SkillResult:
    """A skill's answer.

    ``interrupt=True`` means "stop speaking now and drop queued speech"; ``text``
    may then be empty (nothing to say) or carry a short acknowledgement.
    """

    text: str
    interrupt: bool = False


@dataclass
class SkillContext:
    """What a skill may read and change for one utterance (shared across turns).

    ``timezone`` of ``None`` means the machine's local time. ``timer_store`` may be
    handed in (the pipeline and the timer skill must share one store); when it is
    not, :attr:`timers` creates one on first use at ``state_dir / "timers.json"``.

    ``area`` is the room the utterance was heard in and ``areas`` every room there
    is (the hub gives each satellite's area a context of its own, all sharing one
    timer store); ``None`` and ``()``, the default, mean one room, as in
    ``hearthvox run``.
    """

    clock: Clock
    state_dir: Path
    last_reply: str | None = None
    timezone: tzinfo | None = None
    timer_store: TimerStore | None = None
    area: str | None = None
    areas: tuple[str, ...] = ()

    @property
    def timers(self) -> TimerStore:
        if self.timer_store is None:
            self.timer_store = TimerStore(self.state_dir / TIMERS_FILE, self.clock)
        return self.timer_store


@runtime_checkable
class Skill(Protocol):
    """A skill. Two optional attributes say whether it may answer ahead of time
    (the pipeline answers at the first pause of a command, before the endpoint
    confirms it, and throws the answer away if the user goes on speaking):

    - ``side_effects``: ``handle`` changes something (sets a timer, switches a
      device). Such a ``handle`` runs only once the command is final. A skill
      without the attribute is taken to have side effects.
    - ``claims(utterance, ctx) -> bool``: for a skill with side effects, whether
      it would take ``utterance``, without changing anything; without it, no
      answer is prepared ahead of time for any utterance this skill sees first.
    - ``complete(utterance, ctx) -> bool``: for a skill with side effects, whether
      ``utterance`` is a whole request, nothing it needs missing ("set a timer"
      still needs its length). The endpointer waits less after a whole request
      (``[endpoint] command_hangover_ms``); without it, never less than after any
      finished sentence. A skill without side effects is complete where it answers.
    """

    name: str

    def handle(self, utterance: str, ctx: SkillContext) -> SkillResult | None:
        """Answer ``utterance``, or return ``None`` when it is not this skill's."""
        ...
