"""Fast turns on the real models: idle gating, speculative decoding, adaptive endpointing."""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from hearthvox.audio.sources import array_source
from hearthvox.audio.wavio import load_wav
from hearthvox.bench.audio import room_tone, speech_end_s
from hearthvox.config import Config
from hearthvox.engines import Engines
from hearthvox.evaluation.wer import word_error_rate
from hearthvox.events import Event, SpeechEnded, WakeDetected
from hearthvox.pipeline.clock import StreamClock
from hearthvox.pipeline.control import TurnOver
from hearthvox.pipeline.listener import Listener
from hearthvox.pipeline.speculate import SpeculativeAsr, SpeculativeReply
from hearthvox.skills import SkillContext, SkillRouter, SystemClock, load_skills
from tests.conftest import silence, speak16

Audio = npt.NDArray[np.int16]


def _config(gate: bool = True, adaptive: bool = True) -> Config:
    cfg = Config()
    return replace(
        cfg,
        wake=replace(cfg.wake, idle_gate=gate),
        endpoint=replace(cfg.endpoint, adaptive=adaptive, follow_up=False),
    )


def listen(
    engines: Engines,
    audio: Audio,
    cfg: Config,
    spec: SpeculativeAsr | None = None,
    replies: SpeculativeReply | None = None,
    complete: Callable[[str], bool] | None = None,
) -> tuple[Listener, list[Event]]:
    engines.wake.reset()
    engines.vad.reset()
    # a file is fed faster than speech: each guess is waited for, as if decoded in no time
    listener = Listener(
        engines.wake,
        engines.vad,
        cfg,
        StreamClock(),
        speculator=spec,
        replies=replies,
        realtime=False,
        complete=complete,
    )

    async def collect() -> list[Event]:
        source = array_source(audio, 16000, cfg.audio.chunk_ms, realtime=False)
        out = []
        async for event in listener.run(source):
            out.append(event)
            if isinstance(event, SpeechEnded):
                out.append(replace(event, endpoint_wait_ms=listener.endpointer.hangover_ms))
                listener.obey(TurnOver(follow_up=False))
        return out

    return listener, asyncio.run(collect())


@pytest.fixture(scope="module")
def wake_phrase(engines: Engines) -> Audio:
    return speak16(engines, "Hey Jarvis.")


@pytest.mark.parametrize("lead", ["room_tone", "digital_silence"])
def test_a_wake_phrase_from_silence_is_caught_with_the_gate_on(
    engines: Engines, wake_phrase: Audio, lead: str
) -> None:
    quiet = room_tone(20.0) if lead == "room_tone" else silence(20.0)
    audio = np.concatenate([quiet, wake_phrase, room_tone(2.0, seed=3)])
    listener, events = listen(engines, audio, _config(gate=True))
    wakes = [e for e in events if isinstance(e, WakeDetected)]
    assert len(wakes) == 1, events
    assert 20000 < wakes[0].t_audio_ms < 20000 + len(wake_phrase) / 16 + 800
    # both models slept through most of the silence (the VAD learns the room first)
    assert listener.hearing.frames["wake"] < 0.2 * len(audio) / 1280
    assert listener.hearing.frames["vad"] < 0.35 * len(audio) / 512


def test_gated_and_ungated_listening_hear_the_same_wake(
    engines: Engines, wake_phrase: Audio
) -> None:
    audio = np.concatenate([room_tone(4.0), wake_phrase, room_tone(2.0, seed=5)])
    _, gated = listen(engines, audio, _config(gate=True))
    _, always = listen(engines, audio, _config(gate=False))
    a = [e for e in gated if isinstance(e, WakeDetected)]
    b = [e for e in always if isinstance(e, WakeDetected)]
    assert len(a) == len(b) == 1
    assert a[0].t_audio_ms == b[0].t_audio_ms  # the replay makes the scores the same
    assert abs(a[0].score - b[0].score) < 0.02


def test_noise_and_speech_without_the_wake_word_never_wake_it(
    engines: Engines, corpus_dir: Path, corpus_rows: list[dict[str, str]]
) -> None:
    parts = [
        load_wav(corpus_dir / r["file"]).samples
        for r in corpus_rows
        if r["kind"] in ("noise", "environment", "speech")
    ]
    _, events = listen(engines, np.concatenate(parts), _config(gate=True))
    assert not [e for e in events if isinstance(e, WakeDetected)]


