"""Privacy by construction: the allow-list of what telemetry may record.

Every field a record may carry is listed here with its category:

- ``technical``: how the software behaved (timings, memory, bundle, errors);
- ``interaction``: how the assistant was used, with nothing said in it (outcome,
  skill name, whether the wake word started the turn, audio duration);
- ``content``: what was said or answered (transcript, reply text, audio).

:func:`screen` refuses any field not on the list, any value of the wrong shape
(a free-text string where a label belongs, an array where a number belongs) and
every content field unless keeping transcripts is switched on; audio is refused
always. Error messages name the field, never its value.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from hearthvox.errors import HearthvoxError

Category = Literal["technical", "interaction", "content"]
Kind = Literal["number", "integer", "flag", "label", "stages", "text", "audio"]

STAGES = (
    "wake",
    "endpoint",
    "asr",
    "asr_prompted",
    "asr_second",
    "skill",
    "tts_first_audio",
    "tts_total",
    "playback",
    "end_of_speech_to_first_audio",
    "llm_first_token",
)
"""Stage names a record may time (the keys of ``TurnDone.stages_ms``)."""

_LABEL = re.compile(r"[A-Za-z0-9_.:+@\-]{0,64}")


class PrivacyError(HearthvoxError):
    """A record carried a field or value the telemetry allow-list refuses."""


@dataclass(frozen=True)
class FieldSpec:
    category: Category
    kind: Kind
    doc: str


def _t(kind: Kind, doc: str) -> FieldSpec:
    return FieldSpec("technical", kind, doc)


def _i(kind: Kind, doc: str) -> FieldSpec:
    return FieldSpec("interaction", kind, doc)


LLM_TURN_FIELDS: dict[str, FieldSpec] = {
    "llm_prompt_tokens": _t("integer", "language model: tokens of the whole prompt"),
    "llm_evaluated_tokens": _t("integer", "... of those computed for this turn (not cached)"),
    "llm_new_tokens": _t("integer", "... tokens of its reply"),
    "llm_tokens_per_s": _t("number", "... its reply's tokens a second"),
    "llm_stop": _t("label", "... why its reply stopped: end, max_tokens, wall_time, cancelled"),
    "llm_dropped_turns": _t("integer", "... oldest turns dropped from the history for it"),
    "llm_question_cut": _t("flag", "... the question was cut to fit the context"),
    "llm_tokens_after_cancel": _t("integer", "... tokens written after a barge-in cancelled it"),
    "llm_backend": _t("label", "... who answered: local, openai (the [llm] url server) or none"),
}
"""A turn the language model answered: counts and times, never text (schema 2; schema 3
added ``llm_backend``)."""

HUB_TURN_FIELDS: dict[str, FieldSpec] = {
    "area": _i("label", "hub: the satellite's area, e.g. kitchen (spaces as _)"),
    "arbitration": _t(
        "label", "hub: won or stood_down, the wake arbitration among the satellites that heard it"
    ),
    "arbitration_claims": _t("integer", "hub: how many satellites claimed that wake word"),
}
"""A turn of ``hearthvox hub``: which satellite's room, and how its wake word was
arbitrated (schema 4)."""

OUTCOMES = ("answered", "no_speech", "error", "interrupted", "stood_down", "shed")
"""The outcomes a turn ends with (``stood_down`` and ``shed``: the hub's)."""

ADDED_IN: dict[int, tuple[str, ...]] = {
    2: tuple(name for name in LLM_TURN_FIELDS if name != "llm_backend"),
    3: ("llm_backend",),
    4: tuple(HUB_TURN_FIELDS),
}
"""The ``turns`` columns each schema version added (how an older database is brought up)."""

TURN_FIELDS: dict[str, FieldSpec] = {
    "ts": _t("number", "when the turn ended (Unix seconds)"),
    "turn_id": _t("integer", "turn number within one run"),
    "bundle": _t("label", "model bundle id"),
    "profile": _t("label", "hardware profile"),
    "error": _t("label", "stage:kind of the first error, e.g. asr:engine_error"),
    "rss_mb": _t("number", "process resident memory at the end of the turn"),
    "cpu_ms": _t("number", "process CPU time (user + system) spent during the turn"),
    "stages": _t("stages", "per stage: its own time and the time waited before it (ms)"),
    "outcome": _i(
        "label",
        "answered, no_speech, error, interrupted; hub: stood_down (another satellite won "
        "the arbitration), shed (too busy: a short busy reply)",
    ),
    "skill": _i("label", "name of the skill that answered"),
    "woke": _i("flag", "the wake word started the turn (not a follow-up)"),
    "audio_s": _i("number", "duration of the utterance audio"),
    **LLM_TURN_FIELDS,
    **HUB_TURN_FIELDS,
}

START_FIELDS: dict[str, FieldSpec] = {
    "ts": _t("number", "when the assistant became ready (Unix seconds)"),
    "command": _t("label", "run, demo, serve, hub ..."),
    "bundle": _t("label", "model bundle id"),
    "profile": _t("label", "hardware profile"),
    "cold_start_ms": _t("number", "process start to ready"),
    "models_ms": _t("number", "loading the models"),
    "rss_mb": _t("number", "resident memory when ready"),
}

CONTENT_FIELDS: dict[str, FieldSpec] = {
    "transcript": FieldSpec("content", "text", "what the user said, as recognised"),
    "reply_text": FieldSpec("content", "text", "what the assistant answered"),
    "audio": FieldSpec("content", "audio", "recorded speech: never stored"),
}

_CONTENT_LOGGERS = ("piper.voice",)
"""Third-party loggers that print the text being spoken at DEBUG."""


@dataclass(frozen=True)
class Screened:
    fields: dict[str, Any]
    """Technical and interaction fields, checked."""
    content: dict[str, str]
    """Content fields (only when keeping transcripts is on)."""


def label_or(value: str, fallback: str = "other") -> str:
    """``value`` if it is a short label (a skill or error name), else ``fallback``."""
    return value if _LABEL.fullmatch(value) else fallback


def area_label(area: str) -> str:
    """A satellite's area as a label: spaces become ``_`` (``living room`` ->
    ``living_room``); anything else a label cannot hold gives ``other``."""
    return label_or(area.strip().replace(" ", "_"))


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PrivacyError(f"telemetry field {name!r} must be a finite number")
    return float(value)


def _check(name: str, spec: FieldSpec, value: Any) -> Any:
    if value is None:
        return None
    match spec.kind:
        case "number":
            return _number(name, value)
        case "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                raise PrivacyError(f"telemetry field {name!r} must be an integer")
            return value
        case "flag":
            if not isinstance(value, bool):
                raise PrivacyError(f"telemetry field {name!r} must be true or false")
            return value
        case "label":
            if not isinstance(value, str) or not _LABEL.fullmatch(value):
                raise PrivacyError(f"telemetry field {name!r} must be a short label, not text")
            return value
        case "stages":
            return _stages(name, value)
    raise PrivacyError(f"telemetry field {name!r} has no storable kind")


def _stages(name: str, value: Any) -> dict[str, tuple[float | None, float | None]]:
    if not isinstance(value, Mapping):
        raise PrivacyError(f"telemetry field {name!r} must map stage names to times")
    out: dict[str, tuple[float | None, float | None]] = {}
    for stage, times in value.items():
        if stage not in STAGES:
            raise PrivacyError(f"telemetry stage {stage!r} is not on the allow-list")
        if not isinstance(times, tuple) or len(times) != 2:
            raise PrivacyError(f"telemetry stage {stage!r} must be (compute_ms, queue_ms)")
        compute, queue = times
        out[stage] = (
            None if compute is None else _number(f"{stage}.compute_ms", compute),
            None if queue is None else _number(f"{stage}.queue_ms", queue),
        )
    return out


def screen(
    record: Mapping[str, Any], allowed: Mapping[str, FieldSpec], keep_text: bool
) -> Screened:
    """Split ``record`` into storable fields and content; refuse anything else."""
    fields: dict[str, Any] = {}
    content: dict[str, str] = {}
    for name, value in record.items():
        spec = allowed.get(name)
        if spec is not None:
            fields[name] = _check(name, spec, value)
            continue
        cspec = CONTENT_FIELDS.get(name)
        if cspec is None:
            raise PrivacyError(f"telemetry field {name!r} is not on the allow-list")
        if value is None:
            continue
        if cspec.kind == "audio":
            raise PrivacyError("telemetry never stores audio")
        if not keep_text:
            raise PrivacyError(
                f"telemetry refuses {name!r} (content) unless telemetry.keep_transcripts is on"
            )
        if not isinstance(value, str):
            raise PrivacyError(f"telemetry field {name!r} must be text")
        content[name] = value
    return Screened(fields, content)


def quiet_content_loggers() -> None:
    """Cap loggers that would print what is spoken at INFO, even under ``-vv``."""
    for name in _CONTENT_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(max(logger.getEffectiveLevel(), logging.INFO))
