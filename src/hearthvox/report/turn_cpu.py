"""CPU time of each turn the latency measurement plays, without touching the pipeline.

A small thread samples the process's CPU time (``time.process_time``: every thread of
the process, the engines' ONNX Runtime and CTranslate2 threads included) against the
wall clock every 20 ms while the paced turns run, less its own CPU time
(``time.thread_time`` of the sampler, so the figure is the assistant's alone). The
stream is cut where nothing but listening happens: the start of each turn's real-time
window, 1 s before its true end of speech (after its wake word, before its end of
speech). Each cut-to-cut segment then holds exactly one whole answered turn: that
turn's end of speech, ASR, skill and TTS of its reply, then the listening gap, the next
request's wake word and the VAD on its first words. The part before the first cut and
the part after the last one together hold one more. So with n turns heard there are n
segments, each with its CPU-seconds and the audio-seconds of the stream it covers;
the segments add up to the whole run's CPU time.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

INTERVAL_S = 0.02
"""How often the sampler reads the CPU clock (its own cost is taken out)."""


@dataclass
class CpuSampler:
    """``with CpuSampler() as s:`` ... then ``s.cpu_at(wall)``: the process's CPU time
    (less the sampler's) at a ``time.monotonic()`` instant inside the block."""

    interval_s: float = INTERVAL_S
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    _own_s: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _sample(self) -> None:
        self.walls.append(time.monotonic())
        self.cpus.append(time.process_time() - self._own_s)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._own_s = time.thread_time()
            self._sample()
        self._own_s = time.thread_time()

    def __enter__(self) -> CpuSampler:
        self._sample()
        self._thread = threading.Thread(target=self._loop, name="report-cpu", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()

    @property
    def own_cpu_s(self) -> float:
        """The sampler thread's own CPU time (not in any figure)."""
        return self._own_s

    def cpu_at(self, wall: float) -> float:
        """CPU time at ``wall``, interpolated between the two samples around it."""
        if not self.walls:
            raise ValueError("no samples")
        i = bisect.bisect_left(self.walls, wall)
        if i <= 0:
            return self.cpus[0]
        if i >= len(self.walls):
            return self.cpus[-1]
        w0, w1 = self.walls[i - 1], self.walls[i]
        c0, c1 = self.cpus[i - 1], self.cpus[i]
        return c0 + (c1 - c0) * ((wall - w0) / (w1 - w0) if w1 > w0 else 1.0)


def segments(
    sampler: CpuSampler, cuts: Sequence[tuple[float, float]], audio_s: float
) -> dict[str, Any]:
    """Per-turn CPU-seconds and audio-seconds from the cuts, each ``(wall, stream_s)``:
    the wall time and the stream position of one heard turn's cut, in stream order.
    Returns the raw figures ``samples.json`` keeps (see the module's docstring)."""
    cuts = sorted(cuts, key=lambda c: c[1])
    cpu: list[float] = []
    audio: list[float] = []
    at = [sampler.cpu_at(w) for w, _ in cuts]
    for k in range(len(cuts) - 1):
        cpu.append(at[k + 1] - at[k])
        audio.append(cuts[k + 1][1] - cuts[k][1])
    if cuts:  # before the first cut and after the last: one turn between them
        cpu.append(at[0] - sampler.cpus[0] + sampler.cpus[-1] - at[-1])
        audio.append(audio_s - (cuts[-1][1] - cuts[0][1]))
    return {
        "cpu_s": [round(x, 4) for x in cpu],
        "audio_s": [round(x, 3) for x in audio],
        "total_cpu_s": round(sampler.cpus[-1] - sampler.cpus[0], 4),
        "sampler_cpu_s": round(sampler.own_cpu_s, 4),
    }
