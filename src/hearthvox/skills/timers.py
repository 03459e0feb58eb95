"""The timer skill: set, cancel and ask about timers kept in ``ctx.timers``.

Understood (after :func:`normalize`):

- set: "set a timer for five minutes", "timer for 30 seconds", "start a 5 minute
  timer", "set a pasta timer for ten minutes", "set a timer called pasta for 10
  minutes", "set a timer for 10 minutes for the pasta". Without a duration the
  reply is "For how long?"; an utterance that is only a duration ("five
  minutes") right after that reply sets the timer.
- cancel: "cancel the timer", "stop the pasta timer", "delete my timers",
  "cancel the 5 minute timer", "turn off the timer". With no label or duration
  named, every running timer is cancelled and the reply says how many.
- ask: "how long is left", "how much time is left on the timer", "how long
  left on the pasta timer", "do I have any timers".

Ringing is the pipeline's job: it polls ``ctx.timers.due()`` and speaks
``TimerStore.announcement(timer)`` for each.

Rooms (the hub: ``ctx.area`` is set, ``ctx.areas`` names every room): a timer is
set in the room where it was asked. "cancel the kitchen timer" / "cancel the
timer in the kitchen" cancels the kitchen's timers from any room (a room is named
by its configured area, matched case-insensitively, word for word; a timer
*labelled* "kitchen" wins over the room); "cancel the timer" cancels this room's
timers, else the only timer there is, else it asks which room's.
"""

from __future__ import annotations

import re

from hearthvox.skills.base import SkillContext, SkillResult
from hearthvox.skills.numbers import DurationMatch, ceil_seconds, find_duration, say_duration
from hearthvox.skills.text import normalize
from hearthvox.skills.timer_store import Timer, TimerStore

__all__ = ["FOR_HOW_LONG", "MAX_TIMER_S", "Timer", "TimerSkill", "TimerStore"]

FOR_HOW_LONG = "For how long?"
MAX_TIMER_S = 24 * 3600.0
NO_TIMERS = "There are no timers running."
NOTHING_TO_CANCEL = "There is no timer to cancel."

_SET_VERBS = frozenset("set start create make begin add put new run".split())
_CANCEL_VERBS = frozenset("cancel stop delete remove clear end kill dismiss reset abort".split())
_TURN_OFF = re.compile(
    r"\b(turn|switch|shut) (it |the |my |all |that |this )*\S* ?timers? off\b"
    r"|\b(turn|switch|shut) off\b"
)
_REMAINING = re.compile(
    r"\bhow (much|long)\b.*\b(left|remaining|to go)\b|\bhow much longer\b"
    r"|\bhow long (until|till|before|on)\b|\btime (left|remaining)\b"
)
_STATUS = re.compile(
    r"\b(how long|how much|check|status|how many|list|show|when|left|remaining)\b"
    r"|\b(what|which|any) timers?\b|\b(is|are) (my|the)\b|\bdo i have\b"
)
_NAMING = frozenset("called named labelled labeled".split())
_LABEL_STOP = (
    _SET_VERBS
    | _CANCEL_VERBS
    | _NAMING
    | frozenset(
        """
        a an the my me your another please can could would will you hey for on up timer
        timers and to of i want need quick one all both every each any how much long left is
        are what there time remaining this that it just first second third other extra off
        turn switch do have check status ok okay now with go again
        """.split()
    )
)
_FOLLOW_UP_FILLERS = frozenset(
    "for please um uh make it set about just okay ok oh lets let us say do".split()
)
_MAX_LABEL_WORDS = 3


