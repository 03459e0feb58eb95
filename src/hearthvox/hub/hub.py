"""The hub: one session task per satellite, one arbiter, the engines loaded once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from hearthvox.config import Config, SatelliteEntry
from hearthvox.engines import Engines
from hearthvox.hub.arbiter import Arbiter
from hearthvox.hub.session import SatelliteSession, Shared
from hearthvox.pipeline.stages import Answerer

log = logging.getLogger(__name__)


class Hub:
    """Drives ``satellites`` until cancelled; each session is a task of its own, so one
    satellite's failure (or bug) never touches another's."""

    def __init__(
        self,
        satellites: Sequence[SatelliteEntry],
        engines: Engines,
        router: Answerer,
        cfg: Config,
        announcements: Callable[[], list[str]] = list,
    ) -> None:
        self.arbiter = Arbiter(cfg.hub.arbitration_window_ms)
        shared = Shared(engines, router, cfg, self.arbiter, announcements)
        self.sessions = [SatelliteSession(entry, shared) for entry in satellites]

    async def run(self) -> None:
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
                f"{s.stats.replies} replies; arbitration: won {won}, stood down {stood}"
            )
        return lines

    def _log_summary(self) -> None:
        for line in self.summary():
            log.info("%s", line)
