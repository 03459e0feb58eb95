"""Shared bits for the telemetry tests: a clock to drive and a turn record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DAY_S = 86400.0


@dataclass
class DrivenClock:
    """A clock the test moves by hand (retention is judged against it)."""

    t: float = 1_790_000_000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def turn(
    first_audio_ms: float = 800.0,
    *,
    outcome: str = "answered",
    woke: bool = True,
    asr: tuple[float | None, float | None] = (300.0, 0.2),
    rss_mb: float = 500.0,
    **extra: Any,
) -> dict[str, Any]:
    """A turn record as the observer submits it."""
    return {
        "turn_id": 1,
        "outcome": outcome,
        "skill": "time" if outcome == "answered" else None,
        "bundle": "default-0.1.0",
        "profile": "x86-avx2",
        "woke": woke,
        "audio_s": 1.3,
        "rss_mb": rss_mb,
        "cpu_ms": 420.0,
        "error": "asr:engine_error" if outcome == "error" else None,
        "stages": {"asr": asr, "end_of_speech_to_first_audio": (first_audio_ms, None)},
        **extra,
    }
