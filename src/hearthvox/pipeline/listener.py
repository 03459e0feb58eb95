"""The listening stage: wake word, VAD and endpointer over the input audio.

States: idle (wake word only) -> listening (after a wake word or while a
follow-up window is open) -> busy (a turn is being answered; the stage is not
pulled, so input waits in the source's buffer) -> idle or follow-up.
"""

from __future__ import annotations

import collections
import enum
from collections.abc import AsyncIterator, Callable

import numpy as np

from hearthvox.config import Config
from hearthvox.engines.endpoint import Endpointer
from hearthvox.engines.vad import SileroVad
from hearthvox.engines.wake import FRAME_SAMPLES, WakeEngine
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

_SETTLE_MS = 400.0  # how long the tail of the wake phrase may run on after detection
_TAIL_MS = 200.0  # trailing audio kept after the last voiced frame for the recogniser


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
    ) -> None:
        self.wake = wake
        self.vad = vad
        self.cfg = cfg
        self.clock = clock
        self.announcements = announcements
        self.rate_hz = cfg.audio.rate_hz
        self.endpointer = Endpointer(cfg.endpoint, cfg.vad.threshold, vad.frame_ms)
        self.state = State.IDLE
        self.follow_up = False
        self._next_follow_up = False
        keep_ms = cfg.endpoint.preroll_ms + cfg.endpoint.max_utterance_s * 1000 + 2000
        self._history: collections.deque[AudioChunk] = collections.deque(
            maxlen=int(keep_ms // cfg.audio.chunk_ms) + 1
        )
        self._vad_pos_ms = 0.0

    def turn_finished(self, follow_up: bool) -> None:
        """Called by the turn tracker when a turn is over (reply spoken or no speech)."""
        if self.state is State.BUSY:
            self.state = State.IDLE
            self._next_follow_up = follow_up and self.cfg.endpoint.follow_up

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
            self._history.append(chunk)
            end_ms = chunk.t_audio_ms + chunk_ms
            self.clock.audio_ms = end_ms
            if self._next_follow_up:
                self._next_follow_up = False
                self.state = State.LISTENING
                self.follow_up = True
                self.endpointer.arm(chunk.t_audio_ms, self.cfg.endpoint.follow_up_s)
            if self.state is State.IDLE:
                for text in self.announcements():
                    a, w = self.clock.stamp()
                    yield Reply(a, w, text, "timer", 0.0, announcement=True)
            # The detector hears every frame so its feature stream has no gaps;
            # only an idle listener acts on a hit.
            for i in range(0, len(chunk.samples) - FRAME_SAMPLES + 1, FRAME_SAMPLES):
                frame = chunk.samples[i : i + FRAME_SAMPLES]
                if self.state is not State.IDLE:
                    self.wake.scores(frame)
                    continue
                hit = self.wake.detect(frame, end_ms)
                if hit is not None:
                    a, w = self.clock.stamp()
                    yield WakeDetected(a, w, hit.model, round(hit.score, 3))
                    self.state = State.LISTENING
                    self.follow_up = False
                    self.endpointer.arm(
                        end_ms, self.cfg.endpoint.no_speech_timeout_s, settle_ms=_SETTLE_MS
                    )
            for prob in self.vad.feed(chunk.samples):
                frame_start = self._vad_pos_ms
                self._vad_pos_ms += self.vad.frame_ms
                if self.state is not State.LISTENING:
                    continue
                boundary = self.endpointer.push(prob, frame_start)
                if boundary is None:
                    continue
                a, w = self.clock.stamp()
                if boundary.kind == "start":
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
                    yield SpeechEnded(
                        int(boundary.t_ms),
                        w,
                        audio,
                        self.rate_hz,
                        int(start),
                        "max_length" if boundary.reason == "max_length" else "silence",
                        endpoint_wait_ms=max(0.0, a - boundary.t_ms),
                    )
