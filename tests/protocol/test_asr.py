"""transcribe + audio -> transcript, with streaming transcript events and any input format."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from wyoming.asr import Transcribe
from wyoming.audio import AudioStop

from hearthvox.audio.wavio import load_wav
from hearthvox.engines import Engines
from hearthvox.evaluation.wer import edit_distance, normalize
from tests.conftest import silence, speak16

from .conftest import OPTIONS, ServicesMaker
from .wyclient import (
    Pcm,
    ServerThread,
    client,
    read_until,
    send_audio,
    transcribe,
    transcript_text,
    wav_pcm,
)


def test_transcript_is_what_the_engine_gives_for_the_file(
    wyoming_server: ServerThread, engines: Engines, corpus_dir: Path
) -> None:
    path = corpus_dir / "spk1_snt1.wav"
    expected = engines.asr.transcribe(load_wav(path).samples).text
    events = asyncio.run(transcribe(wyoming_server.tcp, wav_pcm(path)))
    types = [e.type for e in events]
    assert types[0] == "transcript-start" and types[-2:] == ["transcript", "transcript-stop"]
    assert transcript_text(events) == expected
    chunks = "".join(e.data["text"] for e in events if e.type == "transcript-chunk")
    assert chunks == expected


def _convert(samples: np.ndarray, rate: int, width: int, channels: int) -> Pcm:
    """16 kHz int16 mono -> another rate / width / channel count (a slightly different
    signal per channel, so the server really has to mix them)."""
    from hearthvox.audio.resample import resample_int16

    x = resample_int16(samples, 16000, rate).astype(np.int64)
    chans = [x, (x * 9) // 10][:channels] if channels > 1 else [x]
    inter = np.stack(chans, axis=1).reshape(-1)
    if width == 1:
        data = (inter >> 8).astype(np.int8).tobytes()
    elif width == 2:
        data = inter.astype("<i2").tobytes()
    elif width == 3:
        v = (inter << 8).astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3]
        data = v.tobytes()
    else:
        data = (inter << 16).astype("<i4").tobytes()
    return Pcm(data, rate, width, channels)


@pytest.mark.parametrize(
    ("rate", "width", "channels", "max_word_errors"),
    # (32-bit and the others are checked sample by sample in test_units.py)
    # telephone-band 8 kHz loses detail: one word may go
    [(44100, 3, 2, 0), (16000, 1, 2, 0), (8000, 2, 1, 1)],
)
def test_any_rate_width_and_channels_are_converted(
    wyoming_server: ServerThread,
    corpus_dir: Path,
    corpus_rows: list[dict[str, str]],
    rate: int,
    width: int,
    channels: int,
    max_word_errors: int,
) -> None:
    row = next(r for r in corpus_rows if r["file"] == "birch_canoe.wav")
    samples = load_wav(corpus_dir / row["file"]).samples
    pcm = _convert(samples, rate, width, channels)
    assert abs(pcm.duration_s - len(samples) / 16000) < 0.01
    text = transcript_text(asyncio.run(transcribe(wyoming_server.tcp, pcm)))
    assert edit_distance(normalize(row["transcript"]), normalize(text)) <= max_word_errors, text


async def _stream_in_two_parts(server: ServerThread, pcm: Pcm, split_s: float) -> list[str]:
    """Send the audio up to ``split_s``, wait for a transcript chunk, then send the rest."""
    cut = int(split_s * pcm.rate) * pcm.width
    c = client(server.tcp)
    await c.connect()
    try:
        await c.write_event(Transcribe().event())
        await send_audio(c, Pcm(pcm.data[:cut], pcm.rate))
        first = await read_until(c, "transcript-chunk")  # before audio-stop was sent
        await send_audio(c, Pcm(pcm.data[cut:], pcm.rate), start=False)
        await c.write_event(AudioStop().event())
        events = first + await read_until(c, "transcript-stop")
    finally:
        await c.disconnect()
    assert [e.type for e in events][0] == "transcript-start"
    chunks = [e.data["text"] for e in events if e.type == "transcript-chunk"]
    assert "".join(chunks) == transcript_text(events)
    return chunks


def test_streaming_transcript_chunks_come_while_audio_still_arrives(
    wyoming_server: ServerThread, corpus_dir: Path
) -> None:
    # vad_valid.wav: speech 0.38-2.70 s, a pause, speech 4.10-5.88 s
    chunks = asyncio.run(
        _stream_in_two_parts(wyoming_server, wav_pcm(corpus_dir / "vad_valid.wav"), 4.0)
    )
    assert len(chunks) >= 2
    assert "boy" in normalize(chunks[0]) + normalize(chunks[1])


async def _plain(server: ServerThread, pcm: Pcm) -> list[str]:
    c = client(server.tcp)
    await c.connect()
    try:
        await c.write_event(Transcribe().event())
        await send_audio(c, pcm)
        await c.write_event(AudioStop().event())
        events = await read_until(c, "transcript")
    finally:
        await c.disconnect()
    return [e.type for e in events]


def test_without_transcript_streaming_only_the_transcript_comes(
    new_services: ServicesMaker, corpus_dir: Path
) -> None:
    with ServerThread(new_services(transcript_streaming=False), OPTIONS) as server:
        types = asyncio.run(_plain(server, wav_pcm(corpus_dir / "spk2_snt2.wav")))
    assert types == ["transcript"]


def test_audio_stop_without_audio_gives_an_empty_transcript(wyoming_server: ServerThread) -> None:
    async def run() -> list[str]:
        c = client(wyoming_server.tcp)
        await c.connect()
        try:
            await c.write_event(Transcribe().event())
            await c.write_event(AudioStop().event())
            events = await read_until(c, "transcript-stop")
        finally:
            await c.disconnect()
        return [e.data.get("text", "") for e in events if e.type == "transcript"]

    assert asyncio.run(run()) == [""]


def test_a_request_brings_its_own_vocabulary(
    wyoming_server: ServerThread, engines: Engines
) -> None:
    """``context.vocabulary`` biases that request only; a bad one is one error event."""
    audio = np.concatenate(
        [silence(0.5), speak16(engines, "Set a timer called Zbigniew."), silence(0.5)]
    )
    pcm = Pcm(audio.astype("<i2").tobytes(), 16000)
    listed = {"vocabulary": ["Zbigniew", "XJ-4471 = x j forty four seventy one"]}
    assert "Zbigniew" in transcript_text(asyncio.run(transcribe(wyoming_server.tcp, pcm, listed)))
    assert "Zbigniew" not in transcript_text(asyncio.run(transcribe(wyoming_server.tcp, pcm)))

    async def refused(context: dict[str, object]) -> str:
        c = client(wyoming_server.tcp)
        await c.connect()
        try:
            await c.write_event(Transcribe(language="en", context=context).event())
            events = await read_until(c, "error")
        finally:
            await c.disconnect()
        assert events[-1].data["code"] == "bad-event"
        text: str = events[-1].data["text"]
        return text

    assert "must be a list of strings" in asyncio.run(refused({"vocabulary": "Zbigniew"}))
    assert "control character" in asyncio.run(refused({"vocabulary": ["bad\x07bell"]}))
    too_many = {"vocabulary": [f"t{i}" for i in range(501)]}
    assert "more than 500 terms" in asyncio.run(refused(too_many))
    # the server goes on
    assert "Zbigniew" in transcript_text(asyncio.run(transcribe(wyoming_server.tcp, pcm, listed)))
