"""The answering stages: transcribe, answer, speak.

Each stage is an async generator over events: it passes through what it does
not handle and adds what it produces. Engines are blocking, so their calls run
off the event loop, each on its engine's own thread
(:class:`hearthvox.engines.executor.EngineExecutor`). A failure in one turn becomes a
:class:`StageError` followed by an apology, never an exception out of the
pipeline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from concurrent.futures import Future
from typing import Protocol

from hearthvox.engines.asr import AsrResult, Recogniser
from hearthvox.engines.tts import PiperTts
from hearthvox.engines.tts_chunks import Prefetch
from hearthvox.errors import EngineError, SkillError
from hearthvox.events import (
    Event,
    Int16Array,
    Interrupt,
    Reply,
    ReplyDone,
    SpeechEnded,
    StageError,
    Transcript,
    TtsFirstAudio,
)
from hearthvox.pipeline.clock import StreamClock
from hearthvox.pipeline.control import ControlLane, ReplyPlaying, StopReply, ToListener
from hearthvox.pipeline.fallback import LlmFallback
from hearthvox.pipeline.scribe import Admission
from hearthvox.pipeline.shedding import Shedding
from hearthvox.pipeline.speculate import SpeculativeAsr, SpeculativeReply
from hearthvox.pipeline.voicing import VoicedStream, chunk_of, next_chunk
from hearthvox.skills.registry import FALLBACK

log = logging.getLogger(__name__)

NOT_HEARD = "Sorry, I didn't catch that."


class Sink(Protocol):
    def write(self, samples: Int16Array, rate_hz: int) -> None: ...
    def stop(self) -> None: ...


class Answerer(Protocol):
    def answer(self, utterance: str) -> tuple[str, _Result]: ...


class _Result(Protocol):
    @property
    def text(self) -> str: ...
    @property
    def interrupt(self) -> bool: ...


def _ms_since(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000.0, 1)


def _waited_ms(created_s: float, started_s: float) -> float:
    """Queue time: from an event being made to the stage starting work on it."""
    return round(max(0.0, started_s - created_s) * 1000.0, 1)


async def transcribe_stage(
    events: AsyncIterator[Event],
    asr: Recogniser,
    clock: StreamClock,
    shedding: Shedding | None = None,
    admit: Admission | None = None,
) -> AsyncIterator[Event]:
    """Transcribe each utterance. With ``shedding``, one whose decode would start past
    the maximum queue age is not decoded: the turn's busy reply comes instead. With
    ``admit`` (a server's request on shared engines), each decode runs inside it, and an
    engine's error or a refusal ends the stage: the request fails whole."""
    async for event in events:
        yield event
        if not isinstance(event, SpeechEnded):
            continue
        t0 = time.perf_counter()
        since = event.t_created_s

        def decode(audio: Int16Array, since: float) -> AsrResult | None:
            if shedding is not None and shedding.over(since):  # checked on its thread
                return None
            return asr.transcribe(audio)

        kept = asr.kept_result(event.audio) if isinstance(asr, SpeculativeAsr) else None
        try:
            if kept is not None:
                result: AsrResult | None = kept
            else:
                async with admit() if admit is not None else contextlib.nullcontext():
                    result = await asr.executor.run(decode, event.audio, since)
        except EngineError as exc:
            if admit is not None:
                raise
            log.warning("transcription failed: %s", exc)
            yield StageError(*clock.stamp(), stage="asr", kind="engine_error", message=str(exc))
            continue
        if result is None:
            assert shedding is not None
            busy = shedding.reply(*clock.stamp(), since)
            log.warning(
                "turn shed: its speech-to-text would start %.0f ms after its end of speech "
                "(maximum queue age %.0f ms)",
                busy.queue_ms,
                shedding.max_age_s * 1000,
            )
            yield busy
            continue
        yield Transcript(
            *clock.stamp(),
            text=result.text,
            final=True,
            asr_ms=_ms_since(t0),
            audio_duration_s=round(result.audio_duration_s, 3),
            queue_ms=_waited_ms(event.t_created_s, t0),
            extra_ms=dict(result.extra_ms),
        )


async def answer_stage(
    events: AsyncIterator[Event],
    router: Answerer,
    apology: str,
    clock: StreamClock,
    llm: LlmFallback | None = None,
    shedding: Shedding | None = None,
) -> AsyncIterator[Event]:
    """The skills answer each transcript; with ``llm``, what only the fallback skill would
    answer goes to the language model, whose reply is streamed (:attr:`Reply.stream`,
    with the fallback's reply as its text, said if the model brings no words). With
    ``shedding``, a transcript that comes past the maximum queue age gets the busy
    reply (no skill runs)."""
    speech_end_s: float | None = None
    async for event in events:
        yield event
        match event:
            case SpeechEnded():
                speech_end_s = event.t_created_s
            case Reply(shed=True) if llm is not None:
                llm.drop()  # a reply the model started at the pause is not said
            case Transcript(final=True) if (
                shedding is not None and speech_end_s is not None and shedding.over(speech_end_s)
            ):
                if llm is not None:
                    llm.drop()
                busy = shedding.reply(*clock.stamp(), speech_end_s)
                log.warning(
                    "turn shed: its transcript came %.0f ms after its end of speech "
                    "(maximum queue age %.0f ms)",
                    busy.queue_ms,
                    shedding.max_age_s * 1000,
                )
                yield busy
            case StageError():
                yield Reply(*clock.stamp(), text=apology, skill="error", skill_ms=0.0)
            case Transcript(final=True, text=text) if not text.strip():
                yield StageError(
                    *clock.stamp(), stage="asr", kind="empty_transcript", message="heard nothing"
                )
                yield Reply(*clock.stamp(), text=NOT_HEARD, skill="error", skill_ms=0.0)
            case Transcript(final=True, text=text):
                t0 = time.perf_counter()
                try:
                    skill, result = router.answer(text)
                except SkillError as exc:
                    log.warning("%s", exc)
                    yield StageError(
                        *clock.stamp(), stage="skill", kind="skill_error", message=str(exc)
                    )
                    yield Reply(*clock.stamp(), text=apology, skill="error", skill_ms=0.0)
                    continue
                if skill == FALLBACK and llm is not None and not result.interrupt:
                    yield Reply(
                        *clock.stamp(),
                        text=result.text,
                        skill="llm",
                        skill_ms=_ms_since(t0),
                        queue_ms=_waited_ms(event.t_created_s, t0),
                        stream=llm.start(text),
                    )
                    continue
                if llm is not None:
                    llm.drop()  # a reply it started at the pause is not this turn's
                yield Reply(
                    *clock.stamp(),
                    text=result.text,
                    skill=skill,
                    skill_ms=_ms_since(t0),
                    interrupt=result.interrupt,
                    queue_ms=_waited_ms(event.t_created_s, t0),
                )


async def _prepared(
    prepared: Future[tuple[Prefetch[Int16Array], Future[Int16Array] | None]],
) -> tuple[Prefetch[Int16Array] | None, Future[Int16Array] | None]:
    """The stream the pause started, or nothing when it failed (then it starts anew)."""
    with contextlib.suppress(Exception):
        await asyncio.wrap_future(prepared)
    if prepared.cancelled() or prepared.exception() is not None:
        return None, None
    return prepared.result()


_WRITER_END_S = 1.0
"""After a streamed reply is cancelled, its writer's figures are awaited this long (it
stops within one token)."""
_RESTOP_S = 0.02
"""While a stopped write has not returned, the sink is told to stop again this often."""


async def _played(
    sink: Sink, samples: Int16Array, rate_hz: int, stops: ControlLane[StopReply] | None
) -> bool:
    """Play one chunk (the sink returns once it has been played); True when the
    listener said stop first (barge-in): playback is stopped at once then, and a chunk
    not yet handed to the sink is never played."""
    if stops is not None and stops.pending():  # said between two chunks
        await stops.receive()
        sink.stop()
        return True
    write = asyncio.ensure_future(asyncio.to_thread(sink.write, samples, rate_hz))
    if stops is None:
        await write
        return False
    stop = asyncio.ensure_future(stops.receive())
    try:
        await asyncio.wait({write, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not stop.done():
            stop.cancel()
    if stop.done() and not stop.cancelled():
        # The write's thread may hand the chunk over only after a first stop (a sink
        # forgets a stop once it is handed a new chunk): stop again until it returns.
        while not write.done():
            sink.stop()  # the speaker's queue is emptied in its next callback
            await asyncio.wait({write}, timeout=_RESTOP_S)
        with contextlib.suppress(Exception):  # what is left of it is dropped anyway
            write.result()
        return True
    write.result()
    return False


async def _text_chunks(
    event: Reply,
    tts: PiperTts,
    replies: SpeculativeReply | None,
    playing: list[Prefetch[Int16Array]],
) -> AsyncGenerator[Int16Array, None]:
    """A reply's audio, chunk by chunk: the one prepared at the pause when it is this
    reply, else synthesised now. ``playing`` holds the stream in use (to cancel it)."""
    sentences: Prefetch[Int16Array] | None = None
    early: Future[Int16Array] | None = None
    if event.voiced is not None:  # synthesised ahead of time (the busy reply)
        step = max(1, tts.rate_hz // 4)
        for i in range(0, len(event.voiced), step):
            yield event.voiced[i : i + step]
        return
    text = event.text if event.stream is None else ""  # a streamed reply was never prepared
    prepared = replies.take(text) if replies is not None else None
    if prepared is not None:  # answered at the pause: its first chunk is on the way
        sentences, early = await _prepared(prepared)
    if sentences is None:
        if not event.text.strip():
            return
        sentences = await tts.executor.run(tts.stream, event.text)  # phonemised there
    playing.append(sentences)
    if early is not None:
        yield await chunk_of(early, sentences)
    while (samples := await next_chunk(sentences)) is not None:
        yield samples


async def speak_stage(
    events: AsyncIterator[Event],
    tts: PiperTts,
    sink: Sink,
    clock: StreamClock,
    replies: SpeculativeReply | None = None,
    stops: ControlLane[StopReply] | None = None,
    heard: ControlLane[ToListener] | None = None,
) -> AsyncIterator[Event]:
    """Speak each reply. With ``stops`` (a speaker the microphone hears) the listener
    may stop a reply (barge-in); the listener is told on ``heard`` when a reply starts
    playing, so that it listens over it. A streamed reply (:attr:`Reply.stream`) is
    spoken clause by clause as it is written; a barge-in also stops its writer, and
    when it brings no words, :attr:`Reply.text` is said instead."""
    async for event in events:
        yield event
        if not isinstance(event, Reply):
            continue
        if event.interrupt:
            sink.stop()
        if stops is not None:
            stops.clear()  # a barge-in that came after the last reply ended is stale
        interrupted = False
        t0 = time.perf_counter()
        playback_ms = waited_ms = 0.0
        told = False  # the listener, that this reply plays
        playing: list[Prefetch[Int16Array]] = []
        stream = event.stream
        voiced: VoicedStream | None = None
        if stream is not None:  # voiced from its pause on when it was started there
            voiced = replies.take_voiced(stream) if replies is not None else None
            voiced = voiced if voiced is not None else VoicedStream(stream, tts)
            playing = voiced.playing
        chunks = (
            voiced.chunks() if voiced is not None else _text_chunks(event, tts, replies, playing)
        )
        first = True
        try:
            while True:
                try:
                    samples = await anext(chunks, None)
                except EngineError as exc:
                    log.warning("speech synthesis failed: %s", exc)
                    yield StageError(
                        *clock.stamp(), stage="tts", kind="engine_error", message=str(exc)
                    )
                    break
                if samples is None and first and stream is not None:
                    if stream.error is not None:
                        yield StageError(
                            *clock.stamp(), stage="llm", kind="engine_error", message=stream.error
                        )
                    stream = None  # no words: the reply's own text instead
                    chunks = _text_chunks(event, tts, None, playing)
                    continue
                if samples is None:
                    break
                ready = time.perf_counter()
                if first:
                    first = False
                    yield TtsFirstAudio(
                        *clock.stamp(),
                        tts_first_ms=_ms_since(t0),
                        queue_ms=_waited_ms(event.t_created_s, t0),
                    )
                tp = time.perf_counter()
                waited_ms += (tp - ready) * 1000.0
                if heard is not None and not told:
                    heard.send(ReplyPlaying())
                    told = True
                stopped = await _played(sink, samples, tts.rate_hz, stops)
                playback_ms += (time.perf_counter() - tp) * 1000.0
                if stopped:  # the rest of the reply is dropped
                    interrupted = True
                    yield Interrupt(*clock.stamp(), reason="barge_in")
                    break
        finally:
            if voiced is not None:
                voiced.cancel()  # the model's writer stops within a token
            for sentences in playing:
                sentences.cancel()
            await chunks.aclose()
        if event.stream is not None:  # its figures (a cancelled one's too)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.stream.ended.wait(), _WRITER_END_S)
        if event.stream is not None and stream is not None and stream.error is not None:
            yield StageError(*clock.stamp(), stage="llm", kind="engine_error", message=stream.error)
        yield ReplyDone(
            *clock.stamp(),
            tts_total_ms=round(_ms_since(t0) - playback_ms - waited_ms, 1),
            playback_ms=round(playback_ms, 1),
            playback_queue_ms=round(waited_ms, 1),
            interrupted=interrupted,
            announcement=event.announcement,
            streamed_text=event.stream.text if event.stream is not None else None,
            llm=event.stream.figures if event.stream is not None else None,
        )
