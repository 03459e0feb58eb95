"""The feed: read ahead with heartbeats, generations that end between turns, errors passed on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import pytest

from hearthvox.errors import AudioDeviceError
from hearthvox.events import AudioChunk, TurnDone, WakeDetected
from hearthvox.service.feed import Feed
from hearthvox.service.heartbeat import PIPELINE, Heartbeats


def _chunk(k: int) -> AudioChunk:
    return AudioChunk(np.zeros(1280, dtype=np.int16), 16000, k * 80)


async def _source(
    n: int, error: Exception | None = None, reached: tuple[int, asyncio.Event] | None = None
) -> AsyncIterator[AudioChunk]:
    for k in range(n):
        if reached is not None and k == reached[0]:
            reached[1].set()
        yield _chunk(k)
    if error is not None:
        raise error


def _wake() -> WakeDetected:
    return WakeDetected(0, 0, "hey_jarvis", 0.9)


def _done() -> TurnDone:
    return TurnDone(0, 0, turn_id=1, outcome="answered", skill="time", stages_ms={}, queue_ms={})


def test_the_whole_input_in_one_generation_with_heartbeats() -> None:
    beats = Heartbeats()

    async def main() -> list[int]:
        feed = Feed(_source(5), beats)
        reader = asyncio.create_task(feed.read())
        got = [c.t_audio_ms async for c in feed.chunks()]
        await reader
        assert feed.ended and [w for w, _ in beats.silent(-1.0)] == [PIPELINE]
        return got

    assert asyncio.run(main()) == [0, 80, 160, 240, 320]  # and AUDIO retired at the end


def test_a_stop_waits_for_the_turn_then_ends_the_generation() -> None:
    async def main() -> tuple[list[int], list[int]]:
        feed = Feed(_source(10), Heartbeats())
        reader = asyncio.create_task(feed.read())
        first: list[int] = []
        async for chunk in feed.chunks():
            first.append(chunk.t_audio_ms)
            if chunk.t_audio_ms == 80:
                feed.observe(_wake())
                feed.stop_when_idle()  # a turn is open: keep feeding it
            if chunk.t_audio_ms == 240:
                feed.observe(_done())  # the turn is over: the generation ends here
        assert not feed.ended
        feed.resume()
        rest = [c.t_audio_ms async for c in feed.chunks()]
        await reader
        return first, rest

    first, rest = asyncio.run(main())
    assert first == [0, 80, 160, 240] and rest == [320, 400, 480, 560, 640, 720]


def test_a_stop_with_no_input_coming_ends_the_generation_at_once() -> None:
    async def main() -> list[AudioChunk]:
        never: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def silent() -> AsyncIterator[AudioChunk]:
            await never
            yield _chunk(0)

        feed = Feed(silent(), Heartbeats())
        reader = asyncio.create_task(feed.read())
        asyncio.get_running_loop().call_soon(feed.stop_when_idle)
        got = [c async for c in feed.chunks()]
        reader.cancel()
        return got

    assert asyncio.run(main()) == []


def test_a_failing_source_fails_the_pipeline_where_the_audio_stopped() -> None:
    async def main() -> list[int]:
        feed = Feed(_source(2, AudioDeviceError("the microphone stalled")), Heartbeats())
        reader = asyncio.create_task(feed.read())
        got: list[int] = []
        with pytest.raises(AudioDeviceError, match="stalled"):
            async for chunk in feed.chunks():
                got.append(chunk.t_audio_ms)
        await reader
        return got

    assert asyncio.run(main()) == [0, 80]


def test_the_reader_waits_when_the_pipeline_is_behind() -> None:
    async def main() -> None:
        fourth = asyncio.Event()
        feed = Feed(_source(10, reached=(3, fourth)), Heartbeats(), max_chunks=3)
        reader = asyncio.create_task(feed.read())
        await fourth.wait()  # the reader has the fourth chunk and no room for it
        assert feed.waiting and feed.pending() == 3
        assert len([c async for c in feed.chunks()]) == 10
        await reader

    asyncio.run(main())


def test_the_reader_keeps_up_through_a_slow_turn() -> None:
    """A turn that keeps the pipeline away for a minute: the reader (and barge-in, which
    sits in front of it on the microphone) still takes every chunk as it comes."""
    minute = 60_000 // 80

    async def main() -> None:
        feed = Feed(_source(minute), Heartbeats())
        reader = asyncio.create_task(feed.read())
        # the pipeline takes nothing meanwhile; the reader either finishes or waits for it
        while not (feed.waiting or reader.done()):  # noqa: ASYNC110 - no event tells "waits"
            await asyncio.sleep(0)
        assert reader.done() and not feed.waiting, f"the reader waited at {feed.pending()}"
        assert len([c async for c in feed.chunks()]) == minute

    asyncio.run(main())
