"""Samples of the daemon's RSS, CPU, open fds and threads, taken on a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import psutil


@dataclass(frozen=True)
class Sample:
    t_s: float
    """Seconds since the soak started."""
    life: int
    """Which daemon process (0 the first; each restart adds one)."""
    age_s: float
    """Seconds since that process started."""
    rss_mib: float
    cpu_pct: float | None
    """Share of one core since the previous sample of the same process."""
    fds: int
    threads: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Sampler:
    """Every ``every_s``, a :class:`Sample` of the process ``target()`` names."""

    def __init__(
        self, every_s: float, t0: float, target: Callable[[], tuple[int, int, float] | None]
    ) -> None:
        self.every_s = every_s
        self.t0 = t0
        self.target = target
        """(life, pid, its start on the monotonic clock) of the daemon now; None while none runs."""
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._last: dict[int, tuple[float, float]] = {}
        self._thread = threading.Thread(target=self._run, name="soak-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.take()

    def take(self) -> Sample | None:
        now = self.target()
        if now is None:
            return None
        life, pid, started = now
        try:
            proc = psutil.Process(pid)
            with proc.oneshot():
                rss = proc.memory_info().rss / 2**20
                cpu = proc.cpu_times()
                fds = proc.num_fds()
                threads = proc.num_threads()
        except psutil.Error:  # it ended between the look-up and the sample
            return None
        t = time.monotonic()
        busy = cpu.user + cpu.system
        last = self._last.get(life)
        pct = 100.0 * (busy - last[1]) / (t - last[0]) if last and t > last[0] else None
        self._last[life] = (t, busy)
        sample = Sample(
            t_s=round(t - self.t0, 1),
            life=life,
            age_s=round(t - started, 1),
            rss_mib=round(rss, 2),
            cpu_pct=None if pct is None else round(pct, 1),
            fds=fds,
            threads=threads,
        )
        self.samples.append(sample)
        return sample
