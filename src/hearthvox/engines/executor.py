"""One thread per engine: its calls run in order, off the event loop, and never queue
behind another engine's work.

Each engine (wake, VAD, ASR, TTS) owns an :class:`EngineExecutor`; a copy of the engine
on the same loaded model (a retuned one, another stream) shares it, so the model is
only ever run from its own thread. The executor knows which call runs and since when:
the service's watchdog reads :meth:`TrackedExecutor.stuck` of each engine.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


def call_name(fn: Callable[..., object]) -> str:
    """``WhisperAsr.transcribe`` for a bound method, a partial of one (also the
    ``partial(context.run, func, ...)`` of ``asyncio.to_thread``), or a function."""
    while isinstance(fn, functools.partial):
        if isinstance(getattr(fn.func, "__self__", None), contextvars.Context) and fn.args:
            fn = fn.args[0]
        else:
            fn = fn.func
    return str(getattr(fn, "__qualname__", type(fn).__name__))


class TrackedExecutor(ThreadPoolExecutor):
    """A thread pool that remembers which calls are running and since when."""

    def __init__(
        self,
        max_workers: int | None,
        prefix: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix=prefix)
        self.clock = clock
        self._running: dict[int, tuple[str, float, bool]] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()

    def watched(self) -> bool:
        """Whether a call submitted now counts as work the watchdog judges."""
        return True

    def label(self, name: str) -> str:
        """How a stuck call is named in the watchdog's status."""
        return name

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        job, name, watched = next(self._ids), call_name(fn), self.watched()

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
        """Whether a watched call is running."""
        with self._lock:
            return any(watched for _, _, watched in self._running.values())

    def running(self) -> int:
        """Calls running now, watched or not (threads an exit would wait for)."""
        with self._lock:
            return len(self._running)

    def stuck(self, limit_s: float) -> list[tuple[str, float]]:
        """``(call, seconds running)`` of each watched call running longer than ``limit_s``."""
        now = self.clock()
        with self._lock:
            ages = [(name, now - t) for name, t, watched in self._running.values() if watched]
        return sorted((self.label(name), age) for name, age in ages if age > limit_s)


class EngineExecutor(TrackedExecutor):
    """The single thread of one engine, named after it (``hv-asr``)."""

    def __init__(self, engine: str, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(1, f"hv-{engine}", clock)
        self.engine = engine

    def label(self, name: str) -> str:
        return f"{self.engine}: {name}"

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` on this engine's thread, awaited from the event loop."""
        return await asyncio.wrap_future(self.submit(fn, *args, **kwargs))
