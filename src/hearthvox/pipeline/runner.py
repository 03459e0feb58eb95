"""Builds the voice loop: every stage a task under one task group.

source -> listener -> transcribe -> answer -> speak -> turn tracker, each a task,
each handing its events to the next on a bounded queue; the turn tracker tells
the listener a turn is over on the control lane (:mod:`hearthvox.pipeline.control`),
which flows the other way. The caller reads the tracker's events from
:meth:`Pipeline.run` (observers see each first). Stages do no inference on the
loop: each engine has its own thread (:mod:`hearthvox.engines.executor`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from typing import TypeVar

from hearthvox.config import Config
from hearthvox.engines import Engines
from hearthvox.engines.llm import LlamaLlm
from hearthvox.engines.llm_remote import RemoteLlm
from hearthvox.events import AudioChunk, Event
from hearthvox.pipeline.clock import StreamClock
from hearthvox.pipeline.control import ControlLane, ListenNow, StandDown, StopReply, ToListener
from hearthvox.pipeline.fallback import LlmFallback
from hearthvox.pipeline.listener import Listener
from hearthvox.pipeline.overhear import BargeInOptions, Overhearing, Playback
from hearthvox.pipeline.shedding import Shedding
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


T = TypeVar("T")

AUDIO_QUEUE = 8
"""Chunks between the source and the listener (640 ms at 80 ms a chunk): live input
beyond it waits in the source's own buffer."""
EVENT_QUEUE = 32
"""Events between two stages; a turn makes about ten."""


class _End:
    """The end of a stage's output."""


_END = _End()


async def _pump(items: AsyncIterator[T], out: asyncio.Queue[T | _End]) -> None:
    """A stage's task: everything ``items`` yields goes on ``out``, then the end."""
    async for item in items:
        await out.put(item)
    await out.put(_END)


async def _drained(queue: asyncio.Queue[T | _End]) -> AsyncIterator[T]:
    """A stage's input: what the previous stage put on ``queue``, up to its end."""
    while not isinstance(item := await queue.get(), _End):
        yield item


