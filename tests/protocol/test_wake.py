"""detect + audio -> detection / not-detected, each connection with its own detector."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
from wyoming.audio import AudioStop
from wyoming.info import Describe
from wyoming.wake import Detect

from hearthvox.engines import Engines
from hearthvox.engines.wake import FRAME_SAMPLES
from tests.conftest import silence, speak16

from .wyclient import Pcm, ServerThread, client, read_until, send_audio, wav_pcm


async def detect(
    server: ServerThread, pcm: Pcm, names: list[str] | None
) -> list[tuple[str, object]]:
    c = client(server.tcp)
    await c.connect()
    try:
        await c.write_event(Detect(names=names).event())
        await send_audio(c, pcm)
        await c.write_event(AudioStop().event())
        await c.write_event(Describe().event())  # a marker: everything before it is answered
        events = await read_until(c, "info")
    finally:
        await c.disconnect()
    return [(e.type, e.data.get("name")) for e in events if e.type != "info"]


def _wake_request(engines: Engines) -> Pcm:
    audio = np.concatenate(
        [silence(1.0), speak16(engines, "Hey Jarvis. What time is it?"), silence(1.0)]
    )
    return Pcm(audio.astype("<i2").tobytes(), 16000)


def test_a_spoken_wake_phrase_is_detected_once(
    wyoming_server: ServerThread, engines: Engines
) -> None:
    got = asyncio.run(detect(wyoming_server, _wake_request(engines), ["hey_jarvis"]))
    assert got == [("detection", "hey_jarvis")]


def test_other_speech_is_not_detected(wyoming_server: ServerThread, corpus_dir: Path) -> None:
    got = asyncio.run(detect(wyoming_server, wav_pcm(corpus_dir / "spk2_snt1.wav"), None))
    assert got == [("not-detected", None)]


def test_an_unserved_wake_word_is_refused_and_the_connection_stays(
    wyoming_server: ServerThread,
) -> None:
    async def run() -> list[str]:
        c = client(wyoming_server.tcp)
        await c.connect()
        try:
            await c.write_event(Detect(names=["ok_nabu"]).event())
            events = await read_until(c, "error")
            await c.write_event(Describe().event())
            events += await read_until(c, "info")
        finally:
            await c.disconnect()
        assert "ok_nabu" in events[0].data["text"]
        assert events[0].data["code"] == "unsupported"
        return [e.type for e in events]

    assert asyncio.run(run()) == ["error", "info"]


def test_each_stream_has_its_own_state(engines: Engines) -> None:
    """Two stream detectors on the shared sessions do not disturb each other."""
    audio = speak16(engines, "Hey Jarvis.")
    frames = [
        audio[i : i + FRAME_SAMPLES]
        for i in range(0, len(audio) - FRAME_SAMPLES + 1, FRAME_SAMPLES)
    ]
    a, b = engines.wake.new_stream(), engines.wake.new_stream()
    scores_a, scores_b = [], []
    for frame in frames:  # interleaved: if state were shared, b would see a's frames
        scores_a.append(a.scores(frame)["hey_jarvis"])
        scores_b.append(b.scores(frame)["hey_jarvis"])
    assert scores_a == scores_b
    assert max(scores_a) > 0.5
    vad_a, vad_b = engines.vad.new_stream(), engines.vad.new_stream()
    probs_a = [p for i in range(0, len(audio), 800) for p in vad_a.feed(audio[i : i + 800])]
    probs_b = vad_b.feed(audio)
    assert probs_a == probs_b and max(probs_a) > 0.5
