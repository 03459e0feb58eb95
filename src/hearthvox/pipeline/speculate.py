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

import asyncio
import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from hearthvox.engines.asr import AsrResult
from hearthvox.engines.executor import EngineExecutor
from hearthvox.engines.tts import PiperTts
from hearthvox.engines.tts_chunks import Prefetch
from hearthvox.events import Int16Array, TextStream
from hearthvox.pipeline.fallback import LlmFallback
from hearthvox.pipeline.voicing import VoicedStream
from hearthvox.skills.registry import FALLBACK


@dataclass
class _Guess:
    key_ms: float
    future: Future[AsrResult]
    earlier: Future[AsrResult] | None = None
    """The same pause's first guess, decoded (on less of its tail), when this one is the
    pause decoded again."""


def _usable(future: Future[AsrResult] | None) -> bool:
    return (
        future is not None
        and future.done()
        and not future.cancelled()
        and future.exception() is None
    )


class Decoder(Protocol):
    """What a speculative recogniser decodes with: :class:`~hearthvox.engines.asr.WhisperAsr`,
    or the eval's memo of one."""

    @property
    def executor(self) -> EngineExecutor: ...

    def transcribe(self, audio: Int16Array, *, fallback: bool = True) -> AsrResult: ...


class SpeculativeAsr:
    def __init__(self, asr: Decoder) -> None:
        self.asr = asr
        self._lock = threading.Lock()
        self._pending: _Guess | None = None
        self._confirmed: tuple[Int16Array, Future[AsrResult]] | None = None
        self.started = 0
        self.kept = 0
        self.on_ready: Callable[[float], None] | None = None
        """Called on the event loop with the pause's ``key_ms`` as soon as its guess is
        decoded (the listener acts on it then, not at its next chunk)."""

    def start(self, key_ms: float, audio: Int16Array, again: bool = False) -> None:
        """Decode ``audio`` (the utterance up to a pause after ``key_ms``) in the background;
        ``again``: in place of the guess of the same pause (more of its tail heard)."""
        with self._lock:
            earlier = None
            if self._pending is not None:
                if self._pending.key_ms == key_ms and not again:
                    return
                if self._pending.key_ms == key_ms and _usable(self._pending.future):
                    earlier = self._pending.future
                self._pending.future.cancel()  # a stale guess still queued never runs
            # a guess never falls back to the full window: too slow to be worth it
            future = self.asr.executor.submit(self.asr.transcribe, audio, fallback=False)
            self._pending = _Guess(key_ms, future, earlier)
            self.started += 1
        if self.on_ready is not None:
            loop, ready = asyncio.get_running_loop(), self.on_ready

            def tell(_: Future[AsrResult]) -> None:
                with contextlib.suppress(RuntimeError):  # the loop has closed
                    loop.call_soon_threadsafe(ready, key_ms)

            future.add_done_callback(tell)

    async def settled(self, key_ms: float) -> None:
        """Wait until the guess for the pause after ``key_ms`` is decoded, failed or
        dropped (at once if it is not the pending one)."""
        with self._lock:
            guess = self._pending
        if guess is None or guess.key_ms != key_ms:
            return
        # wait() rather than await: a dropped guess must not look like this task cancelled
        await asyncio.wait({asyncio.wrap_future(guess.future)})

    def _decoded(self, key_ms: float) -> AsrResult | None:
        """The guess for the pause after ``key_ms``, once decoded without an error."""
        with self._lock:
            guess = self._pending
        if guess is None or guess.key_ms != key_ms or not guess.future.done():
            return None
        if guess.future.cancelled() or guess.future.exception() is not None:
            return None
        return guess.future.result()

    def text_if_ready(self, key_ms: float) -> str | None:
        """The speculative transcript for the pause after ``key_ms``, once decoded."""
        result = self._decoded(key_ms)
        return None if result is None or result.fallback else result.text

    def looped_if_ready(self, key_ms: float) -> str | None:
        """The words a decoded guess repeated over and over instead of a text (``Stop``
        for ``Stop Stop Stop``; :attr:`AsrResult.looped`), or None."""
        result = self._decoded(key_ms)
        return None if result is None else result.looped

    def confirm(self, key_ms: float, audio: Int16Array, patient: bool = True) -> bool:
        """The utterance ended with its last speech at ``key_ms`` and this ``audio``:
        keep the speculative decode for it if it was started at that same pause.
        Not ``patient`` (live input): a second decode of the pause that is not done yet
        gives way to the first, which is (the turn does not wait for it)."""
        with self._lock:
            guess, self._pending = self._pending, None
            if guess is None or guess.key_ms != key_ms:
                self._confirmed = None
                return False
            future = guess.future
            if not patient and not future.done() and guess.earlier is not None:
                future.cancel()  # not started yet: it never runs
                future = guess.earlier
            self._confirmed = (audio, future)
            self.kept += 1
            return True

    @property
    def executor(self) -> EngineExecutor:
        return self.asr.executor

    def kept_result(self, audio: Int16Array) -> AsrResult | None:
        """The kept guess for ``audio`` when it is decoded with a text: the transcript at
        once, without a turn on the ASR thread (which may still be decoding the pause
        again, for a turn that did not wait for it). None: ask :meth:`transcribe`."""
        with self._lock:
            confirmed = self._confirmed
            if confirmed is None or confirmed[0] is not audio or not _usable(confirmed[1]):
                return None
            result = confirmed[1].result()
            if result.fallback:
                return None
            self._confirmed = None
        return result

    def transcribe(self, audio: Int16Array) -> AsrResult:
        with self._lock:
            confirmed = self._confirmed
            if confirmed is not None and confirmed[0] is audio:
                self._confirmed = None
        if confirmed is not None and confirmed[0] is audio and not confirmed[1].cancelled():
            guess = confirmed[1].result()  # queued ahead of this call on the same thread
            if not guess.fallback:
                return guess
        # no guess, or its guard tripped: the whole decode, with all it does after a trip
        # (the full window, the digit words, the vocabulary, the larger model)
        return self.asr.transcribe(audio)

    def close(self) -> None:
        """Drop a guess that has not started (the engine's thread is the engine's)."""
        with self._lock:
            guess, self._pending = self._pending, None
        if guess is not None:
            guess.future.cancel()


