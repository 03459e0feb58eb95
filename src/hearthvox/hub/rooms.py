"""Rooms: each satellite's area has its own skill context; timers ring where they were set.

The hub keeps one :class:`~hearthvox.skills.registry.SkillRouter` per area, each
with a :class:`~hearthvox.skills.base.SkillContext` of its own (its own
``last_reply``: "repeat that" and a follow-up such as "For how long?" stay in
their room) that shares the one persistent timer store (timers survive a restart
and every room can cancel any room's timer). A timer records the area where it
was set.

When timers fall due (:class:`RoomAnnouncer`), each rings in its own area, once,
on the next idle chunk of a satellite there. A timer whose area has no satellite
streaming at that moment (powered off, its network gone) rings on every
satellite that is, with its room named: "Your 5 minute timer in the kitchen is
done." A timer is about a moment: one that rang late, at the kitchen's next
connection, would be worse than one heard from the den. A timer of no area (set
before the hub knew rooms) rings in every room. One handed to a room whose
satellite goes away before it rang is handed on the same way.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable

from hearthvox.pipeline.stages import Answerer
from hearthvox.skills.registry import SkillRouter
from hearthvox.skills.timer_store import Timer, TimerStore


def area_routers(router: Answerer, areas: Iterable[str]) -> dict[str, Answerer]:
    """One router per area: the same skills on a context of the area's own sharing
    ``router``'s timer store. A router that is not a :class:`SkillRouter` (it has no
    context to copy) serves every area as it is."""
    names = tuple(dict.fromkeys(areas))
    if not isinstance(router, SkillRouter):
        return dict.fromkeys(names, router)
    store = router.ctx.timers  # made now, so that every area shares this one
    out: dict[str, Answerer] = {}
    for area in names:
        ctx = dataclasses.replace(
            router.ctx, area=area, areas=names, last_reply=None, timer_store=store
        )
        out[area] = SkillRouter(router.skills, ctx, router.fallback_reply)
    return out


def room_announcement(timer: Timer, where: str | None) -> str:
    """What a satellite says when ``timer`` is done; ``where``: the timer's room,
    named when it rings elsewhere."""
    if where is None:
        return TimerStore.announcement(timer)
    return f"Your {timer.name} timer in the {where} is done."


class RoomAnnouncer:
    """Hands each area the announcements of its timers (see the module's docstring).

    ``online()`` says which areas have a satellite streaming now. Whichever session
    polls first takes the timers due from the store and sorts them into the areas'
    outboxes; each area's poll empties its own. Thread-safe; announcements hold the
    timer's name and room only."""

    def __init__(self, store: TimerStore, online: Callable[[], Iterable[str]]) -> None:
        self.store = store
        self.online = online
        self._lock = threading.Lock()
        self._outbox: dict[str, list[Timer]] = {}

    def for_area(self, area: str) -> Callable[[], list[str]]:
        """The ``announcements`` callable of a pipeline in ``area``."""
        return lambda: self.poll(area)

    def poll(self, area: str) -> list[str]:
        with self._lock:
            online = set(self.online()) | {area}  # the area that polls streams
            waiting = [  # handed to a room whose satellite went away before it rang
                t for a in list(self._outbox) if a not in online for t in self._outbox.pop(a)
            ]
            for timer in dict.fromkeys([*waiting, *self.store.due()]):
                self._route(timer, online)
            mine = self._outbox.pop(area, [])
        return [room_announcement(t, None if t.area == area else t.area) for t in mine]

    def _route(self, timer: Timer, online: set[str]) -> None:
        rooms = [timer.area] if timer.area in online else online  # away, or none: all
        for area in rooms:
            box = self._outbox.setdefault(area, [])
            if timer not in box:
                box.append(timer)
