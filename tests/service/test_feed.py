"""The feed: read ahead with heartbeats, generations that take back what a run left, errors
passed on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import pytest

from hearthvox.errors import AudioDeviceError
from hearthvox.events import AudioChunk
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


def test_chunks_put_back_start_the_next_generation() -> None:
    """A run drained mid-input hands back what it read and did not hear: the next
    generation starts with exactly those, then goes on from the queue."""

    async def main() -> tuple[list[int], list[int]]:
        feed = Feed(_source(10), Heartbeats())
        reader = asyncio.create_task(feed.read())
        first: list[AudioChunk] = []
        async for chunk in feed.chunks():
            first.append(chunk)
            if len(first) == 6:  # the run's reader had read six, its listener heard four
                break
        feed.put_back(first[4:])
        assert feed.pending() >= 2 and not feed.ended
        rest = [c.t_audio_ms async for c in feed.chunks()]
        await reader
        assert feed.ended
        return [c.t_audio_ms for c in first[:4]], rest

    heard, rest = asyncio.run(main())
    assert heard + rest == [k * 80 for k in range(10)]


def test_chunks_put_back_after_the_end_was_reached_are_heard_before_it() -> None:
    """The run's reader reached the end of the input, its listener was drained before:
    the input has not ended for the daemon until the next generation hears the rest."""

    async def main() -> list[int]:
        feed = Feed(_source(3), Heartbeats())
        reader = asyncio.create_task(feed.read())
        read = [c async for c in feed.chunks()]
        await reader
        assert feed.ended
        feed.put_back(read[1:])
        assert not feed.ended
        rest = [c.t_audio_ms async for c in feed.chunks()]
        assert feed.ended
        return rest

    assert asyncio.run(main()) == [80, 160]


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
