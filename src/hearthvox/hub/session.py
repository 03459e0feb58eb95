"""One satellite's session: connect, run its voice loop, reconnect with backoff.

The satellite's audio is the loop's source and its speaker the sink
(:mod:`hearthvox.hub.audio`); the loop's events go back as Wyoming events, as Home
Assistant sends them: ``detection``, ``voice-started``, ``voice-stopped``,
``transcript``, ``synthesize`` (the reply's text), then the reply's
``audio-start``, ``audio-chunk``... ``audio-stop`` (a reply the language model
writes as it is spoken: its ``synthesize`` after its audio, once its words are
known). A wake word first goes to the
arbiter; a satellite that stands down is told nothing and its turn is dropped.

Each session is its own task and catches its own failures: a satellite that goes
away (or breaks the protocol) is retried after a backoff that doubles up to
``[hub] reconnect_max_s``, with jitter, and the other sessions never notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from wyoming.asr import Transcript as WyTranscript
from wyoming.audio import AudioChunk as WyAudioChunk
from wyoming.audio import AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event as WyEvent
from wyoming.ping import Ping, Pong
from wyoming.pipeline import RunPipeline
from wyoming.satellite import RunSatellite
from wyoming.tts import Synthesize
from wyoming.vad import VoiceStarted, VoiceStopped
from wyoming.wake import Detection

from hearthvox.config import Config, SatelliteEntry
from hearthvox.engines import Engines
from hearthvox.engines.llm import LlamaLlm
from hearthvox.engines.llm_remote import RemoteLlm
from hearthvox.events import (
    Event,
    NoSpeech,
    Reply,
    ReplyDone,
    SpeechEnded,
    SpeechStarted,
    StageError,
    Transcript,
    TurnDone,
    WakeDetected,
)
from hearthvox.hub.arbiter import Arbiter, Claim
from hearthvox.hub.audio import AFTER_TURN_KEEP_MS, SatelliteSink, SatelliteSource
from hearthvox.hub.client import SatelliteGone, SatelliteLink
from hearthvox.pipeline.runner import Observer, Pipeline
from hearthvox.pipeline.shedding import Shedding
from hearthvox.pipeline.stages import Answerer
from hearthvox.protocol.framing import ProtocolError

log = logging.getLogger(__name__)

FIRST_RETRY_S = 0.5
HEALTHY_S = 30.0
"""A connection that lasted this long resets the backoff."""


def backoff_s(failures: int, cap_s: float, rng: Callable[[], float] = random.random) -> float:
    """Seconds before try ``failures + 1``: doubling from :data:`FIRST_RETRY_S`, capped,
    with up to 25 % jitter either way (satellites restarted together do not reconnect
    in step)."""
    base = min(cap_s, FIRST_RETRY_S * 2.0 ** min(failures, 30))
    return base * (0.75 + 0.5 * rng())


@runtime_checkable
class Arbitrated(Protocol):
    """An observer told each wake word's arbitration (the hub's telemetry)."""

    def __call__(self, event: Event) -> None: ...
    def arbitrated(self, outcome: str, claims: int) -> None: ...


ObserverFor = Callable[[str], Observer]
"""area -> the observer of that satellite's turns (telemetry), or none."""


@dataclass
class Shared:
    """What every session uses: the loaded engines, the skills, the config, the arbiter,
    the shedding rule (with the busy reply voiced once), the telemetry's observers and
    the language model."""

    engines: Engines
    router: Answerer
    cfg: Config
    arbiter: Arbiter
    announcements: Callable[[], list[str]] = list
    shedding: Shedding | None = None
    observer_for: ObserverFor | None = None
    llm: LlamaLlm | RemoteLlm | None = None
    """What no skill answers (``[llm]``): one model for every satellite, each its own
    conversation, one reply computed at a time."""


@dataclass
class Room:
    """What a session has of its own area: its skills' router (its own context: "repeat
    that" says this room's last reply) and its timers' announcements
    (:mod:`hearthvox.hub.rooms`)."""

    router: Answerer
    announcements: Callable[[], list[str]]