class TimerSkill:
    name = "timer"
    vocabulary = ("timer", "timers", "minutes", "seconds", "hours")
    side_effects = True  # sets and cancels timers

    def claims(self, utterance: str, ctx: SkillContext) -> bool:
        """Whether :meth:`handle` would take ``utterance`` (nothing is set or cancelled)."""
        tokens = normalize(utterance).split()
        if not tokens:
            return False
        if "timer" in tokens or "timers" in tokens or _REMAINING.search(" ".join(tokens)):
            return True
        return ctx.last_reply == FOR_HOW_LONG and find_duration(tokens) is not None

    def complete(self, utterance: str, ctx: SkillContext) -> bool:
        """Whether ``utterance`` is a whole timer request: setting one needs its length
        ("set a timer" alone would be asked "For how long?"); cancelling, asking what is
        left and a bare length answering that question need nothing more."""
        if not self.claims(utterance, ctx):
            return False
        text = normalize(utterance)
        tokens = text.split()
        if _REMAINING.search(text) or _is_cancel(tokens, text):
            return True
        duration = find_duration(tokens)
        if duration is None and _STATUS.search(text) and not _SET_VERBS.intersection(tokens):
            return True
        return duration is not None and duration.seconds > 0

    def handle(self, utterance: str, ctx: SkillContext) -> SkillResult | None:
        text = normalize(utterance)
        tokens = text.split()
        if not tokens:
            return None
        mentions = "timer" in tokens or "timers" in tokens
        if _REMAINING.search(text):
            return SkillResult(_remaining(ctx.timers, _label(tokens, None)))
        if not mentions:
            return self._follow_up(tokens, ctx)
        duration = find_duration(tokens)
        if _is_cancel(tokens, text):
            if ctx.area is None and not ctx.areas:
                return SkillResult(_cancel(ctx.timers, tokens, duration))
            return SkillResult(_cancel_in_rooms(ctx, tokens, duration))
        if duration is None and _STATUS.search(text) and not _SET_VERBS.intersection(tokens):
            return SkillResult(_remaining(ctx.timers, _label(tokens, None)))
        return SkillResult(_set(ctx.timers, duration, _label(tokens, duration), ctx.area))

    @staticmethod
    def _follow_up(tokens: list[str], ctx: SkillContext) -> SkillResult | None:
        """A bare duration ("five minutes") answering our "For how long?"."""
        if ctx.last_reply != FOR_HOW_LONG:
            return None
        duration = find_duration(tokens)
        if duration is None:
            return None
        rest = tokens[: duration.start] + tokens[duration.end :]
        if any(word not in _FOLLOW_UP_FILLERS for word in rest):
            return None
        return SkillResult(_set(ctx.timers, duration, None, ctx.area))


def _is_cancel(tokens: list[str], text: str) -> bool:
    cancel_at = next((i for i, w in enumerate(tokens) if w in _CANCEL_VERBS), None)
    if cancel_at is None:
        return _TURN_OFF.search(text) is not None
    set_at = next((i for i, w in enumerate(tokens) if w in _SET_VERBS), None)
    return set_at is None or cancel_at < set_at


def _set(
    store: TimerStore, duration: DurationMatch | None, label: str | None, area: str | None = None
) -> str:
    if duration is None or duration.seconds <= 0:
        return FOR_HOW_LONG
    if duration.seconds > MAX_TIMER_S:
        return "Timers can run for at most 24 hours."
    timer = store.add(duration.seconds, label, area)
    what = f"{label.capitalize()} timer" if label else "Timer"
    return f"{what} set for {say_duration(timer.duration_s)}."


def _cancel(store: TimerStore, tokens: list[str], duration: DurationMatch | None) -> str:
    label = _label(tokens, duration)
    seconds = duration.seconds if duration is not None else None
    gone = store.cancel(label, duration_s=seconds)
    return _cancelled(gone, "") if gone else _none_to_cancel(label, seconds, "")


def _cancelled(gone: list[Timer], where: str) -> str:
    if len(gone) == 1:
        what = f"{gone[0].label.capitalize()} timer" if gone[0].label else "Timer"
        return f"{what}{where} cancelled."
    return f"{len(gone)} timers{where} cancelled."


def _none_to_cancel(label: str | None, seconds: float | None, where: str) -> str:
    if label is not None:
        return f"There is no {label} timer{where}."
    if seconds is not None:
        return f"There is no {Timer(0, None, seconds, 0, 0).name} timer{where}."
    return f"There is no timer to cancel{where}." if where else NOTHING_TO_CANCEL


_MAX_AREA_WORDS = 6


def _area_named(tokens: list[str], areas: tuple[str, ...]) -> tuple[str, int, int] | None:
    """The configured area the words name ("kitchen", "living room"), the longest
    first, with where its words are: ``(area, start, end)``."""
    found: tuple[str, int, int] | None = None
    for area in areas:
        words = normalize(area).split()
        if not words or len(words) > _MAX_AREA_WORDS:
            continue
        if found is not None and len(words) <= found[2] - found[1]:
            continue
        for i in range(len(tokens) - len(words) + 1):
            if tokens[i : i + len(words)] == words:
                found = (area, i, i + len(words))
                break
    return found


