"""Builds the voice loop: every stage a task under one task group.

source -> listener -> transcribe -> answer -> speak -> turn tracker, each a task,
each handing its events to the next on a bounded queue; the turn tracker tells
the listener a turn is over on the control lane (:mod:`hearthvox.pipeline.control`),
which flows the other way. The caller reads the tracker's events from
:meth:`Pipeline.run` (observers see each first). Stages do no inference on the
loop: each engine has its own thread (:mod:`hearthvox.engines.executor`).

A run ends at the end of its source, or earlier when :meth:`Pipeline.drain` asked
for it: the listener stops taking audio between turns, the source's task is
cancelled, and the stages finish what they hold, so :meth:`Pipeline.run` returns
as at the end of the input. What the source had read and the listener had not
taken is then :attr:`Pipeline.leftover`, for the caller's next run.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from hearthvox.config import Config
from hearthvox.engines import Engines
from hearthvox.engines.llm import LlamaLlm
from hearthvox.engines.llm_remote import RemoteLlm
from hearthvox.engines.vad import SileroVad
from hearthvox.engines.wake import WakeEngine
from hearthvox.events import AudioChunk, Event
from hearthvox.pipeline.clock import StreamClock
from hearthvox.pipeline.control import (
    ControlLane,
    Drain,
    ListenNow,
    StandDown,
    StopReply,
    ToListener,
)
from hearthvox.pipeline.fallback import LlmFallback
from hearthvox.pipeline.listener import Listener
from hearthvox.pipeline.overhear import BargeInOptions, Overhearing, Playback
from hearthvox.pipeline.scribe import Scribe, segment_stage
from hearthvox.pipeline.shedding import Shedding
from hearthvox.pipeline.speculate import Decoder, Previewer, SpeculativeAsr, SpeculativeReply
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


@dataclass
class Ears:
    """The engines that hear, without a voice: a :class:`Pipeline` built on them runs
    source -> listener -> transcribe -> turn tracker, and a turn ends at its transcript
    (the eval: what the daemon would hear, with nothing answered or said)."""

    wake: WakeEngine
    vad: SileroVad
    asr: Decoder


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


class _Reader:
    """The source's task: its chunks go on the audio queue, then its end (None). Once the
    loop is over, what it read and the listener did not take is :meth:`left`."""

    def __init__(
        self, source: AsyncIterator[AudioChunk], out: asyncio.Queue[AudioChunk | None]
    ) -> None:
        self.source = source
        self.out = out
        self._held: AudioChunk | None = None
        """Read, waiting for room on the queue."""

    async def run(self) -> None:
        async for chunk in self.source:
            self._held = chunk
            await self.out.put(chunk)  # cancelled here, the chunk is not on the queue
            self._held = None
        await self.out.put(None)

    def left(self) -> list[AudioChunk]:
        """The chunks on the queue, then the one held, in the source's order."""
        left: list[AudioChunk] = []
        while not self.out.empty():
            if (chunk := self.out.get_nowait()) is not None:
                left.append(chunk)
        if self._held is not None:
            left.append(self._held)
        return left


async def _listen(
    events: AsyncIterator[Event], out: asyncio.Queue[Event | _End], reading: asyncio.Task[None]
) -> None:
    """The listener's task: once its input ends (the source's end, or a drain) the
    source's task is cancelled, so that the loop ends although the source goes on."""
    await _pump(events, out)
    reading.cancel()