class Pipeline:
    """wake -> listen -> transcribe -> answer -> speak, one turn at a time, every
    stage a task."""

    def __init__(
        self,
        engines: Engines,
        router: Answerer,
        cfg: Config,
        announcements: Callable[[], list[str]] = list,
        observers: Sequence[Observer] = (),
        llm: LlamaLlm | RemoteLlm | None = None,
        shedding: Shedding | None = None,
    ) -> None:
        self.engines = engines
        self.shedding = shedding
        """Turns past a maximum queue age get a busy reply (a hub's satellites)."""
        self.llm = llm
        """The language model for what no skill answers (``[llm] enabled``)."""
        self.router = router
        self.cfg = cfg
        self.announcements = announcements
        self.observers = list(observers)
        self.overhearing: Overhearing | None = None
        """The running loop's barge-in state (its counts), when it hears its speaker."""
        self._lane: ControlLane[ToListener] | None = None
        self._early: list[ToListener] = []
        """Told before the loop made its lane: sent to it first."""

    def stand_down(self) -> None:
        """Drop the turn the wake word just opened, unanswered (another satellite heard
        it better: :mod:`hearthvox.hub.arbiter`). The listener does it before its next
        chunk; a turn already past listening (its speech ended) goes on."""
        if self._lane is not None:
            self._lane.send(StandDown())

    def listen_now(self, model: str) -> None:
        """Listen for a command from the next chunk on: the wake word ``model`` was heard
        where the audio comes from (a satellite that detects it itself). Sent before the
        loop runs, it waits for it; while a turn is open it is ignored."""
        if self._lane is None:
            self._early.append(ListenNow(model))
        else:
            self._lane.send(ListenNow(model))

    async def run(
        self,
        source: AsyncIterator[AudioChunk],
        sink: Sink,
        *,
        overheard: Playback | None = None,
    ) -> AsyncGenerator[Event, None]:
        """Run the loop over ``source`` until it ends, yielding every event. A stage's
        error ends the loop and is raised here; leaving the loop early (or being
        cancelled) cancels every stage.

        ``overheard``: the speaker (the same object as ``sink``) when ``source`` is a
        live microphone that hears it: the listener then listens over the replies for
        a barge-in (``[audio] barge_in``) and keeps the assistant's own sound out."""
        out: asyncio.Queue[Event | _End] = asyncio.Queue(EVENT_QUEUE)
        graph = asyncio.create_task(self._graph(source, sink, out, overheard), name="hv-pipeline")
        try:
            async for event in self._read(out, graph):
                for observe in list(self.observers):
                    try:
                        observe(event)
                    except Exception as exc:  # an observer's bug must not stop the assistant
                        # the type only: a message could quote what was said
                        log.warning(
                            "observer %r failed (%s); detached", observe, type(exc).__name__
                        )
                        self.observers.remove(observe)
                yield event
        finally:
            if not graph.done():
                graph.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await graph

    def _remember(self, reply: str) -> None:
        """A streamed reply is what "repeat that" says next (the router's context)."""
        ctx = getattr(self.router, "ctx", None)
        if ctx is not None:
            ctx.last_reply = reply

    @staticmethod
    async def _read(
        out: asyncio.Queue[Event | _End], graph: asyncio.Task[None]
    ) -> AsyncIterator[Event]:
        """The tracker's events until its end; a stage's error as soon as it happens."""
        while not graph.done():
            getter = asyncio.ensure_future(out.get())
            await asyncio.wait({getter, graph}, return_when=asyncio.FIRST_COMPLETED)
            if not getter.done():
                getter.cancel()
                break
            item = getter.result()
            if isinstance(item, _End):
                await graph
                return
            yield item
        graph.result()  # the stage's error, raised here
        while not isinstance(item := out.get_nowait(), _End):  # a clean end: the rest
            yield item

    async def _graph(
        self,
        source: AsyncIterator[AudioChunk],
        sink: Sink,
        out: asyncio.Queue[Event | _End],
        overheard: Playback | None,
    ) -> None:
        """Every stage as a task; the first stage error cancels the rest and is raised
        (alone, not in a group)."""
        clock = StreamClock()
        e = self.engines
        e.wake.reset()
        e.vad.reset()
        speculator = SpeculativeAsr(e.asr) if self.cfg.endpoint.adaptive else None
        fallback = LlmFallback(self.llm, self._remember) if self.llm is not None else None
        replies = (
            SpeculativeReply(self.router, e.tts, fallback)
            if speculator is not None and isinstance(self.router, Previewer)
            else None
        )
        audio_cfg = self.cfg.audio
        over = (
            Overhearing(overheard, BargeInOptions(audio_cfg.barge_in, audio_cfg.barge_in_threshold))
            if overheard is not None
            else None
        )
        lane: ControlLane[ToListener] = ControlLane()
        self._lane = lane
        for message in self._early:
            lane.send(message)
        self._early.clear()
        barge_in = over is not None and over.opts.enabled
        stops: ControlLane[StopReply] | None = ControlLane() if barge_in else None
        listener = Listener(
            e.wake, e.vad, self.cfg, clock, self.announcements, speculator, replies, over, stops
        )
        self.overhearing = over
        feed = FeedTiming()
        audio: asyncio.Queue[AudioChunk | _End] = asyncio.Queue(AUDIO_QUEUE)
        heard: asyncio.Queue[Event | _End] = asyncio.Queue(EVENT_QUEUE)
        transcribed: asyncio.Queue[Event | _End] = asyncio.Queue(EVENT_QUEUE)
        answered: asyncio.Queue[Event | _End] = asyncio.Queue(EVENT_QUEUE)
        spoken: asyncio.Queue[Event | _End] = asyncio.Queue(EVENT_QUEUE)
        chunks = _timed_feed(listener.take(_drained(audio), lane), clock, feed)
        heard_events = listener.run(chunks)
        texts = transcribe_stage(_drained(heard), speculator or e.asr, clock, self.shedding)
        replied = answer_stage(
            _drained(transcribed),
            self.router,
            self.cfg.skills.apology,
            clock,
            fallback,
            self.shedding,
        )
        heard_by = lane if stops is not None else None  # told when a reply plays
        played = speak_stage(_drained(answered), e.tts, sink, clock, replies, stops, heard_by)
        turns = track_turns(_drained(spoken), lane, clock, feed)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(_pump(source, audio), name="hv-source")
                group.create_task(_pump(heard_events, heard), name="hv-listener")
                group.create_task(_pump(texts, transcribed), name="hv-transcribe")
                group.create_task(_pump(replied, answered), name="hv-answer")
                group.create_task(_pump(played, spoken), name="hv-speak")
                group.create_task(_pump(turns, out), name="hv-turns")
        except BaseExceptionGroup as errors:
            raise _first(errors) from None
        finally:
            if over is not None:
                over.close()
            if fallback is not None:
                fallback.close()


def _first(errors: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first error of a task group, out of any nested groups."""
    error: BaseException = errors
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error