def test_corpus_requests_are_never_cut_off_and_the_speculative_decode_is_kept(
    engines: Engines, wake_phrase: Audio, corpus_dir: Path, corpus_rows: list[dict[str, str]]
) -> None:
    cfg = _config()
    rows = [r for r in corpus_rows if r["kind"] == "speech"]
    parts: list[Audio] = []
    ends_ms: list[float] = []
    pos = 0
    for i, row in enumerate(rows):
        clip = load_wav(corpus_dir / row["file"]).samples
        for piece in (room_tone(0.5, seed=i), wake_phrase, room_tone(0.3, seed=50 + i)):
            parts.append(piece)
            pos += len(piece)
        ends_ms.append((pos / 16000 + speech_end_s(clip)) * 1000.0)
        parts.extend([clip, room_tone(2.0, seed=90 + i)])
        pos += len(clip) + 32000
    spec = SpeculativeAsr(engines.asr)
    try:
        _, events = listen(engines, np.concatenate(parts), cfg, spec)
        ended = [e for e in events if isinstance(e, SpeechEnded)]
        speech, hangovers = ended[0::2], [e.endpoint_wait_ms for e in ended[1::2]]
        assert len(speech) == len(rows), [e.t_audio_ms for e in speech]
        for event, end_ms in zip(speech, ends_ms, strict=True):
            assert event.t_audio_ms + 200 >= end_ms - 60, (event.t_audio_ms, end_ms)  # not cut
        # the speculative decode served the turn, and its text chose the short hangover
        texts = [spec.transcribe(e.audio).text for e in speech]
        assert spec.kept >= len(rows) - 1, (spec.kept, spec.started)
        assert hangovers.count(cfg.endpoint.short_hangover_ms) >= len(rows) - 2, hangovers
        truths = [r["transcript"] for r in rows]
        assert word_error_rate(list(zip(truths, texts, strict=True))) <= 0.1, texts
    finally:
        spec.close()


def test_a_whole_request_a_skill_takes_ends_on_the_command_hangover(
    engines: Engines, wake_phrase: Audio, tmp_path: Path
) -> None:
    cfg = _config()
    ep = cfg.endpoint
    said = {
        "What time is it?": ep.command_hangover_ms,
        "Set a timer for five minutes.": ep.command_hangover_ms,
        "Set a timer.": ep.short_hangover_ms,  # the timer still needs its length
        "The birch canoe slid on the smooth planks.": ep.short_hangover_ms,  # the fallback's
    }
    parts: list[Audio] = []
    for i, text in enumerate(said):
        parts += [room_tone(0.5, seed=i), wake_phrase, room_tone(0.3, seed=50 + i)]
        parts += [speak16(engines, text), room_tone(2.0, seed=90 + i)]
    router = SkillRouter(
        load_skills(), SkillContext(clock=SystemClock(), state_dir=tmp_path), "Sorry."
    )
    spec = SpeculativeAsr(engines.asr)
    replies = SpeculativeReply(router, engines.tts)
    try:
        _, events = listen(engines, np.concatenate(parts), cfg, spec, replies, router.complete)
    finally:
        spec.close()
        replies.drop()
    ended = [e for e in events if isinstance(e, SpeechEnded)]
    hangovers = [e.endpoint_wait_ms for e in ended[1::2]]
    assert hangovers == list(said.values()), hangovers
    assert router.ctx.timers.timers() == []  # asked ahead of time: nothing was set


def test_a_word_said_alone_that_a_skill_takes_ends_on_the_command_hangover(
    engines: Engines, wake_phrase: Audio, corpus_dir: Path, tmp_path: Path
) -> None:
    """tiny.en often loops on a word said alone ("Stop Stop Stop"): that guess has no
    text, but the word it repeats is a whole request for the skills."""
    with (corpus_dir / "speech.csv").open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["transcript"] in ("STOP", "REPEAT")][:4]
    assert len(rows) == 4
    parts: list[Audio] = []
    for i, row in enumerate(rows):
        parts += [room_tone(0.5, seed=i), wake_phrase, room_tone(0.3, seed=50 + i)]
        parts += [load_wav(corpus_dir / row["file"]).samples, room_tone(2.0, seed=90 + i)]
    router = SkillRouter(
        load_skills(), SkillContext(clock=SystemClock(), state_dir=tmp_path), "Sorry."
    )
    spec = SpeculativeAsr(engines.asr)
    replies = SpeculativeReply(router, engines.tts)
    try:
        _, events = listen(
            engines, np.concatenate(parts), _config(), spec, replies, router.complete
        )
    finally:
        spec.close()
        replies.drop()
    ended = [e for e in events if isinstance(e, SpeechEnded)]
    hangovers = [e.endpoint_wait_ms for e in ended[1::2]]
    assert len(hangovers) == len(rows)
    # whether the guess looped or read the word, the skills take it (one may miss)
    wait = _config().endpoint.command_hangover_ms
    assert hangovers.count(wait) >= len(rows) - 1, hangovers
