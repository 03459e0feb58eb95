"""What the soak plays into the room: requests, real recordings, noise.

Requests are spoken by the packaged voice (only the TTS engine is loaded); the
"stop" request is the voice's "Hey Jarvis." followed by a real person saying
"stop" (CMU AN4); one request is mixed with real noise at 15 dB SNR. Between
requests the room hears silence, real noise and real speech without the wake
word (which must not start a turn), played from the corpus where it lies; the
mixes are written to the run's own directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hearthvox.audio.resample import resample_int16
from hearthvox.audio.wavio import load_wav, write_wav
from hearthvox.bundles.default import default_model_paths
from hearthvox.config import Config
from hearthvox.engines import load_tts
from hearthvox.evaluation.mixing import add_noise, as_float, rng_for, to_int16
from hearthvox.events import Int16Array
from hearthvox.settings import engine_config

RATE_HZ = 16000
WAKE = "Hey Jarvis."


@dataclass(frozen=True)
class Request:
    kind: str
    path: Path
    skill: str
    """The skill that should answer it."""


@dataclass(frozen=True)
class Sounds:
    time: Request
    date: Request
    timer: Request
    noisy_time: Request
    real_stop: Request
    story: Request
    """Answered by the fallback skill with a long reply (the barge-in's target)."""
    barge_stop: Request
    """"Hey Jarvis. Stop." played over the long reply."""
    background: tuple[Path, ...]
    """Noise and speech without the wake word, played between requests."""


def _silence(seconds: float) -> Int16Array:
    return np.zeros(int(RATE_HZ * seconds), dtype=np.int16)


def _padded(audio: Int16Array) -> Int16Array:
    return np.concatenate([_silence(0.5), audio, _silence(1.5)])


def make_sounds(out: Path, corpus: Path, timer_s: int) -> Sounds:
    """Write every sound of the soak under ``out``; read real audio from ``corpus``."""
    out.mkdir(parents=True, exist_ok=True)
    tts = load_tts(default_model_paths(), engine_config(Config()))

    def speak(text: str) -> Int16Array:
        speech = np.concatenate(list(tts.sentences(text)))
        return resample_int16(speech, tts.rate_hz, RATE_HZ)

    def real(name: str) -> Int16Array:
        return load_wav(corpus / name, RATE_HZ).samples

    def save(name: str, audio: Int16Array) -> Path:
        path = out / f"{name}.wav"
        write_wav(path, audio, RATE_HZ)
        return path

    def request(kind: str, text: str, skill: str) -> Request:
        return Request(kind, save(kind, _padded(speak(f"{WAKE} {text}"))), skill)

    time_speech = speak(f"{WAKE} What time is it?")
    noisy = add_noise(
        as_float(_padded(time_speech)),
        as_float(real("noise2.wav")),
        15.0,
        rng_for("soak", "noisy_time"),
        as_float(time_speech),
    )
    person_stop = real("speech/an4/an230-msjm-b.wav")
    return Sounds(
        time=request("time", "What time is it?", "time"),
        date=request("date", "What's the date today?", "date"),
        timer=request("timer", f"Set a timer for {timer_s} seconds.", "timer"),
        noisy_time=Request("noisy_time", save("noisy_time", to_int16(noisy)), "time"),
        real_stop=Request(
            "real_stop",
            save("real_stop", _padded(np.concatenate([speak(WAKE), _silence(0.3), person_stop]))),
            "stop",
        ),
        story=request("story", "Tell me a story.", "fallback"),
        barge_stop=request("barge_stop", "Stop.", "stop"),
        background=tuple(
            corpus / name
            for name in ("noise4.wav", "spk1_snt1.wav", "esc50_thunderstorm.wav", "birch_canoe.wav")
        ),
    )