class Pipeline:
    """wake -> listen -> transcribe -> answer -> speak, one turn at a time, every
    stage a task."""

    def __init__(
        self,
        engines: Engines | Ears | Scribe,
        router: Answerer | None,
        cfg: Config,
        announcements: Callable[[], list[str]] = list,
        observers: Sequence[Observer] = (),
        llm: LlamaLlm | RemoteLlm | None = None,
        shedding: Shedding | None = None,
        *,
        complete: Callable[[str], bool] | None = None,
    ) -> None:
        """``router``: the skills that answer (None on :class:`Ears` and
        :class:`~hearthvox.pipeline.scribe.Scribe`, which answer nothing).
        ``complete``: whether the skills take a text as a whole request (the command
        hangover); default, the router's own ``complete``."""
        if router is None and isinstance(engines, Engines):
            raise ValueError("a pipeline that answers needs a router")
        self.complete = complete
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
        self._listener: Listener | None = None
        self.leftover: list[AudioChunk] = []
        """After a run that a drain ended: the chunks the source had read and the listener
        had not taken, in order (the caller's next run starts with them)."""

    def stand_down(self) -> None:
        """Drop the turn the wake word just opened, unanswered (another satellite heard
        it better: :mod:`hearthvox.hub.arbiter`). The listener does it before its next
        chunk; a turn already past listening (its speech ended) goes on."""
        if self._lane is not None:
            self._lane.send(StandDown())

    def listen_now(self, model: str, settle_ms: float | None = None) -> None:
        """Listen for a command from the next chunk on: the wake word ``model`` was heard
        where the audio comes from (a satellite that detects it itself). Sent before the
        loop runs, it waits for it; while a turn is open it is ignored. ``settle_ms``:
        :attr:`~hearthvox.pipeline.control.ListenNow.settle_ms`."""
        self._tell(ListenNow(model, settle_ms))

    def drain(self, follow_up: bool = True) -> None:
        """End the run at the first chunk outside a turn (a reload or a shutdown waits for
        the turn in flight): :meth:`run` then returns as at the end of its input, and
        :attr:`leftover` holds what the listener did not take. Sent before the loop
        runs, the loop ends before its first chunk. ``follow_up``: an open follow-up
        window is waited for too (:class:`~hearthvox.pipeline.control.Drain`).

        The source's task is cancelled where it waits: for nothing to be lost, the
        source must keep what it was reading then (the service's feed does: a queue)."""
        self._tell(Drain(follow_up))

    @property
    def in_turn(self) -> bool:
        """A turn is open in the running loop (a follow-up window with no speech in it is
        not one): what ``drain(follow_up=False)`` waits for."""
        return self._listener is not None and self._listener.in_turn(follow_up=False)

    def _tell(self, message: ToListener) -> None:
        if self._lane is None:
            self._early.append(message)
        else:
            self._lane.send(message)

    async def run(
        self,
        source: AsyncIterator[AudioChunk],
        sink: Sink,
        *,
        overheard: Playback | None = None,
        realtime: bool = True,
    ) -> AsyncGenerator[Event, None]:
        """Run the loop over ``source`` until it ends, yielding every event. A stage's
        error ends the loop and is raised here; leaving the loop early (or being
        cancelled) cancels every stage.

        ``overheard``: the speaker (the same object as ``sink``) when ``source`` is a
        live microphone that hears it: the listener then listens over the replies for
        a barge-in (``[audio] barge_in``) and keeps the assistant's own sound out.

        ``realtime``: ``source`` comes at the speed of speech (a microphone, a network
        stream, a paced file). A source that does not (a file read as fast as it can
        be) is heard as if every decode took no time: the listener waits for each
        pause's guess before the next frame, so the same file gives the same turns,
        ended at the same frames, on every run and every machine."""
        out: asyncio.Queue[Event | _End] = asyncio.Queue(EVENT_QUEUE)
        self.leftover = []
        graph = asyncio.create_task(
            self._graph(source, sink, out, overheard, realtime), name="hv-pipeline"
        )
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
            try:
                await asyncio.wait({getter, graph}, return_when=asyncio.FIRST_COMPLETED)
            finally:  # also when the reader leaves or is cancelled here: no get left behind
                got = getter.done()
                if not got:
                    getter.cancel()
            if not got:
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
        realtime: bool,
    ) -> None:
        """Every stage as a task; the first stage error cancels the rest and is raised
        (alone, not in a group)."""
        clock = StreamClock()
        e = self.engines
        if isinstance(e, Scribe):
            await self._write_down(e, source, out, clock)
            return
        e.wake.reset()
        e.vad.reset()
        speculator = SpeculativeAsr(e.asr) if self.cfg.endpoint.adaptive else None
        fallback = (
            LlmFallback(self.llm, self._remember)
            if self.llm is not None and isinstance(e, Engines)
            else None
        )
        replies = (
            SpeculativeReply(self.router, e.tts, fallback)
            if speculator is not None
            and isinstance(self.router, Previewer)
            and isinstance(e, Engines)
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
            e.wake,
            e.vad,
            self.cfg,
            clock,
            self.announcements,
            speculator,
            replies,
            over,
            stops,
            realtime=realtime,
            complete=self.complete or _complete(self.router),
        )
        self.overhearing = over
        self._listener = listener
        feed = FeedTiming()
        audio: asyncio.Queue[AudioChunk | None] = asyncio.Queue(AUDIO_QUEUE)
        reader = _Reader(source, audio)
        heard: asyncio.Queue[Event | _End] = asyncio.Queue(EVENT_QUEUE)
        transcribed: asyncio.Queue[Event | _End] = asyncio.Queue(EVENT_QUEUE)
        chunks = _timed_feed(listener.take(audio, lane), clock, feed)
        heard_events = listener.run(chunks)
        texts = transcribe_stage(_drained(heard), speculator or e.asr, clock, self.shedding)
        later: list[tuple[AsyncIterator[Event], asyncio.Queue[Event | _End], str]] = [
            (texts, transcribed, "hv-transcribe")
        ]
        if isinstance(e, Engines):
            answered: asyncio.Queue[Event | _End] = asyncio.Queue(EVENT_QUEUE)
            spoken: asyncio.Queue[Event | _End] = asyncio.Queue(EVENT_QUEUE)
            assert self.router is not None  # checked when made
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
            later += [(replied, answered, "hv-answer"), (played, spoken, "hv-speak")]
        else:  # hearing only: a turn ends at its transcript
            turns = track_turns(_drained(transcribed), lane, clock, feed, ends_at_transcript=True)
        later.append((turns, out, "hv-turns"))
        try:
            async with asyncio.TaskGroup() as group:
                reading = group.create_task(reader.run(), name="hv-source")
                group.create_task(_listen(heard_events, heard, reading), name="hv-listener")
                for items, queue, name in later:
                    group.create_task(_pump(items, queue), name=name)
        except BaseExceptionGroup as errors:
            raise _first(errors) from None
        else:
            self.leftover = reader.left()
        finally:
            self._listener = None
            if over is not None:
                over.close()
            if fallback is not None:
                fallback.close()

    async def _write_down(
        self,
        scribe: Scribe,
        source: AsyncIterator[AudioChunk],
        out: asyncio.Queue[Event | _End],
        clock: StreamClock,
    ) -> None:
        """source -> segmenter -> transcribe, each a task (:mod:`hearthvox.pipeline.scribe`)."""
        audio: asyncio.Queue[AudioChunk | _End] = asyncio.Queue(AUDIO_QUEUE)
        segments: asyncio.Queue[Event | _End] = asyncio.Queue(EVENT_QUEUE)
        texts = transcribe_stage(_drained(segments), scribe.asr, clock, admit=scribe.admit)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(_pump(source, audio), name="hv-source")
                cut = segment_stage(_drained(audio), scribe, clock)
                group.create_task(_pump(cut, segments), name="hv-segment")
                group.create_task(_pump(texts, out), name="hv-transcribe")
        except BaseExceptionGroup as errors:
            raise _first(errors) from None


def _complete(router: Answerer | None) -> Callable[[str], bool] | None:
    """The router's :meth:`~hearthvox.skills.SkillRouter.complete`, its last answer kept
    (the listener asks on every frame of a hangover), or None."""
    complete = getattr(router, "complete", None)
    return functools.lru_cache(maxsize=1)(complete) if callable(complete) else None


def _first(errors: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first error of a task group, out of any nested groups."""
    error: BaseException = errors
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error
