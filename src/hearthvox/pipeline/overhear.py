"""What the listener knows of the assistant's own sound: barge-in and its guards.

On a live microphone next to the speaker (a laptop with no echo cancellation),
the microphone hears the assistant's replies and earcons. The listener keeps
listening while a reply plays (the speak stage says so on the control lane,
:mod:`hearthvox.pipeline.control`) and hears that audio through
:class:`Overhearing`:

- audio captured while the assistant speaks, for ``tail_ms`` after (the room's
  echo) and while an earcon plays (and :data:`CUE_ECHO_S` after) reaches the VAD
  and the endpointer as silence, so the assistant's own voice is never taken for
  the user's (half duplex);
- the wake model hears it, on the same wake stream as always, at the stricter
  ``threshold``; a hit is a barge-in unless the speaker's own recent playback
  fires the wake word too (a reply that says "hey jarvis": the echo; what the
  speaker is handed is scored as it plays, on a thread of its own). A barge-in
  stops the reply (the listener tells the speak stage on its lane) and the
  listener listens for the command that follows, as after any wake word.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from hearthvox.engines.wake import FRAME_SAMPLES, WakeEngine
from hearthvox.events import Int16Array

log = logging.getLogger(__name__)

CUE_ECHO_S = 0.15
"""After an earcon has left the speaker, the microphone may hear it this much longer
(room echo, capture latency); audio arriving until then is muted."""


class Playback(Protocol):
    """A speaker the microphone hears (:class:`hearthvox.audio.sinks.SpeakerSink`)."""

    cue_until: float

    @property
    def playing(self) -> bool: ...
    def recent_playback(self, seconds: float, rate_hz: int = 16000) -> Int16Array: ...


@dataclass(frozen=True)
class BargeInOptions:
    enabled: bool = True
    """False: only earcons are kept out of the input (no barge-in, no muting)."""
    threshold: float = 0.8
    """Wake threshold while the assistant speaks (stricter than when idle)."""
    tail_ms: float = 600.0
    """After playback stops, the echo may still be heard this long."""
    reference_s: float = 10.0
    """Playback checked as the echo reference when the wake word fires."""


class Overhearing:
    def __init__(
        self,
        playback: Playback,
        options: BargeInOptions,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.playback = playback
        self.opts = options
        self.clock = clock
        self.interrupts = 0
        """Barge-ins: replies stopped by the wake word."""
        self.echoes = 0
        """Hits ignored because the speaker's own audio says the wake word."""
        self._last_playing = -math.inf
        self._stopping = False
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="hv-echo")
        self._probe: WakeEngine | None = None
        self._probe_wake: WakeEngine | None = None
        self._probe_ms = 0.0
        self._probed_to = clock()
        self._pending: Future[None] | None = None
        self._echo_at = -math.inf

    def in_cue(self) -> bool:
        """An earcon is playing, or its echo may still be heard."""
        return self.clock() <= self.playback.cue_until + CUE_ECHO_S

    def speaking(self) -> bool:
        """The assistant's reply is playing, or its echo may still be heard (never after a
        barge-in: the user's command follows at once)."""
        if not self.opts.enabled:
            return False
        playing = self.playback.playing
        if self._stopping:  # a barge-in stopped this reply: its tail is not echo
            self._stopping = playing
            return False
        now = self.clock()
        if playing:
            self._last_playing = now
            return True
        return now - self._last_playing < self.opts.tail_ms / 1000.0

    def barged_in(self) -> None:
        self.interrupts += 1
        self._stopping = True
        self._last_playing = -math.inf

    def follow_playback(self, wake: WakeEngine, rate_hz: int) -> None:
        """Score what the speaker was handed since the last call with the wake model, on
        a thread of its own, while it plays: when a hit comes, whether the reply itself
        says the wake word is already known (a 10 s reference scored at the hit took
        ~150 ms, most of the time to stop)."""
        if self._probe is None or self._probe_wake is not wake:
            self._probe, self._probe_wake = wake.new_stream(), wake
            self._probe.strict = self.opts.threshold
        if self._pending is not None and not self._pending.done():
            return  # still on the last part: the next call takes what came since
        since, self._probed_to = self._probed_to, self.clock()
        probe = self._probe
        self._pending = self._thread.submit(self._score, probe, since, rate_hz)

    def _score(self, probe: WakeEngine, since: float, rate_hz: int) -> None:
        played = self.playback.recent_playback(max(0.0, self.clock() - since), rate_hz)
        for i in range(0, len(played) - FRAME_SAMPLES + 1, FRAME_SAMPLES):
            self._probe_ms += FRAME_SAMPLES * 1000.0 / rate_hz
            if probe.detect(played[i : i + FRAME_SAMPLES], self._probe_ms) is not None:
                self._echo_at = self.clock()

    def is_echo(self, wake: WakeEngine, rate_hz: int) -> bool:
        """Whether the speaker's playback of the last ``reference_s`` fires the wake word
        itself (a reply that says "hey jarvis")."""
        self.follow_playback(wake, rate_hz)
        if self._pending is not None:
            self._pending.result()
        if self.clock() - self._echo_at <= self.opts.reference_s:
            self.echoes += 1
            log.info("wake word heard in the assistant's own playback: ignored")
            return True
        return False

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)
