"""The bench's audio: requests built from the corpus speech, idle audio, true speech ends."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hearthvox.audio.resample import resample_int16
from hearthvox.audio.wavio import load_wav
from hearthvox.engines.tts import PiperTts
from hearthvox.events import Int16Array

RATE_HZ = 16000
WAKE_PHRASE = "Hey Jarvis."
NEGATIVE_KINDS = ("noise", "environment", "vad", "speech")


def room_tone(seconds: float, seed: int = 0, level: float = 12.0) -> Int16Array:
    """Quiet room noise (about -68 dBFS), not digital zeros."""
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(0.0, level, int(RATE_HZ * seconds)), -32768, 32767).astype(np.int16)


def speech_end_s(x: Int16Array, frame_ms: float = 10.0) -> float:
    """Where the speech of a clean clip ends: the end of its last 10 ms frame more than
    12 dB over the clip's noise floor and no more than 40 dB under its peak."""
    n = int(RATE_HZ * frame_ms / 1000)
    frames = x[: len(x) // n * n].astype(np.float64).reshape(-1, n)
    rms = np.sqrt(np.mean(frames**2, axis=1)) + 1e-9
    threshold = max(np.percentile(rms, 10) * 4.0, rms.max() * 0.01)
    loud = np.nonzero(rms > threshold)[0]
    return float((loud[-1] + 1) * frame_ms / 1000) if len(loud) else 0.0


@dataclass(frozen=True)
class Utterance:
    name: str
    truth: str
    clip: Int16Array


def corpus_speech(corpus: Path, limit: int | None = None) -> list[Utterance]:
    with (corpus / "corpus.csv").open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["kind"] == "speech"]
    out = [
        Utterance(r["file"], r["transcript"], load_wav(corpus / r["file"]).samples) for r in rows
    ]
    return out[:limit] if limit else out


def corpus_negatives(corpus: Path, seconds: float) -> Int16Array:
    """Noise, environment sounds and speech without the wake word, up to ``seconds``."""
    with (corpus / "corpus.csv").open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["kind"] in NEGATIVE_KINDS]
    parts, total = [], 0
    for row in rows:
        x = load_wav(corpus / row["file"]).samples
        parts.append(x)
        total += len(x)
        if total >= seconds * RATE_HZ:
            break
    return np.concatenate(parts)[: int(seconds * RATE_HZ)]


def spoken(tts: PiperTts, text: str) -> Int16Array:
    return resample_int16(np.concatenate(list(tts.sentences(text))), tts.rate_hz, RATE_HZ)


COMMANDS = (
    "What time is it?",
    "Set a timer for two minutes.",
    "What is the date today?",
    "Say that again.",
    "Cancel the timer.",
)
"""Requests a skill answers (the corpus's sentences all fall through to the apology):
spoken by the bundle's voice, since the corpus records no such command."""


def spoken_commands(tts: PiperTts, limit: int | None = None) -> list[Utterance]:
    texts = COMMANDS[:limit] if limit else COMMANDS
    return [Utterance(f"voice: {t}", t, spoken(tts, t)) for t in texts]


QUESTIONS = (
    "Why is the sky blue?",
    "What is the capital of France?",
    "How far away is the moon?",
    "What do bees make?",
    "Who wrote Romeo and Juliet?",
    "What is a rainbow?",
    "How many legs does a spider have?",
    "Why do cats purr?",
)
"""Open questions no skill answers: the local language model's turns."""


def spoken_questions(tts: PiperTts, limit: int | None = None) -> list[Utterance]:
    texts = QUESTIONS[:limit] if limit else QUESTIONS
    return [Utterance(f"voice: {t}", t, spoken(tts, t)) for t in texts]


@dataclass(frozen=True)
class Turn:
    utterance: Utterance
    start_s: float
    """Where the utterance clip starts in the stream."""
    true_end_s: float
    """Where its speech ends in the stream."""


@dataclass(frozen=True)
class TurnStream:
    audio: Int16Array
    turns: list[Turn]


def turn_stream(tts: PiperTts, utterances: list[Utterance], gap_s: float = 2.0) -> TurnStream:
    """Each utterance after the spoken wake phrase, with room tone around."""
    wake = spoken(tts, WAKE_PHRASE)
    parts: list[Int16Array] = []
    turns: list[Turn] = []
    pos = 0
    for i, u in enumerate(utterances):
        for piece in (room_tone(0.5, seed=i), wake, room_tone(0.3, seed=100 + i)):
            parts.append(piece)
            pos += len(piece)
        turns.append(Turn(u, pos / RATE_HZ, pos / RATE_HZ + speech_end_s(u.clip)))
        parts.extend([u.clip, room_tone(gap_s, seed=200 + i)])
        pos += len(u.clip) + int(gap_s * RATE_HZ)
    return TurnStream(np.concatenate(parts), turns)