@dataclass
class SessionStats:
    connects: int = 0
    turns: int = 0
    replies: int = 0
    """Turns whose reply was streamed to the satellite."""
    stood_down: int = 0
    shed: int = 0
    """Turns answered with the busy reply: past ``[hub] max_queue_age_ms``."""
    dropped_chunks: int = 0
    skipped_chunks: int = 0
    """Audio of its turns' replies not listened to afterwards (the satellite's echo)."""


class SatelliteSession:
    """Keeps one satellite connected and served, until cancelled."""

    def __init__(self, entry: SatelliteEntry, shared: Shared, room: Room | None = None) -> None:
        self.entry = entry
        self.shared = shared
        self.room = room or Room(shared.router, shared.announcements)
        self.stats = SessionStats()
        self.observer = shared.observer_for(entry.area) if shared.observer_for else None
        """This satellite's turns' telemetry (one for all its connections)."""
        self.streaming = asyncio.Event()
        """Set while the satellite streams to a running voice loop (after ``run-pipeline``)."""

    @property
    def area(self) -> str:
        return self.entry.area

    async def run_forever(self) -> None:
        failures = 0
        while True:
            began = time.monotonic()
            try:
                await self._connected_once()
                why = "the session ended"
            except SatelliteGone as exc:
                why = str(exc)
            except Exception as exc:  # one satellite's bug must never reach the others
                log.exception("satellite %s: session failed", self.area)
                why = type(exc).__name__
            finally:
                self.streaming.clear()
            if time.monotonic() - began >= HEALTHY_S:
                failures = 0
            delay = backoff_s(failures, self.shared.cfg.hub.reconnect_max_s)
            failures += 1
            log.warning(
                "satellite %s (%s): %s; reconnecting in %.1f s",
                self.area,
                self.entry.uri,
                why,
                delay,
            )
            await asyncio.sleep(delay)

    async def _connected_once(self) -> None:
        link, info = await SatelliteLink.open(self.entry.uri)
        self.stats.connects += 1
        log.info("satellite %s (%s) connected: %s", self.area, self.entry.uri, info.name or "?")
        try:
            await _Served(self, link).run()
        finally:
            await link.close()


