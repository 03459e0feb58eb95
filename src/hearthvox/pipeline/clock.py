"""The two clocks of a stream: position in the input audio and wall time since start."""

from __future__ import annotations

import time


class StreamClock:
    def __init__(self) -> None:
        self._t0 = time.monotonic()
        self.audio_ms = 0.0
        """Position in the input stream, advanced by the listener."""

    def wall_ms(self) -> int:
        return int((time.monotonic() - self._t0) * 1000.0)

    def stamp(self) -> tuple[int, int]:
        """``(t_audio_ms, t_wall_ms)`` for an event happening now."""
        return int(self.audio_ms), self.wall_ms()
