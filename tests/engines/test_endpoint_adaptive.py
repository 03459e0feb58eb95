"""Adaptive endpointing: the pause boundary, hangover changes, and the transcript rules."""

from __future__ import annotations

from dataclasses import replace

from hearthvox.config import EndpointConfig
from hearthvox.engines.endpoint import Endpointer, hangover_for

CFG = EndpointConfig(
    speech_start_ms=96,
    hangover_ms=480,
    pause_ms=128,
    short_hangover_ms=256,
    long_hangover_ms=960,
    command_hangover_ms=160,
)


def _push(ep: Endpointer, voiced: list[bool], start_frame: int = 0) -> list[tuple[str, float, int]]:
    out = []
    for i, v in enumerate(voiced, start=start_frame):
        b = ep.push(0.9 if v else 0.1, i * 32.0)
        if b is not None:
            out.append((b.kind, b.t_ms, i))
    return out


def test_a_pause_is_announced_once_then_the_configured_hangover_ends_it() -> None:
    ep = Endpointer(CFG, 0.5, 32.0)
    ep.arm(0.0, 5.0)
    events = _push(ep, [True] * 10 + [False] * 20)
    assert [e[0] for e in events] == ["start", "pause", "end"]
    assert events[1][1] == events[2][1] == 10 * 32.0  # both point at the last voiced frame's end
    assert events[1][2] == 10 + 3  # 4 silent frames = 128 ms
    assert events[2][2] == 10 + 14  # 15 silent frames = 480 ms


def test_a_short_hangover_ends_sooner_and_resumed_speech_restores_the_default() -> None:
    ep = Endpointer(CFG, 0.5, 32.0)
    ep.arm(0.0, 5.0)
    assert [e[0] for e in _push(ep, [True] * 10 + [False] * 4)] == ["start", "pause"]
    ep.set_hangover(256)
    # the speaker goes on: the short hangover is forgotten
    events = _push(ep, [True] * 5 + [False] * 10, start_frame=14)
    assert [e[0] for e in events] == ["pause"]
    assert ep.hangover_ms == CFG.hangover_ms
    ep.set_hangover(CFG.short_hangover_ms)
    events = _push(ep, [False] * 10, start_frame=29)
    assert events and events[0][0] == "end" and events[0][1] == 19 * 32.0
    assert events[0][2] == 29  # 320 ms of silence already: the short hangover ends it at once


def test_a_pause_that_outlasts_the_tail_is_announced_again_once() -> None:
    ep = Endpointer(CFG, 0.5, 32.0, tail_ms=200.0)
    ep.arm(0.0, 5.0)
    events = _push(ep, [True] * 10 + [False] * 20)
    assert [e[0] for e in events] == ["start", "pause", "tail", "end"]
    assert events[2][1] == 10 * 32.0  # the same pause
    assert events[2][2] == 10 + 6  # 7 silent frames = 224 ms, the first past 200
    # speech that resumes makes the next pause a new one, with its own tail
    ep.arm(0.0, 5.0)
    events = _push(ep, [True] * 10 + [False] * 8 + [True] * 5 + [False] * 20)
    assert [e[0] for e in events] == ["start", "pause", "tail", "pause", "tail", "end"]


def test_an_end_before_the_tail_has_no_tail() -> None:
    ep = Endpointer(replace(CFG, pause_ms=64), 0.5, 32.0, tail_ms=200.0)
    ep.arm(0.0, 5.0)
    assert [e[0] for e in _push(ep, [True] * 10 + [False] * 2)] == ["start", "pause"]
    ep.set_hangover(CFG.command_hangover_ms)
    assert [e[0] for e in _push(ep, [False] * 10, start_frame=12)] == ["end"]
    without = Endpointer(CFG, 0.5, 32.0)  # no tail asked for
    without.arm(0.0, 5.0)
    assert [e[0] for e in _push(without, [True] * 10 + [False] * 20)] == ["start", "pause", "end"]


def test_fixed_endpointer_never_pauses() -> None:
    ep = Endpointer(EndpointConfig(hangover_ms=480, adaptive=False), 0.5, 32.0)
    ep.arm(0.0, 5.0)
    assert [e[0] for e in _push(ep, [True] * 10 + [False] * 20)] == ["start", "end"]


def test_hangover_follows_the_speculative_transcript() -> None:
    assert hangover_for("What time is it?", CFG) == 256
    assert hangover_for("Set a timer for five minutes.", CFG) == 256
    assert hangover_for("Set a timer for", CFG) == 960
    assert hangover_for("Set a timer for five minutes and", CFG) == 960
    assert hangover_for("What time is it, um", CFG) == 960
    assert hangover_for("Turn on the...", CFG) == 960
    assert hangover_for("Set a timer", CFG) == 480  # no ending either way: the default
    assert hangover_for("", CFG) == 480


def test_a_whole_request_a_skill_takes_ends_on_the_command_hangover() -> None:
    assert hangover_for("What time is it?", CFG, command=True) == 160
    # a request the skills take but not yet finished keeps its longer hangover
    assert hangover_for("Set a timer for", CFG, command=True) == 960
    assert hangover_for("Set a timer", CFG, command=True) == 480


def test_a_short_hangover_never_undercuts_a_pause_the_speaker_already_made() -> None:
    ep = Endpointer(CFG, 0.5, 32.0)
    ep.arm(0.0, 5.0)
    # speech, a 320 ms pause, more speech: this speaker pauses that long mid-command
    _push(ep, [True] * 10 + [False] * 10 + [True] * 10)
    ep.set_hangover(CFG.short_hangover_ms)
    assert ep.hangover_ms == 320 + 64
    events = _push(ep, [False] * 20, start_frame=30)
    assert events[-1][0] == "end" and events[-1][2] == 30 + 11  # 12 silent frames = 384 ms


def test_once_speech_started_only_the_end_threshold_counts_as_speech() -> None:
    """A room's echo keeps the VAD between its threshold and the end threshold after the
    words: that is silence once speech has started, and still speech before."""
    ep = Endpointer(replace(CFG, adaptive=False, end_threshold=0.7), 0.5, 32.0)
    ep.arm(0.0, 5.0)
    probs = [0.6] * 4 + [0.9] * 10 + [0.6] * 20
    found = [(b.kind, b.t_ms) for i, p in enumerate(probs) if (b := ep.push(p, i * 32.0))]
    assert found[0] == ("start", 0.0)  # 0.6 begins speech (the start threshold is 0.5)
    assert found[1] == ("end", 14 * 32.0)  # the echo at 0.6 after the words is silence
    same = Endpointer(replace(CFG, adaptive=False, end_threshold=0.0), 0.5, 32.0)
    same.arm(0.0, 5.0)
    ends = [b for i, p in enumerate(probs) if (b := same.push(p, i * 32.0)) and b.kind == "end"]
    assert ends == []  # 0 (or anything under the VAD threshold): the old rule, still speech
