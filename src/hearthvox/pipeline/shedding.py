"""Shedding: a turn that waited too long for the engines gets a short busy reply.

Engines are shared (a hub serves every satellite with one speech-to-text and one
voice, each on its own single thread), so under load a turn queues. Past its
maximum queue age a late answer is worse than none: the turn is *shed* — its
speech-to-text, skill and reply are not computed, and :data:`BUSY` is said instead
(voiced once, ahead of time, so saying it queues behind nothing). The age is
counted from the moment the end of speech was detected, and checked twice, before
the work it would spare: when speech-to-text starts decoding on its thread, and
when the transcript reaches the skills.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from hearthvox.events import Int16Array, Reply

BUSY = "Sorry, I'm busy. Please ask again."
"""Short: under load every second of it is a second more that the satellite plays."""
BUSY_SKILL = "busy"


@dataclass(frozen=True)
class Shedding:
    """Shed a turn older than ``max_age_s`` (0: never)."""

    max_age_s: float
    voiced: Int16Array | None = None
    """:data:`BUSY` synthesised, at the voice's rate (None: synthesised when said)."""

    def over(self, since_s: float) -> bool:
        """Whether a turn whose speech ended at ``since_s`` (``time.perf_counter``) is
        past its maximum queue age."""
        return self.max_age_s > 0 and time.perf_counter() - since_s > self.max_age_s

    def reply(self, t_audio_ms: int, t_wall_ms: int, since_s: float) -> Reply:
        """The busy reply of a turn shed ``now - since_s`` after its end of speech."""
        return Reply(
            t_audio_ms,
            t_wall_ms,
            text=BUSY,
            skill=BUSY_SKILL,
            skill_ms=0.0,
            queue_ms=round((time.perf_counter() - since_s) * 1000.0, 1),
            shed=True,
            voiced=self.voiced,
        )
