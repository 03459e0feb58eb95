"""The satellite's ear: the local wake word, then the VAD's end of the command.

Each model runs on its engine's own thread (the event loop runs no inference),
on a stream of its own over the shared loaded models (``new_stream()``). The
wake model hears the audio while the satellite waits for the wake word, and
over a reply on a live microphone (barge-in); after audio it did not hear it
starts its feature stream afresh (``resync``: a replayed phrase cannot fire twice).
"""

from __future__ import annotations

from dataclasses import dataclass

from hearthvox.config import EndpointConfig
from hearthvox.engines.endpoint import Boundary, Endpointer
from hearthvox.engines.vad import SileroVad
from hearthvox.engines.wake import FRAME_SAMPLES, WakeEngine
from hearthvox.events import AudioChunk


@dataclass(frozen=True)
class Wake:
    model: str
    score: float
    t_ms: float
    """The end of the 80 ms frame that fired, in the input stream."""


class Ear:
    def __init__(
        self, wake: WakeEngine, vad: SileroVad, endpoint: EndpointConfig, vad_threshold: float
    ) -> None:
        self.wake = wake.new_stream()
        self.vad = vad.new_stream()
        self.endpoint = endpoint
        self.endpointer = Endpointer(endpoint, vad_threshold, vad.frame_ms)
        self._wake_next_ms: float | None = None
        self._vad_pos_ms = 0.0
        self.normal_threshold = self.wake.strict

    @property
    def wake_words(self) -> list[str]:
        return self.wake.model_names

    def strict(self, threshold: float | None) -> None:
        """Raise every model's threshold to at least ``threshold`` (None: back to normal)."""
        self.wake.strict = self.normal_threshold if threshold is None else threshold

    async def wake_word(self, chunk: AudioChunk) -> Wake | None:
        """The first wake word this chunk completes, if any."""
        if self._wake_next_ms is not None and chunk.t_audio_ms != self._wake_next_ms:
            self.wake.resync()  # it missed audio: its features start afresh
        self._wake_next_ms = chunk.t_audio_ms + len(chunk.samples) * 1000 // chunk.rate_hz
        return await self.wake.executor.run(self._frames, chunk)

    def _frames(self, chunk: AudioChunk) -> Wake | None:
        samples = chunk.samples
        for i in range(0, len(samples) - FRAME_SAMPLES + 1, FRAME_SAMPLES):
            end_ms = chunk.t_audio_ms + (i + FRAME_SAMPLES) * 1000.0 / chunk.rate_hz
            hit = self.wake.detect(samples[i : i + FRAME_SAMPLES], end_ms)
            if hit is not None:
                return Wake(hit.model, hit.score, end_ms)
        return None

    def arm(self, t_ms: float, settle_ms: float) -> None:
        """Listen for the command from ``t_ms`` (right after the wake word)."""
        self.vad.reset()
        self._vad_pos_ms = t_ms
        self.endpointer.arm(t_ms, self.endpoint.no_speech_timeout_s, settle_ms)

    async def command_ended(self, chunk: AudioChunk) -> Boundary | None:
        """The end of the command (``end``: silence or max length; ``timeout``: nothing
        said), once the VAD has heard it; ``start`` boundaries are passed over."""
        probs = await self.vad.executor.run(self.vad.feed, chunk.samples)
        ended = None
        for prob in probs:
            boundary = self.endpointer.push(prob, self._vad_pos_ms)
            self._vad_pos_ms += self.vad.frame_ms
            if boundary is not None and boundary.kind in ("end", "timeout") and ended is None:
                ended = boundary
        return ended
