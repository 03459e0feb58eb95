"""Cheap idle listening: an energy gate in front of the VAD in front of the wake model.

While the assistant waits for its wake word, most audio is room tone. The
:class:`EnergyGate` (one RMS per chunk against a tracked noise floor) lets the
VAD run only when something louder than the room is heard; the listener then
runs the wake model only while the VAD hears voice (and for a hold after it),
replaying the recent audio it skipped so a wake phrase that starts from
silence scores exactly as if the wake model had run all along.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hearthvox.events import Int16Array


@dataclass(frozen=True)
class GateOptions:
    margin_db: float = 9.0
    """Open when a chunk is this much louder than the noise floor..."""
    open_db: float = -45.0
    """... or louder than this (dBFS) whatever the floor."""
    initial_floor_db: float = -80.0
    """The floor starts low: the gate is open until it has learnt the room."""
    rise_per_chunk: float = 0.01
    """The floor climbs this share of the way to a louder chunk (falls at once)."""
    hold_ms: float = 1000.0
    """The gate stays open this long after the last loud chunk."""
    vad_threshold: float = 0.2
    """A VAD frame at least this likely to be speech wakes the wake model..."""
    wake_hold_ms: float = 1500.0
    """... which then runs for at least this long."""
    vad_replay_ms: float = 240.0
    """Audio fed to a VAD that was asleep, from before the chunk that woke it."""
    wake_replay_ms: float = 2000.0
    """What the wake chain sees of the past: 76 mel frames + 16 embeddings (~2 s)."""


def level_dbfs(samples: Int16Array) -> float:
    """RMS level of int16 audio in dB below full scale (-120 for digital silence)."""
    if len(samples) == 0:
        return -120.0
    rms = math.sqrt(float(np.mean(np.square(samples, dtype=np.float64))))
    return max(-120.0, 20.0 * math.log10(rms / 32768.0 + 1e-12))


class EnergyGate:
    def __init__(self, opts: GateOptions | None = None) -> None:
        self.opts = opts or GateOptions()
        self.floor_db = self.opts.initial_floor_db
        self._open_until_ms = -math.inf

    def push(self, samples: Int16Array, end_ms: float) -> bool:
        """Take one chunk ending at ``end_ms``; True while the gate is open."""
        db = level_dbfs(samples)
        opts = self.opts
        loud = db > self.floor_db + opts.margin_db or db > opts.open_db
        if db < self.floor_db:
            self.floor_db = db
        else:
            self.floor_db += opts.rise_per_chunk * (db - self.floor_db)
        if loud:
            self._open_until_ms = end_ms + opts.hold_ms
        return end_ms <= self._open_until_ms
