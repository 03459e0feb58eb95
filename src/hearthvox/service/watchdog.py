"""The watchdog pinger: ``WATCHDOG=1`` every half period, only while every worker lives.

A thread of its own (a blocked event loop must not be able to ping): every
``interval_s`` it asks :func:`hearthvox.service.heartbeat.stalled` what is wrong;
nothing wrong means a ping. When a worker falls silent (or an engine call runs
too long) the pings stop, which is logged once, with what stalled, and set as
the service status; the service manager then kills and restarts the daemon
(``WatchdogSec=``, ``Restart=on-failure``). If the worker comes back first, the
pings resume and that is logged too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from hearthvox.service.logs import StateLog
from hearthvox.service.notify import Notifier

log = logging.getLogger(__name__)


class Watchdog:
    def __init__(
        self,
        notifier: Notifier,
        interval_s: float,
        problems: Callable[[], list[str]],
        state: StateLog,
    ) -> None:
        self.notifier = notifier
        self.interval_s = interval_s
        self.problems = problems
        self.state = state
        self.pings = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hv-watchdog", daemon=True)
        self._stalled: tuple[str, ...] = ()
        self._status_before = ""

    def start(self) -> Watchdog:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.interval_s + 1.0)

    def check(self) -> bool:
        """Ping if all is well; report a change of health. True when it pinged."""
        try:
            problems = self.problems()
        except Exception as exc:  # a bug in a health check must not stop the pings for good
            log.error("watchdog health check failed (%s); pinging anyway", type(exc).__name__)
            problems = []
        workers = tuple(sorted({p.split(":", 1)[0] for p in problems}))
        if workers and workers != self._stalled:
            if not self._stalled:
                self._status_before = self.state.status
            self.state(
                f"stalled: {'; '.join(problems)}",
                logging.ERROR,
                "watchdog pings stopped (the service manager restarts hearthvox "
                "when WatchdogSec passes)",
            )
        elif not workers and self._stalled:
            before = self._status_before or "listening"
            self.state(before, logging.WARNING, "recovered; watchdog pings resume")
        self._stalled = workers
        if workers:
            return False
        if self.notifier.watchdog():
            self.pings += 1
        return True

    def _run(self) -> None:
        due = time.monotonic()
        while True:
            self.check()
            due += self.interval_s
            now = time.monotonic()
            if due < now:  # the machine was suspended or starved: ping on time from now on
                due = now + self.interval_s
            if self._stop.wait(due - now):
                return
