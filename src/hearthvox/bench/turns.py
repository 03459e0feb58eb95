"""Turns through the real pipeline, paced like a microphone around each end of speech.

Each request (wake phrase + corpus utterance) goes through :class:`Pipeline`.
Audio is fed in real time from 1 s before each true end of speech to 1.6 s after
it (the span every latency figure depends on) and as fast as the loop takes it
elsewhere, unless ``realtime_all``. Times are wall-clock (``time.monotonic``):
the true end of speech is placed on the wall clock by the pacing anchor.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace

from hearthvox.bench.audio import RATE_HZ, Turn, TurnStream
from hearthvox.config import Config, EndpointConfig
from hearthvox.engines import Engines
from hearthvox.engines.endpoint import Endpointer
from hearthvox.engines.llm import LlamaLlm
from hearthvox.events import (
    AudioChunk,
    Int16Array,
    LlmFigures,
    Reply,
    SpeechEnded,
    Transcript,
    TtsFirstAudio,
    TurnDone,
)
from hearthvox.pipeline.runner import Pipeline
from hearthvox.pipeline.stages import Answerer

BEFORE_END_S = 1.0
AFTER_END_S = 1.6
_TAIL_MS = 200.0  # the listener keeps this much audio after the last voiced frame
_CUT_TOLERANCE_MS = 60.0


@dataclass
class TurnTiming:
    turn: Turn
    endpoint_ms: float | None = None
    asr_ms: float | None = None
    skill_ms: float | None = None
    tts_first_ms: float | None = None
    first_audio_ms: float | None = None
    """End of speech (true) -> first reply audio handed to the sink."""
    transcript: str = ""
    reply: str = ""
    audio: Int16Array | None = None
    endpoints: int = 0
    vad_tail_ms: float | None = None
    """The VAD's last voiced frame after the true end of speech (negative: before it)."""
    cut_off: bool = False
    asr_extra_ms: dict[str, float] = field(default_factory=dict)
    """The decodes beyond the first (``asr_prompted``, ``asr_second``) and their ms."""
    skill: str | None = None
    llm: LlmFigures | None = None
    """A turn the language model answered: its reply's counts and times."""
    _end_wall: float | None = field(default=None, repr=False)


class StampSink:
    """A sink that keeps nothing but the wall time of each write."""

    def __init__(self) -> None:
        self.writes: list[float] = []

    def write(self, samples: Int16Array, rate_hz: int) -> None:
        self.writes.append(time.monotonic())

    def stop(self) -> None:
        pass


class _Pacer:
    """Chunks of the stream; real time inside the windows; records each window's anchor
    (wall time minus stream time) so stream positions can be put on the wall clock."""

    def __init__(self, audio: Int16Array, chunk_ms: int, windows: list[tuple[float, float]]):
        self.audio = audio
        self.chunk_ms = chunk_ms
        self.windows = windows
        self.anchors: dict[int, float] = {}

    def _window(self, t0_s: float, t1_s: float) -> int | None:
        for i, (a, b) in enumerate(self.windows):
            if t1_s > a and t0_s < b:
                return i
        return None

    async def chunks(self) -> AsyncIterator[AudioChunk]:
        n = RATE_HZ * self.chunk_ms // 1000
        for k, i in enumerate(range(0, len(self.audio) - n + 1, n)):
            t0, t1 = i / RATE_HZ, (i + n) / RATE_HZ
            w = self._window(t0, t1)
            if w is None:
                await asyncio.sleep(0)
            elif w not in self.anchors:
                self.anchors[w] = time.monotonic() - t1
            else:
                await asyncio.sleep(max(0.0, self.anchors[w] + t1 - time.monotonic()))
            yield AudioChunk(self.audio[i : i + n], RATE_HZ, k * self.chunk_ms)


def bench_config(cfg: Config) -> Config:
    """The bench's config: no follow-up window (each request starts with the wake word)."""
    return replace(cfg, endpoint=replace(cfg.endpoint, follow_up=False))