Started = tuple[Prefetch[Int16Array], Future[Int16Array] | None]
"""A reply's stream and the future of its first chunk."""


@runtime_checkable
class Previewer(Protocol):
    def preview(self, utterance: str) -> tuple[str, Any] | None: ...


@dataclass
class _Prepared:
    key_ms: float
    reply: str
    future: Future[Started]


class SpeculativeReply:
    """The reply to a speculative transcript, answered and its first chunk synthesised
    before the endpoint confirms the command.

    The listener calls :meth:`prepare` once a pause's guess is decoded: the skills
    answer it without side effects (:meth:`hearthvox.skills.SkillRouter.preview`) and
    the voice starts on the reply (phonemised and synthesised on its own thread); what
    only the fallback skill would answer, the language model starts to write, and its
    clauses are voiced as they come (:class:`VoicedStream`). The speak stage calls
    :meth:`take` with the reply it is about to say (:meth:`take_voiced` with the model's
    stream): when it is the prepared one, its first chunk is already there or on the
    way. Speech that goes on (a new pause) or another reply drops it (:meth:`drop`):
    nothing prepared is ever spoken unless the committed turn says exactly that.
    """

    def __init__(self, router: Previewer, tts: PiperTts, llm: LlmFallback | None = None) -> None:
        self.router = router
        self.tts = tts
        self.llm = llm
        """The language model that answers what only the fallback skill would: its reply
        is started instead of the fallback's (which is never said)."""
        self._lock = threading.Lock()
        self._prepared: _Prepared | None = None
        self._voiced: VoicedStream | None = None
        self._tried: tuple[float, str] | None = None
        """The pause and guess last answered (or found to have no answer ready ahead)."""
        self.prepared = 0
        self.used = 0

    def prepare(self, key_ms: float, text: str) -> None:
        """Answer the guess of the pause after ``key_ms`` (once per pause and text: the
        listener asks on every frame of the hangover, and a pause is decoded again once
        its whole tail is heard)."""
        if (key_ms, text) == self._tried:
            return
        self._tried = (key_ms, text)
        preview = self.router.preview(text)
        with self._lock:
            prepared = self._prepared
        if (
            preview is not None
            and prepared is not None
            and prepared.key_ms == key_ms
            and preview[1].text == prepared.reply
            and (self.llm is None or preview[0] != FALLBACK)
        ):
            return  # the pause decoded again says the same reply: it is on its way
        self.drop()
        if preview is None or not preview[1].text.strip() or preview[1].interrupt:
            return
        if self.llm is not None and preview[0] == FALLBACK:
            # the model's reply, its clauses voiced as they are written
            self._voiced = VoicedStream(self.llm.prepare(text), self.tts)
            return
        reply = str(preview[1].text)

        def start() -> Started:
            stream = self.tts.stream(reply)  # phonemised here, on the voice's thread
            return stream, stream.next_future()

        future = self.tts.executor.submit(start)
        with self._lock:
            self._prepared = _Prepared(key_ms, reply, future)
            self.prepared += 1

    def take(self, reply: str) -> Future[Started] | None:
        """The prepared synthesis of ``reply`` (then no longer held here), or None."""
        with self._lock:
            prepared, self._prepared = self._prepared, None
        if prepared is None:
            return None
        if prepared.reply != reply:
            _cancel(prepared)
            return None
        self.used += 1
        return prepared.future

    def take_voiced(self, stream: TextStream) -> VoicedStream | None:
        """The voicing of the model's reply ``stream`` started at the pause (then no longer
        held here), or None."""
        voiced, self._voiced = self._voiced, None
        if voiced is None or voiced.stream is not stream:
            if voiced is not None:
                voiced.cancel()
            return None
        self.used += 1
        return voiced

    def drop(self) -> None:
        with self._lock:
            prepared, self._prepared = self._prepared, None
        if prepared is not None:
            _cancel(prepared)
        voiced, self._voiced = self._voiced, None
        if voiced is not None:
            voiced.cancel()
        if self.llm is not None:
            self.llm.drop()


def _cancel(prepared: _Prepared) -> None:
    if prepared.future.cancel():
        return
    prepared.future.add_done_callback(_stop_stream)


def _stop_stream(
    future: Future[Started],
) -> None:
    if future.cancelled() or future.exception() is not None:
        return
    stream, first = future.result()
    if first is not None:
        first.cancel()
    stream.cancel()
