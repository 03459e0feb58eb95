"""A pause decoded again once its whole tail is heard: a file's turn waits for that
decode; a live turn that ends before it is done keeps the first one, and its
transcript does not queue behind it on the recogniser's thread."""

from __future__ import annotations

import asyncio
import threading

import numpy as np

from hearthvox.engines.asr import AsrResult
from hearthvox.engines.executor import EngineExecutor
from hearthvox.events import Int16Array
from hearthvox.pipeline.speculate import SpeculativeAsr


class GatedDecoder:
    """Says how long the audio is; a decode of audio this long waits for ``gate``."""

    def __init__(self, slow_len: int) -> None:
        self.executor = EngineExecutor("test-asr")
        self.slow_len = slow_len
        self.gate = threading.Event()
        self.calls: list[tuple[int, bool]] = []

    def transcribe(self, audio: Int16Array, *, fallback: bool = True) -> AsrResult:
        self.calls.append((len(audio), fallback))
        if len(audio) == self.slow_len:
            self.gate.wait(10)
        return AsrResult(f"{len(audio)} samples.", len(audio) / 16000)


def _audio(n: int) -> Int16Array:
    return np.zeros(n, dtype=np.int16)


def _two_guesses(patient: bool) -> tuple[GatedDecoder, SpeculativeAsr, Int16Array]:
    decoder = GatedDecoder(slow_len=3200)
    spec = SpeculativeAsr(decoder)
    final = _audio(3200)

    async def run() -> None:
        spec.start(1000.0, _audio(2000))
        await spec.settled(1000.0)
        spec.start(1000.0, final, again=True)  # the same pause, its whole tail heard
        assert spec.text_if_ready(1000.0) is None  # not decoded yet
        spec.confirm(1000.0, final, patient=patient)

    asyncio.run(run())
    return decoder, spec, final


def test_a_live_turn_keeps_the_first_guess_when_the_second_is_not_done() -> None:
    decoder, spec, final = _two_guesses(patient=False)
    try:
        kept = spec.kept_result(final)  # at once: the recogniser's thread is still busy
        assert kept is not None and kept.text == "2000 samples."
    finally:
        decoder.gate.set()
        decoder.executor.shutdown()


def test_a_file_turn_takes_the_second_guess() -> None:
    decoder, spec, final = _two_guesses(patient=True)
    try:
        assert spec.kept_result(final) is None  # not decoded: the turn waits for it
        decoder.gate.set()
        assert spec.transcribe(final).text == "3200 samples."
        assert decoder.calls == [(2000, False), (3200, False)]  # no third decode
    finally:
        decoder.gate.set()
        decoder.executor.shutdown()


def test_a_guess_of_another_pause_is_never_kept() -> None:
    decoder = GatedDecoder(slow_len=-1)
    spec = SpeculativeAsr(decoder)

    async def run() -> None:
        spec.start(1000.0, _audio(2000))
        await spec.settled(1000.0)
        spec.start(1500.0, _audio(2400))  # speech went on: a new pause
        await spec.settled(1500.0)
        spec.confirm(1000.0, _audio(2600), patient=False)

    try:
        asyncio.run(run())
        assert spec.kept_result(_audio(2600)) is None
    finally:
        decoder.executor.shutdown()
