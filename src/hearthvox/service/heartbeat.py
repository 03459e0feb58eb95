"""Signs of life from the daemon's workers, which the watchdog turns into pings.

Three workers report:

* ``audio``: the input reader beats once per chunk it reads (and while it waits
  because the pipeline is behind, which is the pipeline's problem, not its own);
  it retires when the input ends.
* ``pipeline``: the event loop and the stages beat once per chunk the pipeline
  takes, and the loop's ticker beats while the pipeline has nothing to do or
  waits on an engine. A blocked event loop or a stage that stopped taking audio
  falls silent.
* ``engine``: each engine (wake, VAD, ASR, TTS) runs its calls on its own
  thread, an :class:`~hearthvox.engines.executor.EngineExecutor` that knows when
  its running call started; the other blocking calls (playback, a reload) run in
  the loop's default executor, a :class:`WatchedExecutor` that knows the same. A
  call running longer than the limit is stuck.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Sequence

from hearthvox.engines.executor import EngineExecutor, TrackedExecutor

AUDIO = "audio"
PIPELINE = "pipeline"
ENGINE = "engine"

_UNWATCHED: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "hearthvox_unwatched", default=False
)


def mark_unwatched() -> None:
    """Calls made from the current task are not engine work (the input reader's reads,
    which may wait on the input as long as it likes: the audio heartbeat covers them)."""
    _UNWATCHED.set(True)


class Heartbeats:
    """When each worker last showed a sign of life (thread-safe, monotonic clock)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def beat(self, worker: str) -> None:
        now = self.clock()
        with self._lock:
            self._last[worker] = now

    def retire(self, worker: str) -> None:
        """The worker is done for good (the input ended): no longer expected to beat."""
        with self._lock:
            self._last.pop(worker, None)

    def silent(self, limit_s: float) -> list[tuple[str, float]]:
        """``(worker, seconds since its last beat)`` of each worker silent over ``limit_s``."""
        now = self.clock()
        with self._lock:
            ages = [(w, now - t) for w, t in self._last.items()]
        return sorted((w, age) for w, age in ages if age > limit_s)


class WatchedExecutor(TrackedExecutor):
    """The event loop's default executor: it sees every ``asyncio.to_thread`` (playback, a
    reload). (A ThreadPoolExecutor, because ``loop.set_default_executor`` takes only one.)
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(None, "hv-worker", clock)
        self.abandon = False
        """Set when the daemon gives up on running calls: shutdown then never waits."""

    def watched(self) -> bool:
        return not _UNWATCHED.get()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if self.abandon:  # a stuck call must not hold up the exit
            wait, cancel_futures = False, True
        super().shutdown(wait=wait, cancel_futures=cancel_futures)


def stalled(
    beats: Heartbeats,
    executor: WatchedExecutor,
    limit_s: float,
    engines: Sequence[EngineExecutor] = (),
) -> list[str]:
    """What is wrong, one short phrase per silent worker or stuck call; empty when healthy."""
    problems = [f"{w}: silent for {age:.1f} s" for w, age in beats.silent(limit_s)]
    stuck = executor.stuck(limit_s) + [s for e in engines for s in e.stuck(limit_s)]
    problems += [f"{ENGINE}: {name} running for {age:.1f} s" for name, age in stuck]
    return problems
