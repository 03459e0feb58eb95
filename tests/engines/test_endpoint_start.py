"""Where speech starts: a run begins above the threshold and goes on just below it."""

from __future__ import annotations

from hearthvox.config import EndpointConfig
from hearthvox.engines.endpoint import START_HYSTERESIS, Endpointer

CFG = EndpointConfig(speech_start_ms=96, hangover_ms=480, adaptive=False)


def _kinds(probs: list[float]) -> list[tuple[str, float]]:
    ep = Endpointer(CFG, 0.5, 32.0)
    ep.arm(0.0, 5.0)
    out = []
    for i, p in enumerate(probs):
        b = ep.push(p, i * 32.0)
        if b is not None:
            out.append((b.kind, b.t_ms))
    return out


def test_a_quiet_word_starts_once_one_frame_holds_the_threshold() -> None:
    # a spoken digit from an 8 kHz recording: one frame at 0.5, its neighbours lower
    word = [0.0, 0.43, 0.50, 0.44, 0.39, 0.31, 0.1]
    assert _kinds(word + [0.0] * 20)[0] == ("start", 2 * 32.0)


def test_frames_below_the_threshold_alone_never_start_speech() -> None:
    murmur = [0.5 - START_HYSTERESIS / 2] * 40
    assert [k for k, _ in _kinds(murmur + [0.0] * 150)] == ["timeout"]


def test_a_run_needs_its_frames_above_the_lower_bound() -> None:
    # one loud frame between frames under threshold - hysteresis: no start
    low = 0.5 - START_HYSTERESIS - 0.05
    assert [k for k, _ in _kinds([low, 0.9, low, low, 0.0] + [0.0] * 200)] == ["timeout"]
    # the same frame followed by two above the lower bound: a start where it was
    assert _kinds([low, 0.9, 0.4, 0.4, 0.0] + [0.0] * 20)[0] == ("start", 32.0)


def test_once_speech_runs_its_end_is_judged_at_the_threshold() -> None:
    # hysteresis is for the start only: frames at 0.4 after the start are silence
    events = _kinds([0.9] * 5 + [0.4] * 20)
    assert events == [("start", 0.0), ("end", 5 * 32.0)]
