"""Composes the stages into the voice loop."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from hearthvox.config import Config
from hearthvox.engines import Engines
from hearthvox.events import AudioChunk, Event
from hearthvox.pipeline.clock import StreamClock
from hearthvox.pipeline.listener import Listener
from hearthvox.pipeline.stages import Answerer, Sink, answer_stage, speak_stage, transcribe_stage
from hearthvox.pipeline.turns import track_turns


class Pipeline:
    """wake -> listen -> transcribe -> answer -> speak, one turn at a time."""

    def __init__(
        self,
        engines: Engines,
        router: Answerer,
        cfg: Config,
        announcements: Callable[[], list[str]] = list,
    ) -> None:
        self.engines = engines
        self.router = router
        self.cfg = cfg
        self.announcements = announcements

    async def run(self, source: AsyncIterator[AudioChunk], sink: Sink) -> AsyncIterator[Event]:
        """Run the loop over ``source`` until it ends, yielding every event."""
        clock = StreamClock()
        e = self.engines
        e.wake.reset()
        e.vad.reset()
        listener = Listener(e.wake, e.vad, self.cfg, clock, self.announcements)
        events = listener.run(source)
        events = transcribe_stage(events, e.asr, clock)
        events = answer_stage(events, self.router, self.cfg.skills.apology, clock)
        events = speak_stage(events, e.tts, sink, clock)
        async for event in track_turns(events, listener, clock):
            yield event
