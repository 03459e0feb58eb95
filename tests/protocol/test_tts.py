"""synthesize -> playable audio; streaming synthesis speaks before the text is complete."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import numpy as np
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop

from hearthvox.audio.wavio import load_wav
from hearthvox.evaluation.wer import edit_distance, normalize

from .wyclient import (
    Pcm,
    ServerThread,
    audio_of,
    client,
    read_until,
    synthesize,
    transcribe,
    transcript_text,
)


def test_synthesize_gives_playable_audio_that_says_the_text(
    wyoming_server: ServerThread, tmp_path: Path
) -> None:
    text = "The oven timer is done."
    events, pcm = asyncio.run(synthesize(wyoming_server.tcp, text))
    types = [e.type for e in events if e.type != "audio-chunk"]
    assert types == ["audio-start", "audio-stop"]
    assert (pcm.rate, pcm.width, pcm.channels) == (22050, 2, 1)
    for e in events:
        if e.type == "audio-chunk":
            assert (e.data["rate"], e.data["width"], e.data["channels"]) == (22050, 2, 1)
    assert 0.8 < pcm.duration_s < 5.0
    # playable: a WAV a player reads back, with sound in it
    out = tmp_path / "reply.wav"
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(pcm.rate)
        w.writeframes(pcm.data)
    audio = load_wav(out).samples.astype(np.float64)
    assert np.sqrt(np.mean(audio**2)) > 300
    # and it says the text: the server's own ASR hears it (22.05 kHz in, converted),
    # with half a second of silence in front as a microphone would have it
    padded = Pcm(bytes(pcm.rate) + pcm.data, pcm.rate)
    heard = transcript_text(asyncio.run(transcribe(wyoming_server.tcp, padded)))
    # Piper's output varies run to run (noise in the VITS model): allow one word
    assert edit_distance(normalize(text), normalize(heard)) <= 1, heard


async def _stream(server: ServerThread) -> tuple[int, list[str]]:
    c = client(server.tcp)
    await c.connect()
    try:
        await c.write_event(SynthesizeStart().event())
        await c.write_event(SynthesizeChunk("The first sentence is ").event())
        await c.write_event(SynthesizeChunk("here. And the second").event())
        # audio for the first sentence, while the rest of the text is not sent yet
        before_last = await read_until(c, "audio-chunk")
        await c.write_event(SynthesizeChunk(" one comes later. Then a last").event())
        await c.write_event(SynthesizeChunk(" word").event())
        # the full text again, for clients that do not stream: ignored inside a stream
        full = "The first sentence is here. And the second one comes later. Then a last word"
        await c.write_event(Synthesize(full).event())
        await c.write_event(SynthesizeStop().event())
        rest = await read_until(c, "synthesize-stopped")
    finally:
        await c.disconnect()
    first = [e.type for e in before_last if e.type != "audio-chunk"]
    return len(audio_of(before_last + rest).data), first + [
        e.type for e in rest if e.type != "audio-chunk"
    ]


def test_streaming_synthesis_speaks_the_first_sentence_before_the_text_is_complete(
    wyoming_server: ServerThread,
) -> None:
    n_bytes, types = asyncio.run(_stream(wyoming_server))
    # one audio stream per sentence, the last one spoken at synthesize-stop, then stopped
    assert types == ["audio-start"] + ["audio-stop", "audio-start"] * 2 + [
        "audio-stop",
        "synthesize-stopped",
    ]
    assert n_bytes > 22050 * 2 * 2  # more than two seconds of speech
