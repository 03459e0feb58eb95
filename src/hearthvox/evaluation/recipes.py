"""What the eval set is made of: the slices, the synthesised texts, the mixing parameters.

Everything that decides a clip's samples is here or in the corpus, and all of it
goes into :func:`recipe_doc`, whose hash names the cached set: change a text, a
level or the seed and the set is built afresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SET_VERSION = 2

CLEAN = "clean"
NOISE_SNR_DB: tuple[tuple[str, float], ...] = (
    ("noise_10db", 10.0),
    ("noise_5db", 5.0),
    ("noise_0db", 0.0),
)
QUIET, QUIET_DB = "quiet", -25.0
FAR_FIELD = "far_field"
LONG_SILENCE = "long_silence"
TTS, FAST, ENTITIES = "tts", "fast", "entities"
BACKGROUND = "background"
ALL = "all"
"""The row that pools every command clip (the global figure a user would see)."""

DEGRADED = (CLEAN, *(name for name, _ in NOISE_SNR_DB), QUIET, FAR_FIELD)
"""Slices made by degrading the recordings; the wake phrases and the VAD file get them too."""
QUICK_DEGRADED = (CLEAN, "noise_0db", FAR_FIELD)

VIEWS = (
    "read",
    "commands",
    "alphanumeric",
    "accent_us",
    "accent_other",
    "female",
    "male",
    "short",
    "mid",
    "long",
)
"""Slices of the clean recordings by what the corpus says of them (no audio of their own):
style (read sentences, command words, alphanumerics), accent (US, or another one where
the metadata names it), gender, and length (under 1.5 s, 1.5-4 s, 4 s and more)."""
SHORT_S, LONG_S = 1.5, 4.0
SLICE_ORDER = (
    CLEAN,
    *VIEWS,
    *DEGRADED[1:],
    LONG_SILENCE,
    TTS,
    FAST,
    ENTITIES,
    BACKGROUND,
    ALL,
)

FAST_LENGTH_SCALE = 0.75
LEAD_S, TRAIL_S = 0.6, 2.0
"""Silence around every command: the trail leaves room to see a late endpoint."""
LONG_LEAD_S, LONG_TRAIL_S = 3.0, 4.0
LONG_SILENCE_FLOOR_SNR_DB = 45.0
"""The long silences are a quiet room (noise 45 dB under the speech), not digital zero."""
WAKE_GAP_S = 0.15


@dataclass(frozen=True)
class Carrier:
    """A sentence carrying a rare name or a product code."""

    spoken: str  # what the voice is given (codes letter by letter, as people say them)
    reference: str  # what a perfect transcript says
    entity: str  # the part that must be heard right


CARRIERS: tuple[Carrier, ...] = (
    Carrier("Set a timer called Zbigniew.", "set a timer called Zbigniew", "Zbigniew"),
    Carrier("Order part X J 4 4 7 1.", "order part XJ-4471", "XJ-4471"),
    Carrier(
        "Call Siobhan on the kitchen speaker.", "call Siobhan on the kitchen speaker", "Siobhan"
    ),
    Carrier("Add Q Z 2 0 9 to my basket.", "add QZ-209 to my basket", "QZ-209"),
    Carrier(
        "Remind me to email Oluwaseun tomorrow.",
        "remind me to email Oluwaseun tomorrow",
        "Oluwaseun",
    ),
    Carrier(
        "Send part K V 8 8 1 3 to the workshop.", "send part KV-8813 to the workshop", "KV-8813"
    ),
    Carrier("Text Aoife that I am running late.", "text Aoife that I am running late", "Aoife"),
    Carrier("Play the playlist called Priyanka.", "play the playlist called Priyanka", "Priyanka"),
    Carrier("Book a table at Nguyen's for two.", "book a table at Nguyen's for two", "Nguyen"),
    Carrier("Is filter B R 5 0 in stock?", "is filter BR-50 in stock", "BR-50"),
)
DEV_CARRIERS: tuple[Carrier, ...] = (
    Carrier("Set a timer called Krzysztof.", "set a timer called Krzysztof", "Krzysztof"),
    Carrier("Order part N M 3 3 1 7.", "order part NM-3317", "NM-3317"),
    Carrier("Call Saoirse in the living room.", "call Saoirse in the living room", "Saoirse"),
    Carrier("Add T B 4 7 2 to my list.", "add TB-472 to my list", "TB-472"),
    Carrier(
        "Remind me to phone Chiamaka tonight.", "remind me to phone Chiamaka tonight", "Chiamaka"
    ),
    Carrier("Ship part R X 9 0 5 2 today.", "ship part RX-9052 today", "RX-9052"),
    Carrier("Message Niamh that dinner is ready.", "message Niamh that dinner is ready", "Niamh"),
    Carrier("Play the album called Anneliese.", "play the album called Anneliese", "Anneliese"),
    Carrier(
        "Find a table at Wojciech's tonight.", "find a table at Wojciech's tonight", "Wojciech"
    ),
    Carrier("Is valve D K 6 0 available?", "is valve DK-60 available", "DK-60"),
)
"""The dev split's carriers: other names and codes, so that tuning never sees the test's."""
QUICK_CARRIERS = (0, 1, 2, 3)

WAKE_COMMANDS: tuple[tuple[str, float], ...] = (
    ("What time is it?", 1.0),
    ("Set a timer for five minutes.", 0.9),
    ("Turn off the lights.", 1.1),
    ("What's the weather like?", 0.85),
    ("Cancel the timer.", 1.2),
    ("Play some music.", 0.95),
)
"""Commands after the wake phrase, and the length scale the wake phrase is spoken at."""

QUICK_EVERY = 8
QUICK_MAX_S = 4.0
"""The quick set takes every eighth recording of the split under 4 s (from the first)."""
QUICK_TTS = 2  # transcripts spoken by the voice (tts, fast) in the quick set
FULL_TTS = 24  # ... and in the full set (the split's first read and command transcripts)
QUICK_WAKE = 2


def view_tags(style: str, gender: str, accent: str, speech_s: float) -> tuple[str, ...]:
    """The view slices a clean recording belongs to."""
    tags = ["commands" if style == "command" else style]
    if accent.startswith("US"):
        tags.append("accent_us")
    elif accent != "unknown":
        tags.append("accent_other")
    if gender in ("female", "male"):
        tags.append(gender)
    tags.append("short" if speech_s < SHORT_S else "long" if speech_s >= LONG_S else "mid")
    return tuple(tags)


@dataclass(frozen=True)
class SetSpec:
    """Which eval set: the speaker split, the full set or the quick subset, its seed, its
    wake word."""

    quick: bool = False
    seed: int = 0
    wake_word: str = "hey_jarvis"
    split: str = "test"

    @property
    def degraded(self) -> tuple[str, ...]:
        return QUICK_DEGRADED if self.quick else DEGRADED

    @property
    def wake_phrase(self) -> str:
        """``hey_jarvis`` -> ``Hey Jarvis.``"""
        return self.wake_word.replace("_", " ").title() + "."

    def carriers(self) -> tuple[Carrier, ...]:
        every = DEV_CARRIERS if self.split == "dev" else CARRIERS
        return tuple(every[i] for i in QUICK_CARRIERS) if self.quick else every

    def wake_commands(self) -> tuple[tuple[str, float], ...]:
        return WAKE_COMMANDS[:QUICK_WAKE] if self.quick else WAKE_COMMANDS


def recipe_doc(spec: SetSpec, corpus_files: list[dict[str, Any]], voice_sha256: str) -> Any:
    """Everything the set's samples depend on (hashed to name the cached set)."""
    return {
        "version": SET_VERSION,
        "quick": spec.quick,
        "seed": spec.seed,
        "split": spec.split,
        "degraded": list(spec.degraded),
        "views": [list(VIEWS), SHORT_S, LONG_S],
        "wake_phrase": spec.wake_phrase,
        "voice": voice_sha256,
        "corpus": corpus_files,
        "carriers": [vars(c) for c in spec.carriers()],
        "wake_commands": [list(c) for c in spec.wake_commands()],
        "noise": [list(n) for n in NOISE_SNR_DB],
        "quiet_db": QUIET_DB,
        "fast": FAST_LENGTH_SCALE,
        "pads": [LEAD_S, TRAIL_S, LONG_LEAD_S, LONG_TRAIL_S, LONG_SILENCE_FLOOR_SNR_DB, WAKE_GAP_S],
        "subsets": [QUICK_EVERY, QUICK_MAX_S, QUICK_TTS, FULL_TTS, QUICK_WAKE],
    }
