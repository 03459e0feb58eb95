"""The soak, five minutes of it: every kind of event at least once, nothing lost.

The long run (``scripts/soak --minutes 120``) is documented in docs/soak.md with
its figures; here the bounds are loose where five minutes are too short to tell
(RSS growth) and strict where one event is enough (a lost turn, a crash).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.audio_path.conftest import Pulse
from tests.soak.plan import Plan
from tests.soak.report import rss_fit_mib_per_h, rss_growth_mib_per_h, spread, summarize, write
from tests.soak.runner import Soak
from tests.soak.sampler import Sample

CI_MINUTES = 5.0


def _sample(t_s: float, life: int, age_s: float, rss_mib: float, fds: int = 20) -> Sample:
    return Sample(t_s, life, age_s, rss_mib, None, fds, 12)


def test_rss_fit_shares_one_slope_across_a_restart() -> None:
    # 10 MiB/h in both processes; the restart drops RSS by 300 MiB, warm-up left out
    first = [_sample(t, 0, t, 700 + 10 * t / 3600) for t in range(600, 3600, 60)]
    second = [_sample(t, 1, t - 3600, 400 + 10 * t / 3600) for t in range(3600, 7200, 60)]
    warm = [_sample(3630, 1, 30, 100.0)]
    growth = rss_growth_mib_per_h([*first, *warm, *second], warmup_s=300)
    assert growth == pytest.approx(10.0)
    assert rss_growth_mib_per_h(first[:2], warmup_s=0) is None
    assert rss_fit_mib_per_h([*first, *warm, *second], warmup_s=300) == pytest.approx(10.0)


def test_turn_peaks_late_in_a_run_are_not_growth() -> None:
    # a flat 350 MiB, and one sample in six caught during a turn (+150 MiB), more of them late
    samples = [
        _sample(t, 0, t, 500.0 if (t // 60) % 6 == 0 and t > 3600 else 350.0)
        for t in range(600, 7200, 60)
    ]
    assert rss_fit_mib_per_h(samples, warmup_s=300) > 5.0  # a line through the peaks
    assert rss_growth_mib_per_h(samples, warmup_s=300) == pytest.approx(0.0)


def test_fd_rise_is_within_one_process() -> None:
    samples = [
        _sample(0, 0, 0, 1, fds=30),
        _sample(60, 0, 60, 1, fds=33),
        _sample(120, 1, 0, 1, fds=20),
        _sample(180, 1, 60, 1, fds=21),
    ]
    assert spread(samples, 0, "fds") == {"min": 20, "max": 33, "rise": 3}


def test_every_kind_of_event_fits_in_five_minutes() -> None:
    p = Plan.for_duration(CI_MINUTES * 60)
    assert p.duration_s // p.reload_every_s >= 2
    assert p.duration_s // p.restart_every_s >= 2
    assert p.kill_at_s < p.duration_s - 2 * p.request_every_s
    assert p.duration_s / p.sample_every_s >= 15
    assert p.window_s >= 4 * p.request_every_s
    long = Plan.for_duration(7200)
    assert (long.reload_every_s, long.restart_every_s, long.sample_every_s) == (600, 900, 60)
    with pytest.raises(ValueError):
        Plan.for_duration(60)


@pytest.mark.soak
def test_five_minute_soak(pulse: Pulse, corpus_dir: Path, tmp_path: Path) -> None:
    plan = Plan.for_duration(CI_MINUTES * 60)
    soak = Soak(plan, tmp_path, corpus_dir, pulse)
    log = soak.run()
    s = summarize(plan, log, soak.sampler.samples, soak.now())
    print(write(tmp_path, s, soak.sampler.samples))
    assert s["turns_lost"] == 0, s["lost"]
    assert s["crashes"] == 0, s["crash_details"]
    assert s["final_exit"] == 0
    assert s["deliberate_kills"] == 1
    assert s["reloads"] >= 2 and s["reloads_ok"] == s["reloads"], s["events"]["reloads"]
    assert s["sound_server_restarts"] >= 2
    assert s["sound_server_recovered"] == s["sound_server_restarts"], s["events"]
    assert s["barge_ins"] >= 1 and s["barge_ins_interrupted"] == s["barge_ins"], s["events"]
    assert s["timers_set"] >= 1 and s["timers_rung"] == s["timers_set"]
    assert s["errors"] == 0, s["error_details"]
    # bounded: what one process holds after warm-up does not keep growing
    assert s["fds"]["rise"] is not None and s["fds"]["rise"] <= 16, s["fds"]
    assert s["threads"]["rise"] is not None and s["threads"]["rise"] <= 16, s["threads"]
    # five minutes with model reloads in them are too noisy for the long run's 5 MiB/h
    assert s["rss_mib"]["max"] < 1500, s["rss_mib"]
