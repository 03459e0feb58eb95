"""Speculative recognition: decode at the first pause, keep it if the endpoint confirms.

A guess is a lean decode that never falls back to the full window (a guard that
trips makes it "no guess": the default hangover, and a normal decode at the end).

The listener calls :meth:`SpeculativeAsr.start` when the speaker first pauses
(the audio so far), reads :meth:`SpeculativeAsr.text_if_ready` to choose the
hangover, and calls :meth:`SpeculativeAsr.confirm` when the utterance ends: if
no speech came after the pause, the running (often finished) decode becomes
the result for that utterance's audio. The transcribe stage calls
:meth:`transcribe` like any recogniser; for a confirmed utterance it only waits
for the speculative decode, otherwise it decodes as usual.

Guesses and the transcribe stage's calls run on the ASR engine's own thread, in
the order they were asked for: a guess always runs before the final decode that
may keep it (that decode only waits for a guess queued ahead of itself).
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from dataclasses import dataclass

from hearthvox.engines.asr import AsrResult, WhisperAsr
from hearthvox.engines.executor import EngineExecutor
from hearthvox.events import Int16Array


@dataclass
class _Guess:
    key_ms: float
    future: Future[AsrResult]


class SpeculativeAsr:
    def __init__(self, asr: WhisperAsr) -> None:
        self.asr = asr
        self._lock = threading.Lock()
        self._pending: _Guess | None = None
        self._confirmed: tuple[Int16Array, Future[AsrResult]] | None = None
        self.started = 0
        self.kept = 0

    def start(self, key_ms: float, audio: Int16Array) -> None:
        """Decode ``audio`` (the utterance up to a pause after ``key_ms``) in the background."""
        with self._lock:
            if self._pending is not None:
                if self._pending.key_ms == key_ms:
                    return
                self._pending.future.cancel()  # a stale guess still queued never runs
            # a guess never falls back to the full window: too slow to be worth it
            future = self.asr.executor.submit(self.asr.transcribe, audio, fallback=False)
            self._pending = _Guess(key_ms, future)
            self.started += 1

    def text_if_ready(self, key_ms: float) -> str | None:
        """The speculative transcript for the pause after ``key_ms``, once decoded."""
        with self._lock:
            guess = self._pending
        if guess is None or guess.key_ms != key_ms or not guess.future.done():
            return None
        if guess.future.exception() is not None or guess.future.result().fallback:
            return None
        return guess.future.result().text

    def confirm(self, key_ms: float, audio: Int16Array) -> bool:
        """The utterance ended with its last speech at ``key_ms`` and this ``audio``:
        keep the speculative decode for it if it was started at that same pause."""
        with self._lock:
            guess, self._pending = self._pending, None
            if guess is None or guess.key_ms != key_ms:
                self._confirmed = None
                return False
            self._confirmed = (audio, guess.future)
            self.kept += 1
            return True

    @property
    def executor(self) -> EngineExecutor:
        return self.asr.executor

    def transcribe(self, audio: Int16Array) -> AsrResult:
        with self._lock:
            confirmed = self._confirmed
            if confirmed is not None and confirmed[0] is audio:
                self._confirmed = None
        if confirmed is not None and confirmed[0] is audio and not confirmed[1].cancelled():
            guess = confirmed[1].result()  # queued ahead of this call on the same thread
            if not guess.fallback:
                return guess
            # a guard tripped on (nearly) this audio: a second lean decode would too
            full = self.asr.transcribe_full(audio)
            return AsrResult(full.text, full.audio_duration_s, "full", fallback=guess.fallback)
        return self.asr.transcribe(audio)

    def close(self) -> None:
        """Drop a guess that has not started (the engine's thread is the engine's)."""
        with self._lock:
            guess, self._pending = self._pending, None
        if guess is not None:
            guess.future.cancel()
