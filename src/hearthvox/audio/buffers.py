"""Re-blocking of a sample stream into fixed-size chunks."""

from __future__ import annotations

import numpy as np

from hearthvox.events import Int16Array


class Rechunker:
    """Collects blocks of any size and hands out blocks of exactly ``size`` samples."""

    def __init__(self, size: int) -> None:
        if size <= 0:
            raise ValueError(f"chunk size must be positive, got {size}")
        self.size = size
        self._parts: list[Int16Array] = []
        self._pending = 0

    @property
    def pending(self) -> int:
        """Samples held back, waiting for a full chunk."""
        return self._pending

    def push(self, x: Int16Array) -> list[Int16Array]:
        """Add samples; return every full chunk now available, oldest first."""
        if len(x):
            self._parts.append(x)
            self._pending += len(x)
        if self._pending < self.size:
            return []
        data = np.concatenate(self._parts) if len(self._parts) > 1 else self._parts[0]
        n_full = len(data) // self.size * self.size
        out = [data[i : i + self.size] for i in range(0, n_full, self.size)]
        rest = data[n_full:]
        self._parts = [rest] if len(rest) else []
        self._pending = len(rest)
        return out

    def rest(self) -> Int16Array:
        """The partial chunk left over (possibly empty); clears it."""
        data = np.concatenate(self._parts) if self._parts else np.zeros(0, dtype=np.int16)
        self._parts = []
        self._pending = 0
        return data.astype(np.int16, copy=False)
