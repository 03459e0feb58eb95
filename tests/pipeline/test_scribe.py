"""The pipeline that writes a stream down (:class:`Scribe`, a Wyoming transcription):
source -> segmenter -> transcribe, with real models."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hearthvox.audio.sinks import NullSink
from hearthvox.audio.sources import array_source
from hearthvox.audio.wavio import load_wav
from hearthvox.config import Config
from hearthvox.engines import Engines
from hearthvox.engines.asr import AsrResult
from hearthvox.errors import EngineError
from hearthvox.events import Event, Int16Array, SpeechEnded, Transcript
from hearthvox.pipeline.runner import Pipeline
from hearthvox.pipeline.scribe import Scribe


class ThreadNoted:
    """The real recogniser; notes the thread each decode runs on."""

    def __init__(self, engines: Engines) -> None:
        self.asr = engines.asr
        self.executor = engines.asr.executor
        self.threads: list[str] = []

    def transcribe(self, audio: Int16Array) -> AsrResult:
        self.threads.append(threading.current_thread().name)
        return self.asr.transcribe(audio)


def _write_down(scribe: Scribe, audio: Int16Array) -> list[Event]:
    async def run() -> list[Event]:
        source = array_source(audio, 16000, 80, realtime=False)
        events = Pipeline(scribe, None, Config()).run(source, NullSink(), realtime=False)
        async with contextlib.aclosing(events):
            return [e async for e in events]

    return asyncio.run(run())


def test_a_pause_cuts_the_stream_and_each_segment_is_decoded_in_order(
    engines: Engines, corpus_dir: Path
) -> None:
    # vad_valid.wav (9.7 s): speech 0.38-2.70 s, a pause, speech 4.10-5.88 s, a pause,
    # a third sentence
    audio = load_wav(corpus_dir / "vad_valid.wav").samples
    asr = ThreadNoted(engines)
    events = _write_down(Scribe(asr, engines.vad.new_stream(), 0.5, 600.0), audio)
    ended = [e for e in events if isinstance(e, SpeechEnded)]
    texts = [e.text for e in events if isinstance(e, Transcript)]
    assert [e.reason for e in ended] == ["silence", "silence", "end_of_input"]
    # nothing lost, nothing twice (the source pads its last 80 ms chunk)
    assert sum(len(e.audio) for e in ended) == -(-len(audio) // 1280) * 1280
    cut_s = len(ended[0].audio) / 16000
    assert 3.2 <= cut_s <= 4.1, cut_s  # 600 ms into the pause, before the speech resumes
    assert len(texts) == 3 and all(texts)
    assert "boy" in texts[1].lower()  # "But I was a boy and she was a girl."
    assert set(asr.threads) == {"hv-asr_0"}  # the recogniser's own thread, not the loop


def test_without_a_vad_the_stream_is_decoded_whole_as_transcribe_does(
    engines: Engines, corpus_dir: Path
) -> None:
    audio = load_wav(corpus_dir / "vad_valid.wav").samples
    events = _write_down(Scribe(engines.asr, None, 0.5), audio)
    ended = [e for e in events if isinstance(e, SpeechEnded)]
    texts = [e.text for e in events if isinstance(e, Transcript)]
    assert len(ended) == 1 and len(ended[0].audio) >= len(audio)
    assert texts == [engines.asr.transcribe(ended[0].audio).text]


def test_a_refused_admission_fails_the_whole_stream(engines: Engines, corpus_dir: Path) -> None:
    audio = load_wav(corpus_dir / "vad_valid.wav").samples
    entered: list[int] = []

    @contextlib.asynccontextmanager
    async def refuse() -> AsyncIterator[None]:
        entered.append(1)
        raise EngineError("busy: try again")
        yield  # pragma: no cover

    with pytest.raises(EngineError, match="busy"):
        _write_down(Scribe(engines.asr, None, 0.5, admit=refuse), audio)
    assert entered == [1]
