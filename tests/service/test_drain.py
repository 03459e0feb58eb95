"""The daemon drains its pipeline for a reload or a stop, in process on the real models.

A file fed through a reload mid-file gives the same turns as without one, and every
chunk is heard by exactly one run (the chunks the drained run read ahead start the next);
a stop that comes while a reload is applied ends the next run before it hears anything.
"""

from __future__ import annotations

import dataclasses
import os
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from hearthvox import config as config_mod
from hearthvox.audio.sinks import NullSink
from hearthvox.audio.sources import array_source
from hearthvox.bundles.default import default_model_paths
from hearthvox.engines import Engines
from hearthvox.events import (
    AudioChunk,
    Event,
    NoSpeech,
    Reply,
    SpeechEnded,
    SpeechStarted,
    Transcript,
    TurnDone,
    WakeDetected,
)
from hearthvox.service import daemon as daemon_mod
from hearthvox.service.daemon import Daemon, DaemonOptions
from hearthvox.service.logs import StateLog
from hearthvox.service.notify import Notifier
from hearthvox.settings import engine_config
from tests.conftest import silence, speak16
from tests.service.test_reload import _runtime

Audio = npt.NDArray[np.int16]
Turn = tuple[object, ...]


@pytest.fixture(scope="module")
def conversation(engines: Engines) -> Audio:
    """A request, a follow-up without the wake word, the window closing, a second request."""
    request = speak16(engines, "Hey Jarvis. What time is it?")
    follow_up = speak16(engines, "What is the date today?")
    return np.concatenate(
        [silence(1.0), request, silence(1.0), follow_up, silence(9.0), request, silence(3.0)]
    )


class Run:
    """One daemon over ``audio``; ``act`` sees each event (with the daemon) as it comes."""

    def __init__(self, engines: Engines, tmp: Path, audio: Audio) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        self.config = tmp / "config.toml"
        self.config.write_text("", encoding="utf-8")
        cfg = engine_config(config_mod.load(self.config), default_model_paths())
        runtime = dataclasses.replace(_runtime(engines, tmp / "state"), cfg=cfg)
        state = StateLog(Notifier(None), journal=False, quiet=True)
        source = array_source(audio, 16000, cfg.audio.chunk_ms, realtime=False)
        # a file fed faster than speech: each pause's guess is waited for (the same turns
        # on every run, whatever decodes take)
        options = DaemonOptions(config_path=self.config, realtime=False)
        self.daemon = Daemon(runtime, source, NullSink(), self._event, state=state, options=options)
        self.events: list[tuple[int, Event]] = []
        """Each event with the run (the feed's generation) it came from."""
        self.generations: list[list[AudioChunk]] = []
        """What each run's source read from the feed."""
        self.act: Callable[[Event], None] = lambda event: None
        chunks = self.daemon.feed.chunks

        async def spied() -> AsyncIterator[AudioChunk]:
            read: list[AudioChunk] = []
            self.generations.append(read)
            async for chunk in chunks():
                read.append(chunk)
                yield chunk

        self.daemon.feed.chunks = spied  # type: ignore[method-assign]

    def _event(self, event: Event) -> None:
        self.events.append((len(self.generations) - 1, event))
        self.act(event)

    def run(self) -> list[tuple[int, Event]]:
        assert self.daemon.run() is False and not self.daemon.cancelled
        return self.events


def _turns(events: list[tuple[int, Event]]) -> list[Turn]:
    """What makes the turns: where each boundary fell, what was heard and answered."""
    out: list[Turn] = []
    for _, e in events:
        match e:
            case WakeDetected() | SpeechEnded():
                out.append((type(e).__name__, e.t_audio_ms))
            case SpeechStarted() | NoSpeech():
                out.append((type(e).__name__, e.t_audio_ms, e.follow_up))
            case Transcript():
                out.append(("Transcript", e.t_audio_ms, e.text))
            case Reply():
                out.append(("Reply", e.skill))
            case TurnDone():
                out.append(("TurnDone", e.outcome))
    return out


def _sighup_at_the_first_turn_done(event: Event) -> None:
    if isinstance(event, TurnDone) and event.turn_id == 1:
        os.kill(os.getpid(), signal.SIGHUP)


def test_a_reload_mid_file_gives_the_same_turns_and_hears_every_chunk_once(
    engines: Engines, tmp_path: Path, conversation: Audio
) -> None:
    plain = _turns(Run(engines, tmp_path / "plain", conversation).run())
    assert [t[1] for t in plain if t[0] == "Reply"] == ["time", "date", "time"], plain

    reloaded = Run(engines, tmp_path / "reloaded", conversation)
    reloaded.act = _sighup_at_the_first_turn_done
    events = reloaded.run()
    assert _turns(events) == plain

    # two runs: the drain waited for the follow-up (its window is part of the turn), and
    # the second run heard the last request
    first, second = reloaded.generations
    assert [e.skill for g, e in events if isinstance(e, Reply) and g == 0] == ["time", "date"]
    assert [e.skill for g, e in events if isinstance(e, Reply) and g == 1] == ["time"]
    # the first run's read-ahead starts the second: every chunk heard once, in order
    assert reloaded.daemon.feed.pending() == 0
    start = second[0].t_audio_ms
    handed_back = [c.t_audio_ms for c in first if c.t_audio_ms >= start]
    assert handed_back and [c.t_audio_ms for c in second[: len(handed_back)]] == handed_back
    heard = [c.t_audio_ms for c in first if c.t_audio_ms < start] + [c.t_audio_ms for c in second]
    assert heard == [80 * k for k in range(-(-len(conversation) // 1280))]


def test_a_stop_while_a_reload_is_applied_ends_the_next_run_before_it_hears(
    engines: Engines, tmp_path: Path, conversation: Audio, monkeypatch: pytest.MonkeyPatch
) -> None:
    reload_runtime = daemon_mod.reload_runtime

    def stopped_meanwhile(*args: object) -> object:
        os.kill(os.getpid(), signal.SIGTERM)  # handled on the loop while this thread works
        return reload_runtime(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(daemon_mod, "reload_runtime", stopped_meanwhile)
    run = Run(engines, tmp_path, conversation)
    run.act = _sighup_at_the_first_turn_done
    events = run.run()
    assert len(run.generations) == 2
    assert [e.skill for _, e in events if isinstance(e, Reply)] == ["time", "date"]
    assert [e for g, e in events if g == 1] == []  # the last request was never heard
