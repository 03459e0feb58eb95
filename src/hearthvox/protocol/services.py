"""The engines every connection shares, and how connections may use them.

The engines are blocking and loaded once. Every call runs on the engine's own
thread (:mod:`hearthvox.engines.executor`), the one the assistant's pipeline uses,
never on the event loop, so the watchdog sees it and one engine's work never
queues behind another's. Whisper (CTranslate2) and Piper (whose espeak-ng
phonemiser keeps global state) take one request at a time, behind a lock per
engine that is held only for the computation, never while a connection writes to
its client. A call whose connection goes away still finishes on the engine's
thread before the next call starts there. Wake word and VAD state is per stream (``new_stream()``);
the streams of all connections take turns on their engine's thread.

Inside ``hearthvox run --serve`` the engines are the assistant's own, and an
:class:`~hearthvox.protocol.gate.EngineGate` puts the assistant's turn first.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from wyoming.info import Info

from hearthvox.bundles.default import ModelPaths
from hearthvox.config import Config
from hearthvox.engines import Engines
from hearthvox.engines.asr import AsrResult, WhisperAsr
from hearthvox.engines.executor import EngineExecutor
from hearthvox.engines.vad import SileroVad
from hearthvox.engines.wake import WakeEngine
from hearthvox.errors import ModelError
from hearthvox.events import Int16Array
from hearthvox.pipeline.scribe import Scribe
from hearthvox.protocol.gate import EngineGate
from hearthvox.protocol.info import ServedModels, build_info
from hearthvox.vocabulary import Vocabulary

T = TypeVar("T")


async def run_exclusive(
    lock: asyncio.Lock,
    executor: EngineExecutor,
    fn: Callable[[], T],
    gate: EngineGate | None = None,
) -> T:
    """Run ``fn`` on the engine's thread ``executor`` while holding ``lock`` (and, with a
    ``gate``, only while the assistant has no turn on; raises EngineBusy when that wait
    is too long).

    If the caller is cancelled, the lock is still held until the call is done, so the
    next request's call never queues behind an abandoned one unseen.
    """
    async with engine_turn(lock, gate):
        job = asyncio.ensure_future(executor.run(fn))
        try:
            return await asyncio.shield(job)
        except asyncio.CancelledError:
            with contextlib.suppress(BaseException):
                await job
            raise


@contextlib.asynccontextmanager
async def engine_turn(lock: asyncio.Lock, gate: EngineGate | None = None) -> AsyncIterator[None]:
    """Hold ``lock`` (the engine's), with a ``gate`` only while the assistant has no turn
    on (EngineBusy when that wait is too long)."""
    if gate is None:
        await lock.acquire()
    else:
        await gate.enter(lock)
    try:
        yield
    finally:
        if gate is None:
            lock.release()
        else:
            gate.leave(lock)


@dataclass
class Services:
    engines: Engines
    served: ServedModels
    cfg: Config
    transcript_streaming: bool = True
    gate: EngineGate | None = None
    """The assistant's priority over the engines (``run --serve``); None: ``serve`` alone."""
    _asr_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _tts_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @functools.cached_property
    def info(self) -> Info:
        return build_info(self.served, transcript_streaming=self.transcript_streaming)

    @property
    def tts_rate_hz(self) -> int:
        return self.engines.tts.rate_hz

    @property
    def wake_names(self) -> list[str]:
        return self.engines.wake.model_names

    def use(self, engines: Engines, served: ServedModels) -> None:
        """Serve other engines from the next request on (the assistant reloaded its
        models); calls running on the old ones finish there."""
        self.engines = engines
        self.served = served
        self.__dict__.pop("info", None)  # the cached description names the old models

    def wake_stream(self) -> WakeEngine:
        return self.engines.wake.new_stream()

    def vad_stream(self) -> SileroVad:
        return self.engines.vad.new_stream()

    def scribe(self, vocabulary: Vocabulary | None, cut_silence_ms: float | None) -> Scribe:
        """A transcription's engines (:class:`~hearthvox.pipeline.scribe.Scribe`): the
        recogniser with the request's own ``vocabulary`` besides the configured list,
        each decode one at a time server-wide (behind the gate, under ``run --serve``);
        ``cut_silence_ms``: pauses that cut the stream into segments (None: no cuts)."""
        engines = self.engines
        return Scribe(
            _WithVocabulary(engines.asr, vocabulary),
            self.vad_stream() if cut_silence_ms is not None else None,
            self.cfg.vad.threshold,
            cut_silence_ms or 0.0,
            lambda: engine_turn(self._asr_lock, self.gate),
        )

    async def sentences(self, text: str) -> AsyncIterator[Int16Array]:
        """The audio of each sentence of ``text``; the engine lock is taken per sentence,
        so several connections speaking at once take turns sentence by sentence."""
        tts = self.engines.tts
        sentences = iter(tts.sentences(text))
        while True:
            audio = await run_exclusive(
                self._tts_lock, tts.executor, lambda: next(sentences, None), self.gate
            )
            if audio is None:
                return
            yield audio


@dataclass(frozen=True)
class _WithVocabulary:
    """The recogniser, with a request's own terms besides the configured list."""

    asr: WhisperAsr
    vocabulary: Vocabulary | None

    @property
    def executor(self) -> EngineExecutor:
        return self.asr.executor

    def transcribe(self, audio: Int16Array) -> AsrResult:
        return self.asr.transcribe(audio, vocabulary=self.vocabulary)


def served_models(models: ModelPaths, cfg: Config, wake_names: list[str]) -> ServedModels:
    """Pick the artifacts the loaded engines run out of the bundle's model paths."""
    try:
        wake = {name: models.artifacts[f"wake:{name}"] for name in wake_names}
        return ServedModels(
            bundle_id=models.bundle_id,
            asr=models.artifacts["asr"],
            asr_language=cfg.asr.language,
            tts=models.artifacts["tts"],
            tts_voice=cfg.tts.voice,
            tts_config=models.tts_config,
            wake=wake,
        )
    except KeyError as exc:
        raise ModelError(f"bundle {models.bundle_id} has no artifact for {exc}") from None


def make_services(
    engines: Engines,
    models: ModelPaths,
    cfg: Config,
    *,
    transcript_streaming: bool = True,
    gate: EngineGate | None = None,
) -> Services:
    return Services(
        engines,
        served_models(models, cfg, engines.wake.model_names),
        cfg,
        transcript_streaming,
        gate,
    )
