"""The hub: one session task per satellite, one arbiter, the engines loaded once."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable, Sequence

import numpy as np

from hearthvox.config import Config, SatelliteEntry
from hearthvox.engines import Engines
from hearthvox.engines.llm import LlamaLlm
from hearthvox.engines.llm_remote import RemoteLlm
from hearthvox.hub.arbiter import Arbiter, Hearing
from hearthvox.hub.rooms import RoomAnnouncer, area_routers
from hearthvox.hub.session import ObserverFor, Room, SatelliteSession, Shared
from hearthvox.pipeline.shedding import BUSY, Shedding
from hearthvox.pipeline.stages import Answerer
from hearthvox.skills.registry import SkillRouter

log = logging.getLogger(__name__)


class Hub:
    """Drives ``satellites`` until cancelled; each session is a task of its own, so one
    satellite's failure (or bug) never touches another's.

    With a :class:`SkillRouter` each area gets a router of its own on the shared timer
    store, and timers ring in their own area (:mod:`hearthvox.hub.rooms`);
    ``announcements`` is then not used (the rooms take the store's timers themselves).
    Another :class:`Answerer` serves every satellite, with ``announcements``."""

    def __init__(
        self,
        satellites: Sequence[SatelliteEntry],
        engines: Engines,
        router: Answerer,
        cfg: Config,
        announcements: Callable[[], list[str]] = list,
        observer_for: ObserverFor | None = None,
        llm: LlamaLlm | RemoteLlm | None = None,
    ) -> None:
        hearing = Hearing({e.area: e.hears for e in satellites})
        self.arbiter = Arbiter(cfg.hub.arbitration_window_ms, hearing)
        shedding = Shedding(cfg.hub.max_queue_age_ms / 1000.0)
        self.shared = shared = Shared(
            engines, router, cfg, self.arbiter, announcements, shedding, observer_for, llm
        )
        routers = area_routers(router, (e.area for e in satellites))
        self.announcer = (
            RoomAnnouncer(router.ctx.timers, self.online_areas)
            if isinstance(router, SkillRouter)
            else None
        )
        self.sessions = [
            SatelliteSession(e, shared, Room(routers[e.area], self._announcements(e.area)))
            for e in satellites
        ]

    def _announcements(self, area: str) -> Callable[[], list[str]]:
        if self.announcer is None:
            return self.shared.announcements
        return self.announcer.for_area(area)

    def online_areas(self) -> set[str]:
        """The areas with a satellite streaming now."""
        return {s.area for s in self.sessions if s.streaming.is_set()}

    async def _voice_busy_reply(self) -> None:
        """Synthesise the busy reply once, so that saying it queues behind nothing."""
        shedding = self.shared.shedding
        if shedding is None or shedding.max_age_s <= 0:
            return
        tts = self.shared.engines.tts
        try:
            voiced = await tts.executor.run(lambda: np.concatenate(list(tts.sentences(BUSY))))
        except Exception as exc:  # it is then synthesised when said
            log.warning("the busy reply could not be voiced ahead (%s)", type(exc).__name__)
            return
        self.shared.shedding = dataclasses.replace(shedding, voiced=voiced)

    async def run(self) -> None:
        await self._voice_busy_reply()
        tasks = [
            asyncio.create_task(s.run_forever(), name=f"hv-hub-{s.area}") for s in self.sessions
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self._log_summary()

    def summary(self) -> list[str]:
        """One line per satellite: connections, turns, replies, arbitration outcomes
        (counts only: no audio, no text)."""
        outcomes = self.arbiter.summary()
        lines = []
        for s in self.sessions:
            won = outcomes.get(s.area, {}).get("won", 0)
            stood = outcomes.get(s.area, {}).get("stood_down", 0)
            lines.append(
                f"satellite {s.area}: {s.stats.connects} connections, {s.stats.turns} turns, "
                f"{s.stats.replies} replies, {s.stats.shed} shed; "
                f"arbitration: won {won}, stood down {stood}"
            )
        return lines

    def _log_summary(self) -> None:
        for line in self.summary():
            log.info("%s", line)