class _Served:
    """One connection's life: its reader, its voice loop and the events sent back."""

    def __init__(self, session: SatelliteSession, link: SatelliteLink) -> None:
        self.session = session
        self.link = link
        shared = session.shared
        self.source = SatelliteSource(shared.cfg.audio.chunk_ms)
        self.sink = SatelliteSink(link.send, asyncio.get_running_loop())
        e = shared.engines
        engines = dataclasses.replace(e, wake=e.wake.new_stream(), vad=e.vad.new_stream())
        room = session.room
        observers = [session.observer] if session.observer is not None else []
        self.pipeline = Pipeline(
            engines,
            room.router,
            shared.cfg,
            room.announcements,
            observers=observers,
            llm=shared.llm,
            shedding=shared.shedding,
        )
        self.started = asyncio.Event()
        """``run-pipeline`` came: the loop runs."""
        self.silenced = False
        """This turn stood down: nothing of it goes to the satellite."""
        self.own_wake = False
        """The satellite hears the wake word itself and streams only the command."""

    async def run(self) -> None:
        reader = asyncio.create_task(self._read(), name=f"hv-hub-read-{self.session.area}")
        loop_task = asyncio.create_task(self._loop(), name=f"hv-hub-loop-{self.session.area}")
        try:
            done, _ = await asyncio.wait({reader, loop_task}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # SatelliteGone, or a bug
        finally:
            self.source.end()
            self.sink.enabled = False  # a reply being paced out ends now
            self.sink.stop()
            for task in (reader, loop_task):
                task.cancel()
            for task in (reader, loop_task):
                with contextlib.suppress(asyncio.CancelledError, SatelliteGone):
                    await task
            self.session.stats.dropped_chunks += self.source.dropped
            self.session.stats.skipped_chunks += self.source.skipped

    async def _read(self) -> None:
        while True:
            event = await self.link.receive()
            if WyAudioChunk.is_type(event.type):
                if self.started.is_set():
                    try:
                        self.source.feed(event.data, event.payload)
                    except ProtocolError as exc:
                        raise SatelliteGone(f"{exc.code}: {exc.text}") from None
            elif RunPipeline.is_type(event.type):
                self._run_pipeline(event)
            elif Ping.is_type(event.type):
                await self.link.send(Pong(text=event.data.get("text")).event())
            elif AudioStart.is_type(event.type) or AudioStop.is_type(event.type):
                pass  # the audio's format rides on every chunk
            else:
                log.debug("satellite %s: %s ignored", self.session.area, event.type)

    def _run_pipeline(self, event: WyEvent) -> None:
        start = event.data.get("start_stage")
        end = event.data.get("end_stage")
        self.own_wake = start == "asr"
        if self.own_wake:  # it heard the wake word itself: its command follows
            self.pipeline.listen_now(str(event.data.get("wake_word_name") or "satellite"))
        elif start != "wake":
            log.warning(
                "satellite %s asks to start at %r: the hub starts at the wake word or the "
                "command (asr)",
                self.session.area,
                start,
            )
        if not self.silenced:  # a satellite that streams on speech asks again each time
            self.sink.enabled = end == "tts"
        log.info("satellite %s: pipeline %s -> %s", self.session.area, start, end)
        self.started.set()
        self.session.streaming.set()

    async def _loop(self) -> None:
        await self.started.wait()
        speaks = self.sink.enabled
        async for event in self.pipeline.run(self.source.chunks(), self.sink):
            for out in await self._translate(event, speaks):
                await self.link.send(out)

    async def _translate(self, event: Event, speaks: bool) -> list[WyEvent]:
        if isinstance(event, WakeDetected):
            level = self.source.level_dbfs(event.t_audio_ms)
            claim = Claim(self.session.area, event.score, level)
            verdict = await self.session.shared.arbiter.claim(claim)
            observer = self.session.observer
            if isinstance(observer, Arbitrated) and verdict.claims > 1:
                observer.arbitrated("won" if verdict.won else "stood_down", verdict.claims)
            if not verdict.won:
                self.pipeline.stand_down()
                self.silenced = True
                self.sink.enabled = False
                self.session.stats.stood_down += 1
                # one that heard the wake word itself streams until it is told to wait
                # for it again (wyoming-satellite: run-satellite)
                return [RunSatellite().event()] if self.own_wake else []
            self.session.stats.turns += 1
            if self.own_wake:  # it told us; told back, it would chime a second time
                return []
            return [Detection(name=event.model, timestamp=event.t_audio_ms).event()]
        if isinstance(event, ReplyDone | TurnDone):  # a timer's announcement has no turn
            if self.sink.started:
                self.session.stats.replies += 1
            await self.sink.finish()
            streamed = event.streamed_text if isinstance(event, ReplyDone) else None
            if streamed and speaks and not self.silenced:  # the model's words, once known
                return [Synthesize(text=streamed).event()]
            if isinstance(event, TurnDone):
                self.source.trim(AFTER_TURN_KEEP_MS)
                self.session.stats.shed += event.outcome == "shed"
                self.sink.enabled = speaks
                self.silenced = False
            return []
        if self.silenced:
            return []
        match event:
            case SpeechStarted():
                if event.follow_up:
                    self.session.stats.turns += 1
                return [VoiceStarted(timestamp=event.t_audio_ms).event()]
            case SpeechEnded():
                return [VoiceStopped(timestamp=event.t_audio_ms).event()]
            case Transcript(final=True):
                return [WyTranscript(text=event.text).event()]
            case Reply(stream=None) if event.text:  # a streamed one's text is its last resort
                return [Synthesize(text=event.text).event()] if speaks else []
            case NoSpeech(follow_up=False):
                return [Error(text="no speech after the wake word", code="no-speech").event()]
            case StageError():
                return [Error(text=f"{event.stage} failed", code=f"{event.stage}-failed").event()]
        return []
