"""The clock skills and the timer store read (``time.time`` for real; tests drive their own)."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...


class SystemClock:
    """The real clock (``time.time``)."""

    def now(self) -> float:
        return time.time()
