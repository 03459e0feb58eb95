"""Checked reading of request events (``wyoming`` event classes, then type checks).

The wyoming classes read fields without checking their types; a client that
sends ``{"text": 5}`` must get an error, not a crash deep inside an engine.
A wrong type is a malformed event (the connection closes); a well-formed
request for something this server does not serve (another language, voice or
wake word) gets an ``unsupported`` error and the connection stays open.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wyoming.asr import Transcribe
from wyoming.event import Event
from wyoming.tts import SynthesizeVoice
from wyoming.wake import Detect

from hearthvox.errors import ConfigError
from hearthvox.protocol.framing import ProtocolError
from hearthvox.protocol.info import PROGRAM, ServedModels, voice_language
from hearthvox.vocabulary import Vocabulary, parse_terms


def bad(text: str) -> ProtocolError:
    return ProtocolError("bad-event", text)


def unsupported(text: str) -> ProtocolError:
    return ProtocolError("unsupported", text, close=False)


def text_field(data: dict[str, Any], key: str = "text") -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise bad(f"{key!r} must be a string, got {type(value).__name__}")
    return value


def optional_str(value: object, key: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise bad(f"{key!r} must be a string, got {type(value).__name__}")
    return value


def _primary(language: str) -> str:
    return language.replace("_", "-").split("-", 1)[0].lower()


@dataclass(frozen=True)
class AsrRequest:
    language: str
    vocabulary: Vocabulary | None = None
    """``context.vocabulary`` of the transcribe event: terms for this request only."""


@dataclass(frozen=True)
class WakeRequest:
    names: list[str]


def transcribe_request(event: Event, served: ServedModels) -> AsrRequest:
    try:
        req = Transcribe.from_event(event)
    except (KeyError, TypeError, ValueError) as exc:
        raise bad(f"bad transcribe event: {exc}") from None
    name = optional_str(req.name, "name")
    language = optional_str(req.language, "language")
    model = served.asr.id.rsplit("/", 1)[-1]
    if name not in (None, model, PROGRAM):
        raise unsupported(f"speech model {name!r} is not served here; this server has {model!r}")
    if language is not None and _primary(language) != _primary(served.asr_language):
        raise unsupported(
            f"language {language!r} is not served; the speech model speaks {served.asr_language!r}"
        )
    return AsrRequest(served.asr_language, request_vocabulary(req.context))


def request_vocabulary(context: object) -> Vocabulary | None:
    """A transcribe event's ``context.vocabulary``: a list of at most MAX_TERMS strings,
    ``TERM`` or ``TERM = SPOKEN`` (docs/wyoming.md); None when there is none."""
    if context is None:
        return None
    if not isinstance(context, dict):
        raise bad("'context' must be an object")
    raw = context.get("vocabulary")
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise bad("'context.vocabulary' must be a list of strings")
    try:
        return parse_terms(raw, "context.vocabulary") or None
    except ConfigError as exc:
        raise bad(str(exc)) from None


def detect_request(event: Event, served_names: list[str]) -> WakeRequest:
    names = Detect.from_event(event).names
    if names is None or names == []:
        return WakeRequest(list(served_names))
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise bad("'names' must be a list of strings")
    missing = [n for n in names if n not in served_names]
    if missing:
        raise unsupported(
            f"wake word {missing[0]!r} is not served; this server has: {', '.join(served_names)}"
        )
    return WakeRequest(list(dict.fromkeys(names)))


def check_voice(data: dict[str, Any], served: ServedModels) -> None:
    """A synthesize / synthesize-start event's ``voice``: ours, or none given."""
    raw = data.get("voice")
    if raw is None:
        return
    if not isinstance(raw, dict):
        raise bad("'voice' must be an object")
    voice = SynthesizeVoice.from_dict(raw)
    if voice is None:
        return
    name = optional_str(voice.name, "voice name")
    language = optional_str(voice.language, "voice language")
    optional_str(voice.speaker, "voice speaker")
    if name is not None and name != served.tts_voice:
        raise unsupported(f"voice {name!r} is not served; this server has {served.tts_voice!r}")
    ours = voice_language(served.tts_config, served.tts_voice)
    if language is not None and _primary(language) != _primary(ours):
        raise unsupported(f"no voice for language {language!r}; this server speaks {ours!r}")


def select_program(data: dict[str, Any]) -> None:
    name = text_field(data, "name")
    if name != PROGRAM:
        raise unsupported(f"program {name!r} is not served; every service here is {PROGRAM!r}")
