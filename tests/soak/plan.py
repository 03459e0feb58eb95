"""When each kind of soak event happens, scaled to the run's length.

The long run's intervals are the nominal ones (a request every 20 s, a SIGHUP
reload every 10 min, a sound-server restart every 15 min, a sample every minute,
latency windows of 10 min). A shorter run shrinks every interval that would
otherwise not fit, so that a 5-minute run still does every kind of event at
least once: at least two reloads, two sound-server restarts, one kill -9, and
enough samples and turns in each latency window.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    duration_s: float
    request_every_s: float
    reload_every_s: float
    restart_every_s: float
    kill_at_s: float
    sample_every_s: float
    window_s: float
    """The first and the last window of this length give the latency figures."""
    warmup_s: float
    """Samples this soon after a daemon start are left out of the RSS fit."""
    timer_s: int
    """The timers the soak sets ring after this many seconds (before the next request)."""

    @classmethod
    def for_duration(cls, duration_s: float) -> Plan:
        if duration_s < 120:
            raise ValueError(f"a soak needs at least 120 s for every kind of event: {duration_s}")
        return cls(
            duration_s=duration_s,
            request_every_s=20.0,
            reload_every_s=min(600.0, duration_s / 3),
            restart_every_s=min(900.0, duration_s / 2.5),
            # early, so that the daemon started after it covers most of the RSS fit
            kill_at_s=min(900.0, duration_s * 0.3),
            sample_every_s=min(60.0, duration_s / 20),
            window_s=min(600.0, duration_s / 3),
            warmup_s=min(600.0, duration_s / 6),
            timer_s=6,
        )
