"""Barge-in: the wake word interrupts the assistant while it speaks.

:class:`BargeIn` sits between the microphone and the pipeline. While the
speaker plays (and for ``tail_ms`` after, the room's echo), it scores the
captured audio with a wake detector of its own (a second stream on the loaded
wake models) at the stricter ``threshold``; a hit stops playback at once
(:meth:`SpeakerSink.interrupt`: the speaker's queue is emptied in its next
callback, a few ms) and the speak stage drops the rest of the reply.

Guard against self-triggering (half duplex): audio captured while the assistant
speaks does not reach the pipeline as it is: it is passed on as silence (the
last ``keep_ms`` held back until it is clear there was no barge-in), so the
reply's own sound looped back into the microphone can neither fire the wake
word nor be transcribed.
After a barge-in the last ``keep_ms`` (the wake phrase) pass through unmuted, so
the listener hears the wake word and listens for the command. A hit is also
checked against the playback reference: if what the speaker itself played in the
last ``reference_s`` fires the wake word (a reply that says "hey jarvis"), the
hit is taken as the echo and ignored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from hearthvox.engines.wake import FRAME_SAMPLES, WakeEngine
from hearthvox.events import AudioChunk, Int16Array

log = logging.getLogger(__name__)


CUE_ECHO_S = 0.15
"""After an earcon has left the speaker, the microphone may hear it this much longer
(room echo, capture latency); audio arriving until then is muted."""


class Speaker(Protocol):
    cue_until: float

    @property
    def playing(self) -> bool: ...
    def interrupt(self) -> None: ...
    def recent_playback(self, seconds: float, rate_hz: int = 16000) -> Int16Array: ...


@dataclass(frozen=True)
class BargeInOptions:
    enabled: bool = True
    """False: only earcons are kept out of the input (no barge-in, no muting)."""
    threshold: float = 0.8
    """Wake threshold while the assistant speaks (stricter than when idle)."""
    tail_ms: float = 600.0
    """After playback stops, the echo may still be heard this long."""
    keep_ms: float = 2000.0
    """Audio before a barge-in passed on unmuted (the wake phrase itself)."""
    reference_s: float = 10.0
    """Playback checked as the echo reference when the wake word fires."""


class BargeIn:
    def __init__(self, wake: WakeEngine, speaker: Speaker, options: BargeInOptions) -> None:
        self.enabled = options.enabled
        self.wake = wake.new_stream()
        self.wake.strict = options.threshold
        self.speaker = speaker
        self.opts = options
        self.interrupts = 0
        """Barge-ins: playback stopped by the wake word."""
        self.echoes = 0
        """Hits ignored because the speaker's own audio says the wake word."""
        self._last_playing = -1e9

    def use(self, wake: WakeEngine) -> None:
        """Detect on these wake models from now on (the daemon reloaded its models): the
        old ones are no longer referenced here, so they can be freed. A check already
        running finishes on the old detector."""
        stream = wake.new_stream()
        stream.strict = self.opts.threshold
        self.wake = stream

    def _speaking(self) -> bool:
        now = time.monotonic()
        if self.speaker.playing:
            self._last_playing = now
            return True
        return now - self._last_playing < self.opts.tail_ms / 1000.0

    def _hit(self, chunk: AudioChunk) -> bool:
        """Score the chunk's frames; True on a barge-in that is not the echo."""
        x = chunk.samples
        wake = self.wake  # one detector for the whole chunk, even if a reload swaps it
        for i in range(0, len(x) - FRAME_SAMPLES + 1, FRAME_SAMPLES):
            end_ms = chunk.t_audio_ms + (i + FRAME_SAMPLES) * 1000.0 / chunk.rate_hz
            hit = wake.detect(x[i : i + FRAME_SAMPLES], end_ms)
            if hit is None:
                continue
            if self._echo(wake, chunk.rate_hz):
                self.echoes += 1
                log.info("wake word heard in the assistant's own playback: ignored")
                return False
            log.info("barge-in: %s (score %.2f)", hit.model, hit.score)
            return True
        return False

    def _echo(self, wake: WakeEngine, rate_hz: int) -> bool:
        """Whether the speaker's recent playback itself fires the wake word."""
        ref = self.speaker.recent_playback(self.opts.reference_s, rate_hz)
        probe = wake.new_stream()
        probe.strict = self.opts.threshold
        for i in range(0, len(ref) - FRAME_SAMPLES + 1, FRAME_SAMPLES):
            if probe.detect(ref[i : i + FRAME_SAMPLES], i * 1000.0 / rate_hz) is not None:
                return True
        return False

    async def run(self, source: AsyncIterator[AudioChunk]) -> AsyncIterator[AudioChunk]:
        """``source`` with the assistant's own playback muted, barge-ins acted on.

        While it speaks, only the last ``keep_ms`` are held back (older audio goes
        on muted at once), so the input keeps flowing to the daemon's heartbeat."""
        held: list[AudioChunk] = []
        speaking = False
        async for chunk in source:
            if time.monotonic() <= self.speaker.cue_until + CUE_ECHO_S:
                yield _muted(chunk)  # an earcon: never transcribed
                continue
            if not self.enabled or not self._speaking():
                for c in held:
                    yield _muted(c)
                held, speaking = [], False
                yield chunk
                continue
            if not speaking:
                self.wake.reset()  # a new reply: the detector starts on its audio
                speaking = True
            held.append(chunk)
            end_ms = chunk.t_audio_ms + len(chunk.samples) * 1000.0 / chunk.rate_hz
            if await asyncio.to_thread(self._hit, chunk):
                self.speaker.interrupt()
                self.interrupts += 1
                self._last_playing = -1e9
                for c in held:  # the wake phrase goes on as it was heard
                    yield c if c.t_audio_ms >= end_ms - self.opts.keep_ms else _muted(c)
                held, speaking = [], False
                continue
            while held and held[0].t_audio_ms < end_ms - self.opts.keep_ms:
                yield _muted(held.pop(0))


def _muted(chunk: AudioChunk) -> AudioChunk:
    return replace(chunk, samples=np.zeros_like(chunk.samples))
