"""Feeds the VAD and the wake model from the listener's audio history.

Either may have skipped audio (the idle gate let them sleep, or the wake model
was not needed during a turn); before hearing a new chunk each is brought back
in step by replaying the recent audio it missed: the VAD a quarter second of
it after a reset, the wake model up to the ~2 s its features depend on, so
its scores are the same as if it had heard everything.
"""

from __future__ import annotations

import collections

from hearthvox.engines.gate import GateOptions
from hearthvox.engines.vad import SileroVad
from hearthvox.engines.wake import FRAME_SAMPLES, WakeEngine
from hearthvox.events import AudioChunk, Int16Array


class Hearing:
    def __init__(
        self,
        wake: WakeEngine,
        vad: SileroVad,
        history: collections.deque[AudioChunk],
        chunk_ms: int,
        rate_hz: int,
        opts: GateOptions,
    ) -> None:
        self.wake = wake
        self.vad = vad
        self.history = history
        self.chunk_ms = chunk_ms
        self.rate_hz = rate_hz
        self.opts = opts
        self.vad_fed_ms = 0.0
        """Stream time up to which the VAD has heard the audio."""
        self.wake_fed_ms = 0.0
        """... and the wake model."""
        self._vad_pos_ms = 0.0
        self.frames = {"vad": 0, "wake": 0}
        """How many frames each model actually ran (the idle gate's saving shows here)."""

    def _before(self, start_ms: float, chunk: AudioChunk) -> list[AudioChunk]:
        return [c for c in self.history if start_ms <= c.t_audio_ms < chunk.t_audio_ms]

    def vad_probs(self, chunk: AudioChunk) -> list[tuple[float, float]]:
        """``(frame_start_ms, speech probability)`` of every VAD frame completed by ``chunk``."""
        feed = [chunk]
        if chunk.t_audio_ms != self.vad_fed_ms:  # it slept: restart it a little earlier
            self.vad.reset()
            start = max(self.vad_fed_ms, chunk.t_audio_ms - self.opts.vad_replay_ms)
            feed = [*self._before(start, chunk), chunk]
            self._vad_pos_ms = float(feed[0].t_audio_ms)
        out: list[tuple[float, float]] = []
        for c in feed:
            for prob in self.vad.feed(c.samples):
                out.append((self._vad_pos_ms, prob))
                self._vad_pos_ms += self.vad.frame_ms
        self.frames["vad"] += len(out)
        self.vad_fed_ms = chunk.t_audio_ms + self.chunk_ms
        return out

    def wake_frames(self, chunk: AudioChunk) -> list[tuple[Int16Array, float]]:
        """``(frame, frame_end_ms)`` for the wake model up to the end of ``chunk``,
        first the frames it missed (it is resynced when it missed more than it remembers)."""
        chunks = [chunk]
        if self.wake_fed_ms < chunk.t_audio_ms:
            start = chunk.t_audio_ms - self.opts.wake_replay_ms
            if self.wake_fed_ms < start:
                self.wake.resync()
            else:
                start = self.wake_fed_ms
            chunks = [*self._before(start, chunk), chunk]
        frames = []
        for c in chunks:
            for i in range(0, len(c.samples) - FRAME_SAMPLES + 1, FRAME_SAMPLES):
                end_ms = c.t_audio_ms + (i + FRAME_SAMPLES) * 1000.0 / self.rate_hz
                frames.append((c.samples[i : i + FRAME_SAMPLES], end_ms))
        return frames

    def wake_heard(self, end_ms: float) -> None:
        """The wake model has scored every frame up to ``end_ms``."""
        self.wake_fed_ms = end_ms
        self.frames["wake"] += 1
