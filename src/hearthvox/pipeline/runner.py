"""Composes the stages into the voice loop."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence

from hearthvox.config import Config
from hearthvox.engines import Engines
from hearthvox.events import AudioChunk, Event
from hearthvox.pipeline.clock import StreamClock
from hearthvox.pipeline.listener import Listener
from hearthvox.pipeline.speculate import Previewer, SpeculativeAsr, SpeculativeReply
from hearthvox.pipeline.stages import Answerer, Sink, answer_stage, speak_stage, transcribe_stage
from hearthvox.pipeline.turns import FeedTiming, track_turns

log = logging.getLogger(__name__)

Observer = Callable[[Event], None]
"""Sees every event as it leaves the pipeline; must be quick and must not block."""


async def _timed_feed(
    source: AsyncIterator[AudioChunk], clock: StreamClock, feed: FeedTiming
) -> AsyncIterator[AudioChunk]:
    async for chunk in source:
        feed.taken_s = time.perf_counter()
        end_ms = chunk.t_audio_ms + len(chunk.samples) * 1000.0 / chunk.rate_hz
        feed.backlog_ms = round(max(0.0, clock.wall_ms() - end_ms), 1)
        yield chunk


class Pipeline:
    """wake -> listen -> transcribe -> answer -> speak, one turn at a time."""

    def __init__(
        self,
        engines: Engines,
        router: Answerer,
        cfg: Config,
        announcements: Callable[[], list[str]] = list,
        observers: Sequence[Observer] = (),
    ) -> None:
        self.engines = engines
        self.router = router
        self.cfg = cfg
        self.announcements = announcements
        self.observers = list(observers)

    async def run(self, source: AsyncIterator[AudioChunk], sink: Sink) -> AsyncIterator[Event]:
        """Run the loop over ``source`` until it ends, yielding every event."""
        clock = StreamClock()
        e = self.engines
        e.wake.reset()
        e.vad.reset()
        speculator = SpeculativeAsr(e.asr) if self.cfg.endpoint.adaptive else None
        replies = (
            SpeculativeReply(self.router, e.tts)
            if speculator is not None and isinstance(self.router, Previewer)
            else None
        )
        listener = Listener(e.wake, e.vad, self.cfg, clock, self.announcements, speculator, replies)
        feed = FeedTiming()
        events = listener.run(_timed_feed(source, clock, feed))
        events = transcribe_stage(events, speculator or e.asr, clock)
        events = answer_stage(events, self.router, self.cfg.skills.apology, clock)
        events = speak_stage(events, e.tts, sink, clock, replies)
        async for event in track_turns(events, listener, clock, feed):
            for observe in list(self.observers):
                try:
                    observe(event)
                except Exception as exc:  # an observer's bug must not stop the assistant
                    # the type only: a message could quote what was said
                    log.warning("observer %r failed (%s); detached", observe, type(exc).__name__)
                    self.observers.remove(observe)
            yield event
