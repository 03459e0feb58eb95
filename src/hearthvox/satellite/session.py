"""The satellite's state machine: wait for the wake word, stream the command, play the reply.

Phases: ``paused`` (no server connection, before ``run-satellite`` or after
``pause-satellite``) -> ``idle`` (the wake word only; nothing is sent) ->
``streaming`` (``run-pipeline``, ``audio-start``, the command's ``audio-chunk``s,
until the VAD ends the command or the server says ``voice-stopped`` or
``transcript``; then ``audio-stop``) -> ``waiting`` (for the reply) ->
``playing`` (the reply's audio to the sink; ``played`` once it has been played)
-> ``idle``. Audio the server sends unasked while the satellite is idle (an
announcement) is played the same way. A server that goes quiet for
``reply_timeout_s`` in ``waiting`` or ``playing`` ends the turn: back to ``idle``.

With server wake (``wake_on = "server"``, for a server that listens for the wake
word itself, as a hearthvox hub does) the satellite streams everything it hears
from ``run-satellite`` on (``run-pipeline`` with ``start_stage: wake``), plays
each reply the server streams back while the stream goes on, and says
``played`` after each.

A recording (a file, stdin) starts when the first server sends ``run-satellite``,
so that what it says is heard by a server. Audio from a file is read only in
``idle`` and ``streaming``, so its turns come in order with nothing skipped (as
``hearthvox run`` reads a file). A live
microphone is read all the time: what it hears while a turn waits is dropped,
and over a reply the wake word (at ``barge_in_threshold``) stops the reply and
starts a new command.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

import numpy as np
from wyoming.audio import AudioChunk as WyChunk
from wyoming.audio import AudioStart, AudioStop
from wyoming.event import Event
from wyoming.ping import Pong
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.snd import Played

from hearthvox.audio.earcons import RATE_HZ as EARCON_RATE_HZ
from hearthvox.audio.earcons import START, STOP
from hearthvox.events import AudioChunk, Int16Array
from hearthvox.protocol.framing import ProtocolError
from hearthvox.satellite.ear import Ear, Wake
from hearthvox.satellite.options import SatelliteOptions
from hearthvox.satellite.player import Player

log = logging.getLogger(__name__)

_ECHO_S = 0.15  # an earcon's echo: captured audio this long after one is sent as silence


class Phase(enum.Enum):
    PAUSED = "paused"
    IDLE = "idle"
    STREAMING = "streaming"
    WAITING = "waiting"
    PLAYING = "playing"


class Link(Protocol):
    """The server connection, as the session sees it."""

    peer: str

    async def send(self, event: Event) -> None: ...


class Cues(Protocol):
    """A sink that can play an earcon without waiting (the speaker)."""

    cue_until: float

    def cue(self, samples: Int16Array, rate_hz: int) -> None: ...


class Satellite:
    def __init__(
        self,
        ear: Ear,
        player: Callable[[Callable[[int], Awaitable[None]]], Player],
        options: SatelliteOptions,
        *,
        live: bool,
        cues: Cues | None = None,
        from_start: bool = False,
    ) -> None:
        self.ear = ear
        self.options = options
        self.live = live
        self._adopted = asyncio.Event()
        """Set at the first ``run-satellite``; a recording (``from_start``) starts then."""
        if not from_start:
            self._adopted.set()
        self.cues = cues if options.earcons else None
        self.player = player(self._played)
        self.phase = Phase.PAUSED
        self.link: Link | None = None
        self.running = False
        """``run-satellite`` received (and no ``pause-satellite`` since)."""
        self.turn = 0
        self.turns_played = 0
        self._hungry = asyncio.Event()  # a file is read only while this is set
        self._deadline: asyncio.TimerHandle | None = None
        self._chunk_rate = 16000
        self.heard_ms = -1.0
        """Where the input is: the start of the latest chunk read, in the stream."""
        self.continuous = options.wake_on == "server"
        """Server wake: everything heard after ``run-satellite`` is streamed."""
        self._replying = False  # server wake: a reply is coming in while the stream goes on

    # ---- phases -----------------------------------------------------------------

    def _set(self, phase: Phase) -> None:
        if phase is Phase.IDLE and not self.running:
            phase = Phase.PAUSED
        if phase is not self.phase:
            log.debug("satellite: %s -> %s", self.phase.value, phase.value)
        self.phase = phase
        if phase in (Phase.IDLE, Phase.STREAMING):
            self._hungry.set()
        else:
            self._hungry.clear()
        self.ear.strict(self.options.barge_in_threshold if phase is Phase.PLAYING else None)
        if phase in (Phase.WAITING, Phase.PLAYING):
            self._arm_deadline()
        elif self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _arm_deadline(self) -> None:
        """(Re)start the wait for the server's next event in this turn."""
        if self._deadline is not None:
            self._deadline.cancel()
        turn = self.turn
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(self.options.reply_timeout_s, self._timed_out, turn)

    def _timed_out(self, turn: int) -> None:
        if turn != self.turn or self.phase not in (Phase.WAITING, Phase.PLAYING):
            return
        log.warning(
            "no reply from the server for %.0f s: back to waiting for the wake word",
            self.options.reply_timeout_s,
        )
        self.player.stop()
        self._deadline = None
        self._set(Phase.IDLE)

    # ---- the server connection ----------------------------------------------------

    def attach(self, link: Link) -> None:
        """``link`` becomes the server connection (a previous one is forgotten)."""
        self.link = link
        self.running = False
        self._end_turn()
        self._set(Phase.PAUSED)

    def detach(self, link: Link) -> None:
        if self.link is not link:
            return
        self.link = None
        self.running = False
        self._end_turn()
        self._set(Phase.PAUSED)

    def _end_turn(self) -> None:
        if self.phase is not Phase.PAUSED and self.phase is not Phase.IDLE:
            self.turn += 1
        self._replying = False
        self.player.stop()

    async def _send(self, event: Event) -> None:
        if self.link is not None:
            await self.link.send(event)

    async def on_event(self, event: Event) -> None:
        """One event from the server connection (``describe`` is answered before this)."""
        kind = event.type
        if kind == "run-satellite":
            self._adopted.set()
        if self.continuous and await self._server_wake(event):
            return
        if kind == "run-satellite":
            self.running = True
            if self.phase is Phase.PAUSED:
                self._set(Phase.IDLE)
                log.info("running: waiting for the wake word (%s)", ", ".join(self.ear.wake_words))
        elif kind == "pause-satellite":
            self.running = False
            if self.phase is Phase.STREAMING:
                await self._stop_streaming("paused by the server")
            self._end_turn()
            self._set(Phase.PAUSED)
            log.info("paused by the server")
        elif kind == "ping":
            await self._send(Pong(text=event.data.get("text")).event())
        elif kind in ("voice-stopped", "transcript"):
            if self.phase is Phase.STREAMING:
                await self._stop_streaming(f"the server's {kind}")
            elif self.phase is Phase.WAITING:
                self._arm_deadline()
            if kind == "transcript" and self.options.end_stage != "tts":
                self._end_turn()  # no reply audio comes: the text was the end of the turn
                self._set(Phase.IDLE)
        elif kind in ("voice-started", "synthesize", "transcript-start", "transcript-chunk"):
            if self.phase is Phase.WAITING:
                self._arm_deadline()
        elif kind == "audio-start":
            await self._reply_starts(event)
        elif kind == "audio-chunk":
            if self.phase is Phase.PLAYING:
                self._arm_deadline()
                await self.player.chunk(event.data, event.payload)
        elif kind == "audio-stop":
            if self.phase is Phase.PLAYING:
                self._arm_deadline()
                await self.player.end()
        elif kind == "error":
            text, code = event.data.get("text"), event.data.get("code")
            log.warning("the server reports an error: %s (%s)", str(text)[:200], str(code)[:40])
            if self.phase in (Phase.STREAMING, Phase.WAITING, Phase.PLAYING):
                if self.phase is Phase.STREAMING:
                    await self._stop_streaming("the server's error")
                self._end_turn()
                self._set(Phase.IDLE)
        else:
            log.debug("ignoring %s from the server", kind[:40])

    async def _reply_starts(self, event: Event) -> None:
        if self.phase is Phase.STREAMING:
            await self._stop_streaming("the reply started")
        if self.phase is Phase.IDLE:
            self.turn += 1  # the server speaks unasked (an announcement, a late reply)
        elif self.phase is not Phase.WAITING:
            return  # a reply of a turn that a barge-in ended, or while paused: not played
        if self.options.end_stage != "tts":
            return
        try:
            self.player.begin(self.turn, event.data)
        except ProtocolError as exc:
            log.warning("reply not played: %s", exc.text)
            return
        self._set(Phase.PLAYING)

    async def _server_wake(self, event: Event) -> bool:
        """The events a server-wake satellite takes otherwise; True if handled. The
        stream starts at ``run-satellite`` and goes on through the server's turns."""
        kind = event.type
        if kind == "run-satellite":
            self.running = True
            if self.phase is Phase.PAUSED:
                self.turn += 1
                self._set(Phase.STREAMING)
                await self._start_stream(PipelineStage.WAKE, None, max(self.heard_ms, 0.0))
                log.info("running: streaming everything heard (the server finds the wake word)")
        elif kind == "audio-start":
            if self.phase is Phase.STREAMING and self.options.end_stage == "tts":
                try:
                    self.player.begin(self.turn, event.data)
                except ProtocolError as exc:
                    log.warning("reply not played: %s", exc.text)
                    return True
                self._replying = True
        elif kind == "audio-chunk":
            if self._replying:
                await self.player.chunk(event.data, event.payload)
        elif kind == "audio-stop":
            if self._replying:
                self._replying = False
                await self.player.end()
        elif kind == "error":
            text, code = event.data.get("text"), event.data.get("code")
            log.info("the server reports: %s (%s)", str(text)[:200], str(code)[:40])
        else:
            return kind in ("voice-stopped", "transcript")  # the stream goes on
        return True

    async def _played(self, turn: int) -> None:
        if turn != self.turn:
            return
        if self.continuous and self.phase is Phase.STREAMING:
            self.turns_played += 1
            await self._send(Played().event())
            return
        if self.phase is not Phase.PLAYING:
            return
        self.turns_played += 1
        await self._send(Played().event())
        self.turn += 1
        self._set(Phase.IDLE)

    # ---- audio ----------------------------------------------------------------------

    async def run_audio(self, chunks: AsyncIterator[AudioChunk]) -> None:
        """Hear the input until it ends (a file) or the task is cancelled."""
        it = aiter(chunks)
        await self._adopted.wait()
        while True:
            if not self.live:
                await self._hungry.wait()
            try:
                chunk = await anext(it)
            except StopAsyncIteration:
                break
            self._chunk_rate, self.heard_ms = chunk.rate_hz, chunk.t_audio_ms
            await self._hear(chunk)
        if self.phase is Phase.STREAMING:
            await self._stop_streaming("the input ended")
        log.info("the input ended: no more wake words are heard")

    async def _hear(self, chunk: AudioChunk) -> None:
        match self.phase:
            case Phase.IDLE:
                wake = await self.ear.wake_word(chunk)
                if wake is not None and self.phase is Phase.IDLE:
                    await self._wake(wake)
            case Phase.STREAMING:
                await self._stream(chunk)
            case Phase.PLAYING if self.live and self.options.barge_in:
                wake = await self.ear.wake_word(chunk)
                if wake is not None and self.phase is Phase.PLAYING:
                    log.info("barge-in: %s heard over the reply", wake.model)
                    self._end_turn()
                    await self._wake(wake)
            case _:
                return

    async def _wake(self, wake: Wake) -> None:
        self.turn += 1
        log.info("wake word %s (%.2f) at %.2f s", wake.model, wake.score, wake.t_ms / 1000)
        self.ear.arm(wake.t_ms, self.options.wake_settle_ms)
        self._set(Phase.STREAMING)
        if self.cues is not None:
            self.cues.cue(START, EARCON_RATE_HZ)
        await self._start_stream(PipelineStage.ASR, wake.model, wake.t_ms)

    async def _start_stream(self, stage: PipelineStage, wake_word: str | None, t_ms: float) -> None:
        end = PipelineStage.TTS if self.options.end_stage == "tts" else PipelineStage.HANDLE
        start = RunPipeline(start_stage=stage, end_stage=end, wake_word_name=wake_word)
        await self._send(start.event())
        audio = AudioStart(rate=self._chunk_rate, width=2, channels=1, timestamp=int(t_ms))
        await self._send(audio.event())

    async def _stream(self, chunk: AudioChunk) -> None:
        samples = chunk.samples
        if self.cues is not None and time.monotonic() < self.cues.cue_until + _ECHO_S:
            samples = np.zeros_like(samples)  # the earcon, not the user: sent as silence
        event = WyChunk(
            rate=chunk.rate_hz,
            width=2,
            channels=1,
            audio=samples.astype("<i2").tobytes(),
            timestamp=int(chunk.t_audio_ms),
        ).event()
        await self._send(event)
        if self.continuous:
            return  # the server finds the wake word and the end of each command
        ended = await self.ear.command_ended(chunk)
        if ended is not None and self.phase is Phase.STREAMING:
            why = "nothing said" if ended.kind == "timeout" else f"end of speech ({ended.reason})"
            await self._stop_streaming(why)

    async def _stop_streaming(self, why: str) -> None:
        log.info("command streamed; %s", why)
        self._set(Phase.WAITING)
        if self.cues is not None:
            self.cues.cue(STOP, EARCON_RATE_HZ)
        await self._send(AudioStop().event())
