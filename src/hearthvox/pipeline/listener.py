"""The listening stage: wake word, VAD and endpointer over the input audio.

States: idle (wake word only) -> listening (after a wake word or while a
follow-up window is open) -> busy (a turn is being answered; the listener reads
only the control lane until the turn tracker says the turn is over, so input
waits in the source's buffer) -> idle or follow-up. Told to drain (the
service's reload or shutdown), it ends its input at the first chunk outside a
turn, before taking it.

Idle gating (``[wake] idle_gate``): while idle, an energy gate lets the VAD run
only on audio louder than the room, and the wake model runs only while the VAD
hears voice; see :mod:`hearthvox.engines.gate` and
:mod:`hearthvox.pipeline.hearing`. Adaptive endpointing (``[endpoint]
adaptive``): at the first pause the utterance so far is decoded in the
background and the hangover follows what it says; see
:mod:`hearthvox.pipeline.speculate`.

The event loop runs no inference: each chunk's VAD frames run on the VAD
engine's thread, which hands the chunk on to the wake engine's thread (at once
when the idle gate is off, after the VAD heard voice when it is on) and returns
both verdicts in one hand-off back; the endpointer and the state stay on the loop.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import logging
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import numpy as np

from hearthvox.config import Config
from hearthvox.engines.endpoint import Endpointer, guess_hangover
from hearthvox.engines.gate import EnergyGate, GateOptions
from hearthvox.engines.memory import release_free_memory
from hearthvox.engines.vad import SileroVad
from hearthvox.engines.wake import FRAME_SAMPLES, WakeEngine, WakeHit
from hearthvox.events import (
    AudioChunk,
    Event,
    Int16Array,
    NoSpeech,
    Reply,
    SpeechEnded,
    SpeechStarted,
    WakeDetected,
)
from hearthvox.pipeline.clock import StreamClock
from hearthvox.pipeline.control import (
    ControlLane,
    Drain,
    ListenNow,
    ReplyPlaying,
    StandDown,
    StopReply,
    ToListener,
    TurnOver,
)
from hearthvox.pipeline.hearing import Hearing
from hearthvox.pipeline.overhear import Overhearing
from hearthvox.pipeline.speculate import SpeculativeAsr, SpeculativeReply

log = logging.getLogger(__name__)

_SETTLE_MS = 400.0  # how long the tail of the wake phrase may run on after detection
_BARGE_SETTLE_MS = 120.0
"""The same after a barge-in: at the stricter threshold the wake word fires once the
phrase's voice has ended (the reply stopped 84-343 ms after it in the barge-in bench),
and a command said in the same breath ("hey jarvis, stop", ~400 ms) must not be taken
for its tail."""
_TAIL_MS = 200.0  # trailing audio kept after the last voiced frame for the recogniser
_UNMUTE_MS = 2000.0  # audio heard over a reply given back after a barge-in (the wake phrase)


def _never(_: str) -> bool:
    return False


class State(enum.Enum):
    IDLE = "idle"
    LISTENING = "listening"
    BUSY = "busy"


class Listener:
    def __init__(
        self,
        wake: WakeEngine,
        vad: SileroVad,
        cfg: Config,
        clock: StreamClock,
        announcements: Callable[[], list[str]] = list,
        speculator: SpeculativeAsr | None = None,
        replies: SpeculativeReply | None = None,
        overhearing: Overhearing | None = None,
        stops: ControlLane[StopReply] | None = None,
        *,
        realtime: bool = True,
        complete: Callable[[str], bool] | None = None,
    ) -> None:
        self.wake = wake
        self.vad = vad
        self.cfg = cfg
        self.clock = clock
        self.announcements = announcements
        self.rate_hz = cfg.audio.rate_hz
        # a pause that lasts until the whole tail is heard is decoded again with it
        tail_ms = _TAIL_MS if speculator is not None and cfg.endpoint.adaptive else 0.0
        self.endpointer = Endpointer(cfg.endpoint, cfg.vad.threshold, vad.frame_ms, tail_ms)
        self.state = State.IDLE
        self.follow_up = False
        self._next_follow_up = False
        keep_ms = cfg.endpoint.preroll_ms + cfg.endpoint.max_utterance_s * 1000 + 2000
        self._history: collections.deque[AudioChunk] = collections.deque(
            maxlen=int(keep_ms // cfg.audio.chunk_ms) + 1
        )
        self.speculator = speculator if cfg.endpoint.adaptive else None
        self.replies = replies if self.speculator is not None else None
        self.realtime = realtime
        """The input comes at the speed of speech (a microphone, a paced file). If not, each
        pause's guess is waited for before the next audio frame: a file's turns then
        end where they would with no decode time at all, the same on every run."""
        self.complete = complete or _never
        """Whether the skills take a guess as a whole request (the command hangover)."""
        if self.speculator is not None:
            self.speculator.on_ready = self._guess_ready
        self.gate = EnergyGate() if cfg.wake.idle_gate else None
        gate_opts = self.gate.opts if self.gate is not None else GateOptions()
        self.hearing = Hearing(
            wake, vad, self._history, cfg.audio.chunk_ms, self.rate_hz, gate_opts
        )
        self._wake_until_ms = -math.inf
        self.overhearing = overhearing
        """The speaker the microphone hears (live input): barge-in and its guards."""
        self.stops = stops
        """Where a barge-in tells the speak stage to stop the reply."""
        self._reply_heard = False
        """A reply of the open turn is playing where the microphone hears it."""
        self._stand_down = False
        """Told to drop the turn just woken (:class:`StandDown`): done at the next chunk."""
        self._listen_now: ListenNow | None = None
        """Woken elsewhere (:class:`ListenNow`): listen from the next chunk on."""
        self._drain: Drain | None = None
        """Told to end the run at the first chunk outside a turn (:class:`Drain`)."""
        self._muted: collections.deque[AudioChunk] = collections.deque(
            maxlen=int(_UNMUTE_MS // cfg.audio.chunk_ms) + 1
        )
        """The latest chunks heard over a reply as they were (the history has silence)."""

    @property
    def busy(self) -> bool:
        """A turn is open (until the control lane says it is over)."""
        return self.state is State.BUSY

    def in_turn(self, follow_up: bool = True) -> bool:
        """Whether a turn is open: woken (here or elsewhere) and listening, or answering;
        with ``follow_up``, also a follow-up window, open or due at the next chunk (one
        in which speech started is a turn either way)."""
        if self.state is State.BUSY or self._listen_now is not None:
            return True
        if self.state is State.LISTENING:
            return follow_up or not self.follow_up or self.endpointer.in_speech
        return follow_up and self._next_follow_up

    def obey(self, message: ToListener) -> None:
        """A message from the control lane (:mod:`hearthvox.pipeline.control`)."""
        match message:
            case ReplyPlaying():
                self._reply_heard = self.state is State.BUSY and self.overhearing is not None
            case StandDown():
                self._stand_down = self.state is State.LISTENING
            case ListenNow():
                self._listen_now = message if self.state is State.IDLE else None
            case Drain():  # one that does not wait for a follow-up window wins
                if self._drain is None or not message.follow_up:
                    self._drain = message
            case TurnOver() if self.state is State.BUSY:  # the turn is over
                self.state = State.IDLE
                self._reply_heard = False
                self._next_follow_up = message.follow_up and self.cfg.endpoint.follow_up
                release_free_memory()  # the turn's decode and synthesis buffers

    async def take(
        self, audio: asyncio.Queue[AudioChunk | None], lane: ControlLane[ToListener]
    ) -> AsyncIterator[AudioChunk]:
        """The listener's input, ``audio`` up to its end (None): the control lane is read
        before each chunk and while waiting for one, and while a turn is open only the
        lane is read, unless its reply is playing where the microphone hears it (to hear
        a barge-in). So a file's turns come in order and none of its audio is skipped;
        live input waits in its source's buffer. After a :class:`Drain` it ends at the
        first point outside a turn, before taking another chunk: what is left in
        ``audio`` is for the next run."""
        while True:
            while (self.busy and not self._reply_heard) or lane.pending():
                self.obey(await lane.receive())
            drain = self._drain
            if drain is not None and not self.in_turn(drain.follow_up):
                return
            if not audio.empty():
                chunk = audio.get_nowait()
            else:
                taken, told = await lane.receive_or(audio)
                if told is not None:
                    self.obey(told)
                if not taken:  # a message came first: the lane again, then the audio
                    continue
                chunk = taken[0]  # taken, so heard (also if a drain came with it)
            if chunk is None:
                return
            yield chunk

    def _audio_between(self, start_ms: float, end_ms: float) -> Int16Array:
        parts = [c for c in self._history if c.t_audio_ms + self.cfg.audio.chunk_ms > start_ms]
        if not parts:
            return np.zeros(0, dtype=np.int16)
        audio = np.concatenate([c.samples for c in parts])
        first_ms = parts[0].t_audio_ms
        lo = max(0, int((start_ms - first_ms) * self.rate_hz / 1000))
        hi = max(lo, int((end_ms - first_ms) * self.rate_hz / 1000))
        return audio[lo:hi]

    async def run(self, chunks: AsyncIterator[AudioChunk]) -> AsyncIterator[Event]:
        chunk_ms = self.cfg.audio.chunk_ms
        async for chunk in chunks:
            raw = chunk
            over = self.overhearing
            # a reply in progress counts in its gaps too (the next chunk, or the language
            # model's next clause, not ready yet): a wake word there is a barge-in
            speaking = over is not None and (over.speaking() or self._reply_heard)
            if over is not None and (speaking or over.in_cue()):
                chunk = replace(chunk, samples=np.zeros_like(chunk.samples))  # never our voice
                if speaking:
                    self._muted.append(raw)
                    over.follow_playback(self.wake, self.rate_hz)
            self._history.append(chunk)
            end_ms = chunk.t_audio_ms + chunk_ms
            self.clock.audio_ms = end_ms
            if self._stand_down:
                yield self._stood_down()
            if self._listen_now is not None:
                told, self._listen_now = self._listen_now, None
                if self.state is State.IDLE:  # the command starts with this chunk
                    settle = _SETTLE_MS if told.settle_ms is None else told.settle_ms
                    yield self._woken(told.model, 1.0, chunk.t_audio_ms, settle)
            if self._next_follow_up:
                self._next_follow_up = False
                self.state = State.LISTENING
                self.follow_up = True
                self.endpointer.arm(chunk.t_audio_ms, self.cfg.endpoint.follow_up_s)
            if self.state is State.IDLE:
                for text in self.announcements():
                    a, w = self.clock.stamp()
                    yield Reply(a, w, text, "timer", 0.0, announcement=True)
            idle = self.state is State.IDLE
            hit: WakeHit | None = None
            frames: list[tuple[float, float]] = []
            if speaking:  # over the reply: the wake word (strict) and the VAD on silence
                barge = await self.wake.executor.run(self._overheard_wake, raw)
                if barge is not None:
                    yield self._barge_in(barge, end_ms)
                elif self.state is not State.BUSY:
                    frames = await self.vad.executor.run(self.hearing.vad_probs, chunk)
            elif self.state is State.BUSY:  # a pause in the reply: nothing to act on
                if over is not None:
                    await self.wake.executor.run(self._overheard_wake, raw, False)
            elif self.gate is None:
                frames, hit = await self.vad.executor.run(self._hear_ungated, chunk, end_ms, idle)
                self.hearing.wake_fed_ms = end_ms
            elif not idle or self.gate.push(chunk.samples, end_ms):
                frames, hit = await self.vad.executor.run(self._hear_gated, chunk, end_ms, idle)
            elif self._wake_due(end_ms, frames):  # the hold after voice: the wake model alone
                hit = await self.wake.executor.run(self._gated_wake, chunk)
            if hit is not None:
                yield self._woken(hit.model, hit.score, end_ms)
            for frame_start, prob in frames:
                if self.state is not State.LISTENING:
                    continue
                self._adapt_hangover()
                boundary = self.endpointer.push(prob, frame_start)
                if boundary is None:
                    continue
                a, w = self.clock.stamp()
                if boundary.kind in ("pause", "tail"):
                    await self._speculate(boundary.t_ms, again=boundary.kind == "tail")
                elif boundary.kind == "start":
                    yield SpeechStarted(int(boundary.t_ms), w, follow_up=self.follow_up)
                elif boundary.kind == "timeout":
                    self.state = State.BUSY
                    yield NoSpeech(a, w, follow_up=self.follow_up)
                else:
                    start = self.endpointer.speech_start_ms
                    audio = self._audio_between(
                        start - self.cfg.endpoint.preroll_ms, boundary.t_ms + _TAIL_MS
                    )
                    self.state = State.BUSY
                    if self.speculator is not None:
                        self.speculator.confirm(boundary.t_ms, audio, patient=not self.realtime)
                    yield SpeechEnded(
                        int(boundary.t_ms),
                        w,
                        audio,
                        self.rate_hz,
                        int(start),
                        "max_length" if boundary.reason == "max_length" else "silence",
                        endpoint_wait_ms=max(0.0, a - boundary.t_ms),
                    )

        end = self._end_of_input()
        if end is not None:
            yield end

    def _stood_down(self) -> NoSpeech:
        """The turn just woken is dropped unanswered: it ends as if no speech came, and
        the turn tracker's "turn over" takes the listener back to idle."""
        self._stand_down = False
        self.endpointer.disarm()
        if self.speculator is not None:  # a pause's guess, and the answer started there
            self.speculator.close()
        if self.replies is not None:
            self.replies.drop()
        self.state = State.BUSY
        a, w = self.clock.stamp()
        return NoSpeech(a, w, follow_up=self.follow_up, stood_down=True)

    def _end_of_input(self) -> Event | None:
        """The input ended while listening: what was heard of the speech is the
        utterance (a file that ends mid-sentence still gets its turn); with no
        speech yet, the window closes as if it had timed out."""
        if self.state is not State.LISTENING or not self._history:
            return None
        self.state = State.BUSY
        a, w = self.clock.stamp()
        if not self.endpointer.in_speech:
            self.endpointer.disarm()
            return NoSpeech(a, w, follow_up=self.follow_up)
        self.endpointer.disarm()
        start = self.endpointer.speech_start_ms
        end_ms = self._history[-1].t_audio_ms + self.cfg.audio.chunk_ms
        audio = self._audio_between(start - self.cfg.endpoint.preroll_ms, end_ms)
        if self.speculator is not None:
            self.speculator.confirm(end_ms, audio, patient=not self.realtime)
        return SpeechEnded(int(end_ms), w, audio, self.rate_hz, int(start), "end_of_input", 0.0)

    def _hear_ungated(
        self, chunk: AudioChunk, end_ms: float, idle: bool
    ) -> tuple[list[tuple[float, float]], WakeHit | None]:
        """On the VAD's thread: the VAD's frames, while the wake thread scores the chunk
        (one hand-off from the loop and one back, whatever runs)."""
        wake = self.wake.executor.submit(self._ungated_wake, chunk, end_ms, idle)
        frames = self.hearing.vad_probs(chunk)
        return frames, wake.result()

    def _hear_gated(
        self, chunk: AudioChunk, end_ms: float, idle: bool
    ) -> tuple[list[tuple[float, float]], WakeHit | None]:
        """On the VAD's thread: the VAD's frames, then (idle, voice heard) the wake
        model's verdict from its own thread."""
        frames = self.hearing.vad_probs(chunk)
        if not idle or not self._wake_due(end_ms, frames):
            return frames, None
        return frames, self.wake.executor.submit(self._gated_wake, chunk).result()

    def _ungated_wake(self, chunk: AudioChunk, end_ms: float, idle: bool) -> WakeHit | None:
        """Without the idle gate the detector hears every frame (its feature stream has
        no gaps; only an idle listener acts on a hit) and the VAD every chunk. Runs on
        the wake engine's thread: it touches the detector only."""
        hit: WakeHit | None = None
        for i in range(0, len(chunk.samples) - FRAME_SAMPLES + 1, FRAME_SAMPLES):
            frame = chunk.samples[i : i + FRAME_SAMPLES]
            if not idle or hit is not None:
                self.wake.scores(frame)
                continue
            hit = self.wake.detect(frame, end_ms)
        return hit

    def _overheard_wake(self, chunk: AudioChunk, act: bool = True) -> WakeHit | None:
        """The wake model over the assistant's own reply, at the barge-in threshold; a
        hit the speaker's recent playback also makes is the echo, not the user. With
        ``act`` False it only keeps the wake stream in step. On the wake engine's thread."""
        over = self.overhearing
        assert over is not None
        wake = self.wake
        wake.strict = over.opts.threshold
        try:
            for frame, frame_end in self.hearing.wake_frames(chunk):
                before = wake.last_fire_ms
                hit = wake.detect(frame, frame_end)
                self.hearing.wake_heard(frame_end)
                if hit is None:
                    continue
                if act and not over.is_echo(wake, self.rate_hz):
                    return hit
                wake.disown(frame_end, before)  # the echo must not hide the user's wake word
        finally:
            wake.strict = 0.0
        return None

    def _barge_in(self, hit: WakeHit, end_ms: float) -> WakeDetected:
        """The wake word over the reply: stop it, and listen for the command."""
        assert self.overhearing is not None
        log.info("barge-in: %s (score %.2f)", hit.model, hit.score)
        self.overhearing.barged_in()
        self._unmute_recent()
        if self.stops is not None:
            self.stops.send(StopReply())
        self._reply_heard = False
        return self._woken(hit.model, hit.score, end_ms, _BARGE_SETTLE_MS)

    def _unmute_recent(self) -> None:
        """After a barge-in, the last moments heard over the reply were the user's (the
        wake phrase, maybe the start of the command): they go back into the history as
        heard, so the command's audio starts where the user started it."""
        heard = {c.t_audio_ms: c for c in self._muted}
        self._muted.clear()
        for i, c in enumerate(self._history):
            if c.t_audio_ms in heard:
                self._history[i] = heard[c.t_audio_ms]

    def _wake_due(self, end_ms: float, frames: list[tuple[float, float]]) -> bool:
        """With the idle gate, the wake model runs while the VAD hears voice (and a hold
        after it)."""
        opts = self.hearing.opts
        if any(prob >= opts.vad_threshold for _, prob in frames):
            self._wake_until_ms = end_ms + opts.wake_hold_ms
        return end_ms <= self._wake_until_ms

    def _gated_wake(self, chunk: AudioChunk) -> WakeHit | None:
        """The frames the wake model missed, then this chunk's, up to a hit. Runs on the
        wake engine's thread: it touches the detector and its place in the history."""
        for frame, frame_end in self.hearing.wake_frames(chunk):
            hit = self.wake.detect(frame, frame_end)
            self.hearing.wake_heard(frame_end)
            if hit is not None:
                return hit
        return None

    def _woken(
        self, model: str, score: float, end_ms: float, settle_ms: float = _SETTLE_MS
    ) -> WakeDetected:
        a, w = self.clock.stamp()
        self.state = State.LISTENING
        self.follow_up = False
        self.endpointer.arm(end_ms, self.cfg.endpoint.no_speech_timeout_s, settle_ms=settle_ms)
        return WakeDetected(a, w, model, round(score, 3))

    async def _speculate(self, last_voiced_ms: float, again: bool = False) -> None:
        """The speaker paused: decode what was said so far, in the background (input
        that is not real time waits for it, and its hangover applies from the next frame).

        At the pause the audio after the speech is shorter than the tail the final decode
        keeps (64-144 ms of 200): a pause still going on once the tail is heard
        (``again``, the endpointer's ``tail``) is decoded again with it, so that the
        guess a turn keeps heard what a decode at its end would."""
        if self.speculator is None:
            return
        start = self.endpointer.speech_start_ms - self.cfg.endpoint.preroll_ms
        audio = self._audio_between(start, last_voiced_ms + _TAIL_MS)
        self.speculator.start(last_voiced_ms, audio, again=again)
        if not self.realtime:
            await self.speculator.settled(last_voiced_ms)
            self._adapt_hangover()

    def _guess_ready(self, key_ms: float) -> None:
        """A pause's guess is decoded: act on it now if the speaker is still in that
        pause (the answer is started up to a chunk sooner than at the next frame)."""
        if self.state is State.LISTENING and self.endpointer.last_voiced_end_ms == key_ms:
            self._adapt_hangover()

    def _adapt_hangover(self) -> None:
        """Once the speculative decode of this pause is done, let it set the hangover."""
        if self.speculator is None or not self.endpointer.in_speech:
            return
        key_ms = self.endpointer.last_voiced_end_ms
        text = self.speculator.text_if_ready(key_ms)
        replies = self.replies
        looped = self.speculator.looped_if_ready(key_ms) if text is None else None
        wait = guess_hangover(text, looped, self.cfg.endpoint, self.complete)
        if wait is not None:
            self.endpointer.set_hangover(wait)
        if text is not None and replies is not None:  # the answer, ready if this pause ends it
            replies.prepare(key_ms, text)