def _cancel_in_rooms(ctx: SkillContext, tokens: list[str], duration: DurationMatch | None) -> str:
    store = ctx.timers
    label = _label(tokens, duration)
    named = _area_named(tokens, ctx.areas)
    if named is not None and (label is None or all(t.label != label for t in store.timers())):
        area, start, end = named
        while start > 0 and tokens[start - 1] in ("in", "the", "from", "of"):
            start -= 1  # "in the kitchen" goes as a whole
        rest = tokens[:start] + tokens[end:]
        duration = find_duration(rest)
        label = _label(rest, duration)
        seconds = duration.seconds if duration is not None else None
        gone = store.cancel(label, duration_s=seconds, area=area)
        where = f" in the {area}"
        return _cancelled(gone, where) if gone else _none_to_cancel(label, seconds, where)
    seconds = duration.seconds if duration is not None else None
    here = store.cancel(label, duration_s=seconds, area=ctx.area) if ctx.area else []
    if here:
        return _cancelled(here, "")
    if label is not None or seconds is not None:  # a named timer, in whichever room
        gone = store.cancel(label, duration_s=seconds)
        return _cancelled(gone, "") if gone else _none_to_cancel(label, seconds, "")
    running = store.timers()
    if len(running) == 1:  # the only timer there is, wherever it was set
        only = running[0]
        gone = store.cancel(only.label, duration_s=only.duration_s, area=only.area)
        where = f" in the {only.area}" if only.area and only.area != ctx.area else ""
        return _cancelled(gone, where) if gone else NOTHING_TO_CANCEL
    if not running:
        return NOTHING_TO_CANCEL
    rooms = sorted({t.area for t in running if t.area}, key=str.lower)
    if not rooms:  # several timers of no room (set before rooms): as in one room
        return _cancelled(store.cancel(), "")
    return f"There is no timer here. Say which room's: {', '.join(f'the {r}' for r in rooms)}."


def _remaining(store: TimerStore, label: str | None) -> str:
    running = store.remaining()
    if label is not None:
        running = [(t, left) for t, left in running if t.label == label]
        if not running:
            return f"There is no {label} timer."
    if not running:
        return NO_TIMERS
    if len(running) == 1:
        timer, left = running[0]
        if ceil_seconds(left) == 0:
            return TimerStore.announcement(timer)
        where = f" on your {timer.label} timer" if timer.label else ""
        return f"{say_duration(ceil_seconds(left))} left{where}."
    parts = [f"You have {len(running)} timers."]
    for timer, left in running:
        if ceil_seconds(left) == 0:
            parts.append(TimerStore.announcement(timer))
        else:
            parts.append(f"Your {timer.name} timer has {say_duration(ceil_seconds(left))} left.")
    return " ".join(parts)


def _label(tokens: list[str], duration: DurationMatch | None) -> str | None:
    """The name the user gave a timer: "pasta" in "set a pasta timer", "a timer
    called pasta", "a timer for the pasta", "a timer for 10 minutes for pasta"."""

    def taken(i: int) -> bool:
        return duration is not None and duration.start <= i < duration.end

    def forward(i: int) -> str | None:
        words: list[str] = []
        while i < len(tokens) and len(words) < _MAX_LABEL_WORDS:
            if taken(i) or tokens[i] in ("for", "and", "please", "that", "to", "with", "in"):
                break
            if not (not words and tokens[i] in ("the", "my", "a")):
                words.append(tokens[i])
            i += 1
        return " ".join(words) or None

    at = next((i for i, w in enumerate(tokens) if w in ("timer", "timers")), None)
    if at is None:
        at = len(tokens)
    elif at + 1 < len(tokens) and tokens[at + 1] in _NAMING:
        return forward(at + 2)
    elif (
        at + 2 < len(tokens)
        and tokens[at + 1] == "for"
        and not taken(at + 2)
        and not _looks_numeric(tokens[at + 2])
    ):
        named = forward(at + 2)
        if named is not None:
            return named
    words: list[str] = []
    i = at - 1
    while i >= 0 and not taken(i) and tokens[i] not in _LABEL_STOP:
        words.insert(0, tokens[i])
        i -= 1
    if words and len(words) <= _MAX_LABEL_WORDS and not any(_looks_numeric(w) for w in words):
        return " ".join(words)
    if duration is not None and duration.end < len(tokens) and tokens[duration.end] == "for":
        return forward(duration.end + 1)
    return None


_NUMBER_WORDS = frozenset(
    """
    zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen
    fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy
    eighty ninety hundred half quarter couple
    """.split()
)


def _looks_numeric(word: str) -> bool:
    return word in _NUMBER_WORDS or word.replace(".", "", 1).isdigit()
