"""The speak stage's side of a barge-in: a stop from the listener ends the chunk that
plays, and no chunk is handed to the speaker after it."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np

from hearthvox.pipeline.control import ControlLane, StopReply
from hearthvox.pipeline.stages import _played

CHUNK = np.zeros(1600, dtype=np.int16)


class SlowSpeaker:
    """Takes ``handoff_s`` to take a chunk, then plays it for ``play_s`` unless stopped;
    like a real one, it forgets a stop once it is handed a new chunk."""

    def __init__(self, handoff_s: float, play_s: float) -> None:
        self.handoff_s = handoff_s
        self.play_s = play_s
        self.writes = 0
        self._stop = threading.Event()

    def write(self, samples: object, rate_hz: int) -> None:
        self.writes += 1
        time.sleep(self.handoff_s)
        self._stop.clear()
        self._stop.wait(self.play_s)

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        pass


def test_a_stop_before_the_speaker_took_the_chunk_still_stops_it() -> None:
    speaker = SlowSpeaker(handoff_s=0.1, play_s=30.0)
    stops: ControlLane[StopReply] = ControlLane()

    async def main() -> bool:
        asyncio.get_running_loop().call_later(0.01, stops.send, StopReply())
        return await asyncio.wait_for(_played(speaker, CHUNK, 16000, stops), 10.0)

    assert asyncio.run(main()) is True  # not the 30 s the chunk lasts


def test_a_stop_said_between_two_chunks_plays_neither() -> None:
    speaker = SlowSpeaker(handoff_s=0.0, play_s=30.0)
    stops: ControlLane[StopReply] = ControlLane()
    stops.send(StopReply())
    assert asyncio.run(_played(speaker, CHUNK, 16000, stops)) is True
    assert speaker.writes == 0 and not stops.pending()


def test_with_no_stop_the_chunk_plays_to_its_end() -> None:
    speaker = SlowSpeaker(handoff_s=0.0, play_s=0.05)
    stops: ControlLane[StopReply] = ControlLane()
    assert asyncio.run(_played(speaker, CHUNK, 16000, stops)) is False
    assert speaker.writes == 1
