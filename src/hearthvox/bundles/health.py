"""The health check a bundle on trial must pass: a real smoke inference on loaded engines.

The bundle's voice says "<wake word>. What time is it?"; the wake engine must
detect the wake word in it, the VAD must find speech, the ASR must hear the
request, and the voice must synthesise a reply. Runs on fresh streams of the
engines (their shared state is untouched); about a second on a laptop core.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from hearthvox.audio.resample import resample_int16
from hearthvox.errors import HearthvoxError, ModelError

if TYPE_CHECKING:
    from hearthvox.engines import Engines
    from hearthvox.events import Int16Array

RATE_HZ = 16000
FRAME = 1280  # 80 ms: the wake engine's frame
REQUEST = "What time is it?"
REPLY = "It is twelve o'clock."
_MIN_RMS = 300.0  # speech is thousands; silence or noise-free garbage is near 0


@dataclass(frozen=True)
class HealthReport:
    wake_model: str
    wake_score: float
    speech_frames: int
    transcript: str
    reply_s: float
    took_ms: float


def wake_phrase(model: str) -> str:
    """``hey_jarvis`` -> ``Hey Jarvis``."""
    return model.replace("_", " ").title()


def _speak(engines: Engines, text: str, what: str) -> Int16Array:
    chunks = list(engines.tts.sentences(text))
    audio = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
    rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) if len(audio) else 0.0
    if len(audio) < engines.tts.rate_hz // 4 or rms < _MIN_RMS:
        raise ModelError(
            f"health check: the voice produced no audible speech for the {what} "
            f"({len(audio) / engines.tts.rate_hz:.2f} s, rms {rms:.0f})"
        )
    return resample_int16(audio, engines.tts.rate_hz, RATE_HZ)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


def health_check(engines: Engines) -> HealthReport:
    """Run the smoke inference; :class:`ModelError` says which stage failed and how."""
    t0 = time.perf_counter()
    model = engines.wake.model_names[0]
    try:
        request = _speak(engines, f"{wake_phrase(model)}. {REQUEST}", "request")
        silence = np.zeros(RATE_HZ, dtype=np.int16)
        stream = np.concatenate([silence, request, silence])
        wake = engines.wake.new_stream()
        best: dict[str, float] = {}
        for i in range(0, len(stream) - FRAME + 1, FRAME):
            for name, score in wake.scores(stream[i : i + FRAME]).items():
                best[name] = max(best.get(name, 0.0), score)
        name, score = max(best.items(), key=lambda kv: kv[1])
        if engines.wake.best_hit(best) is None:
            raise ModelError(
                f"health check: the wake word {wake_phrase(model)!r} was not detected "
                f"(best score {score:.2f}, threshold {engines.wake.threshold_for(name):.2f})"
            )
        vad = engines.vad.new_stream()
        voiced = sum(p >= 0.5 for p in vad.feed(stream))
        if voiced == 0:
            raise ModelError("health check: the VAD found no speech in the spoken request")
        transcript = engines.asr.transcribe(request).text
        heard = _words(transcript) & _words(REQUEST)
        if len(heard) < 2:
            raise ModelError(
                f"health check: the speech recognition did not hear {REQUEST!r} "
                f"(transcript: {transcript!r})"
            )
        reply = _speak(engines, REPLY, "reply")
    except ModelError:
        raise
    except HearthvoxError as exc:
        raise ModelError(f"health check: {exc}") from exc
    return HealthReport(
        wake_model=name,
        wake_score=round(score, 3),
        speech_frames=voiced,
        transcript=transcript,
        reply_s=round(len(reply) / RATE_HZ, 2),
        took_ms=round((time.perf_counter() - t0) * 1000.0, 1),
    )
