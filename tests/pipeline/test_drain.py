"""Draining the loop (a reload or a shutdown): the listener ends its input at the first
chunk outside a turn, the run returns as at the end of its input, and what the source read
ahead and the listener did not take is handed back, in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from hearthvox.audio.sources import array_source
from hearthvox.config import Config
from hearthvox.engines import Engines
from hearthvox.events import (
    AudioChunk,
    Event,
    NoSpeech,
    Reply,
    ReplyDone,
    SpeechEnded,
    TurnDone,
    WakeDetected,
)
from hearthvox.pipeline.clock import StreamClock
from hearthvox.pipeline.control import ControlLane, Drain, ToListener, TurnOver
from hearthvox.pipeline.listener import Listener, State
from hearthvox.pipeline.runner import AUDIO_QUEUE, Pipeline
from tests.conftest import silence, speak16
from tests.pipeline.test_pipeline import ListSink, router_for

WAIT_S = 60.0  # bound on every wait here; a healthy run needs far less


def _chunk(k: int) -> AudioChunk:
    return AudioChunk(np.zeros(1280, dtype=np.int16), 16000, k * 80)


def _times(chunks: list[AudioChunk]) -> list[int]:
    return [c.t_audio_ms for c in chunks]


async def _settle() -> None:
    """Let every task that can run, run."""
    for _ in range(20):
        await asyncio.sleep(0)


def test_the_listener_drains_between_turns_and_takes_nothing_more(engines: Engines) -> None:
    async def main() -> None:
        listener = Listener(engines.wake, engines.vad, Config(), StreamClock())
        lane: ControlLane[ToListener] = ControlLane()
        audio: asyncio.Queue[AudioChunk | None] = asyncio.Queue()
        taken: list[int] = []

        async def take() -> None:
            async for chunk in listener.take(audio, lane):
                taken.append(chunk.t_audio_ms)

        # a turn is being answered: the drain waits on the lane with the audio untouched
        listener.state = State.BUSY
        for k in range(3):
            audio.put_nowait(_chunk(k))
        lane.send(Drain())
        taking = asyncio.create_task(take())
        await _settle()
        assert not taking.done() and taken == [] and audio.qsize() == 3
        # the turn is over and asked for a follow-up: a reload's drain waits for the window
        lane.send(TurnOver(follow_up=True))
        await _settle()
        assert listener.in_turn() and not listener.in_turn(follow_up=False)
        assert not taking.done() and taken == [0, 80, 160]  # heard, then waiting for audio
        # a shutdown's drain does not wait for it, and ends the input while none comes
        lane.send(Drain(follow_up=False))
        await asyncio.wait_for(taking, WAIT_S)
        assert taken == [0, 80, 160]

        # idle: the drain ends the input before the next chunk
        fresh = Listener(engines.wake, engines.vad, Config(), StreamClock())
        audio.put_nowait(_chunk(3))
        lane.send(Drain())
        assert [c async for c in fresh.take(audio, lane)] == []
        assert audio.qsize() == 1

    asyncio.run(main())


def test_a_follow_up_window_is_a_turn_for_a_reload_only(engines: Engines) -> None:
    listener = Listener(engines.wake, engines.vad, Config(), StreamClock())
    assert not listener.in_turn()
    listener.state = State.LISTENING  # woken: a turn for both
    assert listener.in_turn() and listener.in_turn(follow_up=False)
    listener.follow_up = True  # a follow-up window, no speech yet
    assert listener.in_turn() and not listener.in_turn(follow_up=False)
    listener.endpointer.in_speech = True  # speech in the window: a turn for both
    assert listener.in_turn() and listener.in_turn(follow_up=False)


def _request(engines: Engines, after_s: float) -> npt.NDArray[np.int16]:
    return np.concatenate(
        [silence(1.0), speak16(engines, "Hey Jarvis. What time is it?"), silence(after_s)]
    )


async def _spied(
    source: AsyncIterator[AudioChunk], read: list[AudioChunk]
) -> AsyncIterator[AudioChunk]:
    async for chunk in source:
        read.append(chunk)
        yield chunk


def test_a_drain_with_no_input_coming_ends_the_run_at_once(
    engines: Engines, tmp_path: Path
) -> None:
    async def main() -> tuple[list[Event], list[AudioChunk]]:
        never: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def silent() -> AsyncIterator[AudioChunk]:
            await never
            yield _chunk(0)

        pipeline = Pipeline(engines, router_for(tmp_path), Config())
        asyncio.get_running_loop().call_later(0.2, pipeline.drain)

        async def run() -> list[Event]:
            return [e async for e in pipeline.run(silent(), ListSink())]

        return await asyncio.wait_for(run(), WAIT_S), pipeline.leftover

    assert asyncio.run(main()) == ([], [])


def test_a_drain_before_the_run_hands_back_every_chunk_read(
    engines: Engines, tmp_path: Path
) -> None:
    cfg = Config()
    pipeline = Pipeline(engines, router_for(tmp_path), cfg)
    pipeline.drain()
    read: list[AudioChunk] = []

    async def main() -> list[Event]:
        source = array_source(silence(3.0), 16000, cfg.audio.chunk_ms, realtime=False)
        return [e async for e in pipeline.run(_spied(source, read), ListSink())]

    assert asyncio.run(main()) == []
    # the listener took nothing: whatever the source read by then is handed back
    assert _times(pipeline.leftover) == _times(read) and len(read) <= AUDIO_QUEUE + 1
    assert _times(read) == [80 * k for k in range(len(read))]


@pytest.mark.parametrize("follow_up", [True, False], ids=["reload", "shutdown"])
def test_a_drain_in_a_turn_lets_it_finish_then_ends_the_run(
    engines: Engines, tmp_path: Path, follow_up: bool
) -> None:
    """Asked at the wake word: the turn is answered and its reply spoken; a reload's drain
    also waits out the follow-up window. Then the run ends, and the first chunk handed back
    is the one after the last heard."""
    cfg = Config()
    audio = _request(engines, after_s=10.0)
    pipeline = Pipeline(engines, router_for(tmp_path), cfg)
    sink = ListSink()
    read: list[AudioChunk] = []

    async def main() -> list[Event]:
        source = array_source(audio, 16000, cfg.audio.chunk_ms, realtime=False)
        events: list[Event] = []
        async for event in pipeline.run(_spied(source, read), sink):
            events.append(event)
            if isinstance(event, WakeDetected):
                pipeline.drain(follow_up=follow_up)
        return events

    events = asyncio.run(main())
    kinds = [type(e).__name__ for e in events]
    assert kinds.count("WakeDetected") == 1 and kinds.count("SpeechEnded") == 1, kinds
    assert [e.skill for e in events if isinstance(e, Reply)] == ["time"]
    assert any(isinstance(e, ReplyDone) for e in events) and sink.chunks  # spoken
    done = [e for e in events if isinstance(e, TurnDone)]
    assert [d.outcome for d in done] == ["answered"]
    last = events[-1]
    if follow_up:  # the window opened after the reply and closed with no speech
        assert isinstance(last, NoSpeech) and last.follow_up, kinds
    else:
        assert last is done[0], kinds
    left = pipeline.leftover
    assert left and _times(read[-len(left) :]) == _times(left)  # not taken, in order
    assert left[0].t_audio_ms == last.t_audio_ms  # the very next chunk after the last heard
    assert len(read) < len(audio) // 1280  # ended before the input did
    speech_end = next(e for e in events if isinstance(e, SpeechEnded)).t_audio_ms
    assert speech_end < left[0].t_audio_ms
