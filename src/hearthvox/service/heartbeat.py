"""Signs of life from the daemon's workers, which the watchdog turns into pings.

Three workers report:

* ``audio``: the input reader beats once per chunk it reads (and while it waits
  because the pipeline is behind, which is the pipeline's problem, not its own);
  it retires when the input ends.
* ``pipeline``: the event loop and the stages beat once per chunk the pipeline
  takes, and the loop's ticker beats while the pipeline has nothing to do or
  waits on an engine. A blocked event loop or a stage that stopped taking audio
  falls silent.
* ``engine``: every blocking call the stages hand to worker threads (speech
  recognition, synthesis, playback, a reload) runs in the loop's default
  executor, a :class:`WatchedExecutor` that knows when each call started; one
  running longer than the limit is stuck.
"""

from __future__ import annotations

import contextvars
import functools
import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

AUDIO = "audio"
PIPELINE = "pipeline"
ENGINE = "engine"

P = ParamSpec("P")
T = TypeVar("T")

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


def _job_name(fn: Callable[..., object]) -> str:
    """``WhisperAsr.transcribe`` for ``asyncio.to_thread(asr.transcribe, ...)``."""
    if isinstance(fn, functools.partial):  # to_thread: partial(context.run, func, *args)
        if isinstance(getattr(fn.func, "__self__", None), contextvars.Context) and fn.args:
            fn = fn.args[0]
        else:
            fn = fn.func
    return str(getattr(fn, "__qualname__", type(fn).__name__))


class WatchedExecutor(ThreadPoolExecutor):
    """A thread pool that remembers which calls are running and since when.

    Set as the event loop's default executor, it sees every ``asyncio.to_thread``.
    (Subclassed because ``loop.set_default_executor`` takes only a ThreadPoolExecutor.)
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(thread_name_prefix="hv-worker")
        self.clock = clock
        self.abandon = False
        """Set when the daemon gives up on running calls: shutdown then never waits."""
        self._running: dict[int, tuple[str, float, bool]] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        job, name, watched = next(self._ids), _job_name(fn), not _UNWATCHED.get()

        def run() -> T:
            with self._lock:
                self._running[job] = (name, self.clock(), watched)
            try:
                return fn(*args, **kwargs)
            finally:
                with self._lock:
                    self._running.pop(job, None)

        return super().submit(run)

    def busy(self) -> bool:
        """Whether an engine call (not an input read) is running."""
        with self._lock:
            return any(watched for _, _, watched in self._running.values())

    def running(self) -> int:
        """Calls running now, input reads included (threads an exit would wait for)."""
        with self._lock:
            return len(self._running)

    def stuck(self, limit_s: float) -> list[tuple[str, float]]:
        """``(call, seconds running)`` of each call running longer than ``limit_s``."""
        now = self.clock()
        with self._lock:
            ages = [(name, now - t) for name, t, watched in self._running.values() if watched]
        return sorted((name, age) for name, age in ages if age > limit_s)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if self.abandon:  # a stuck call must not hold up the exit
            wait, cancel_futures = False, True
        super().shutdown(wait=wait, cancel_futures=cancel_futures)


def stalled(beats: Heartbeats, executor: WatchedExecutor, limit_s: float) -> list[str]:
    """What is wrong, one short phrase per silent worker or stuck call; empty when healthy."""
    problems = [f"{w}: silent for {age:.1f} s" for w, age in beats.silent(limit_s)]
    stuck = executor.stuck(limit_s)
    problems += [f"{ENGINE}: {name} running for {age:.1f} s" for name, age in stuck]
    return problems