def run_turns(
    engines: Engines,
    router: Answerer,
    cfg: Config,
    stream: TurnStream,
    realtime_all: bool,
    llm: LlamaLlm | None = None,
) -> list[TurnTiming]:
    cfg = bench_config(cfg)
    if realtime_all:
        windows = [(0.0, len(stream.audio) / RATE_HZ + 1.0)]
    else:
        windows = [(t.true_end_s - BEFORE_END_S, t.true_end_s + AFTER_END_S) for t in stream.turns]
    pacer = _Pacer(stream.audio, cfg.audio.chunk_ms, windows)
    sink = StampSink()
    timings = [TurnTiming(t) for t in stream.turns]
    starts = [t.start_s for t in stream.turns]

    def turn_at(t_ms: float) -> TurnTiming:
        i = max([0, *[k for k, s in enumerate(starts) if s * 1000.0 <= t_ms]])
        return timings[i]

    def end_wall(timing: TurnTiming) -> float | None:
        w = 0 if realtime_all else timings.index(timing)
        anchor = pacer.anchors.get(w)
        return None if anchor is None else anchor + timing.turn.true_end_s

    async def drive() -> None:
        current: TurnTiming | None = None
        detected = time.monotonic()
        pipeline = Pipeline(engines, router, cfg, llm=llm)
        async for event in pipeline.run(pacer.chunks(), sink):
            now = time.monotonic()
            match event:
                case SpeechEnded():
                    current = turn_at(event.t_audio_ms)
                    current.endpoints += 1
                    current.audio = event.audio
                    end_ms = current.turn.true_end_s * 1000.0
                    current.vad_tail_ms = event.t_audio_ms - end_ms
                    if event.t_audio_ms + _TAIL_MS < end_ms - _CUT_TOLERANCE_MS:
                        current.cut_off = True
                    current._end_wall = end_wall(current)
                    if current._end_wall is not None and current.endpoint_ms is None:
                        current.endpoint_ms = (now - current._end_wall) * 1000.0
                    sink.writes.clear()
                    detected = now
                case Transcript() if current is not None:
                    current.transcript = event.text
                    current.asr_ms = (now - detected) * 1000.0
                    current.asr_extra_ms = dict(event.extra_ms)
                case Reply(announcement=False) if current is not None:
                    current.reply = event.text
                    current.skill_ms = event.skill_ms
                    current.skill = event.skill
                case TurnDone() if current is not None and event.llm is not None:
                    current.llm = event.llm
                case TtsFirstAudio() if current is not None:
                    current.tts_first_ms = event.tts_first_ms
                    if sink.writes and current._end_wall is not None:
                        current.first_audio_ms = (sink.writes[0] - current._end_wall) * 1000.0
                case _:
                    pass
            if current is not None and current.first_audio_ms is None and sink.writes:
                if current._end_wall is not None:
                    current.first_audio_ms = (sink.writes[0] - current._end_wall) * 1000.0

    asyncio.run(drive())
    for t in timings:
        if t.endpoints > 1:
            t.cut_off = True
    return timings


def fixed_endpoint_ms(
    engines: Engines, stream: TurnStream, cfg: Config, hangover_ms: int
) -> tuple[list[float | None], int]:
    """True end of speech -> endpoint for a fixed-silence endpointer (Home Assistant's
    0.7 s), with the same VAD and the same chunk arrival times as the pipeline; and how
    many requests it cut before their speech ended."""
    chunk_ms = cfg.audio.chunk_ms
    ep_cfg = EndpointConfig(hangover_ms=hangover_ms, adaptive=False, end_threshold=0.0)
    out: list[float | None] = []
    cuts = 0
    vad = engines.vad
    for turn in stream.turns:
        vad.reset()
        lo = int(turn.start_s * RATE_HZ)
        hi = lo + len(turn.utterance.clip) + int(AFTER_END_S * 2 * RATE_HZ)
        endpointer = Endpointer(ep_cfg, cfg.vad.threshold, vad.frame_ms)
        endpointer.arm(turn.start_s * 1000.0, 5.0)
        probs = vad.feed(stream.audio[lo:hi])
        out.append(None)
        for k, prob in enumerate(probs):
            start_ms = turn.start_s * 1000.0 + k * vad.frame_ms
            boundary = endpointer.push(prob, start_ms)
            if boundary is not None and boundary.kind == "end":
                frame_end = start_ms + vad.frame_ms
                arrival = math.ceil(frame_end / chunk_ms) * chunk_ms
                out[-1] = arrival - turn.true_end_s * 1000.0
                cuts += boundary.t_ms + _TAIL_MS < turn.true_end_s * 1000.0 - _CUT_TOLERANCE_MS
                break
    return out, cuts
