"""The allow-list: unknown fields, free text, audio and unasked-for content are refused."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from hearthvox.telemetry.privacy import (
    CONTENT_FIELDS,
    START_FIELDS,
    TURN_FIELDS,
    PrivacyError,
    label_or,
    quiet_content_loggers,
    screen,
)
from hearthvox.telemetry.store import TelemetryStore
from tests.telemetry.helpers import turn


def test_every_field_has_a_category() -> None:
    for fields in (TURN_FIELDS, START_FIELDS):
        assert {s.category for s in fields.values()} <= {"technical", "interaction"}
    assert {s.category for s in CONTENT_FIELDS.values()} == {"content"}
    assert set(CONTENT_FIELDS) == {"transcript", "reply_text", "audio"}


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"utterance": "hello"}, "not on the allow-list"),
        ({"skill": "remind me about zanzibar"}, "short label"),
        ({"error": "skill failed: zanzibar quartz"}, "short label"),
        ({"audio_s": np.zeros(16000, dtype=np.int16)}, "finite number"),
        ({"rss_mb": float("nan")}, "finite number"),
        ({"woke": 1}, "true or false"),
        ({"stages": {"asr": (1.0, 2.0), "zanzibar": (1.0, None)}}, "allow-list"),
        ({"stages": {"asr": 12.0}}, "compute_ms, queue_ms"),
        ({"transcript": "zanzibar quartz"}, "keep_transcripts"),
        ({"reply_text": "Sorry."}, "keep_transcripts"),
    ],
)
def test_refused(record: dict[str, object], message: str) -> None:
    with pytest.raises(PrivacyError, match=message) as info:
        screen(record, TURN_FIELDS, keep_text=False)
    assert "zanzibar quartz" not in str(info.value)  # errors name fields, never values


def test_audio_is_refused_even_when_keeping_transcripts() -> None:
    with pytest.raises(PrivacyError, match="never stores audio"):
        screen({"audio": b"\x01\x02"}, TURN_FIELDS, keep_text=True)


def test_text_is_split_off_when_kept() -> None:
    out = screen(turn(transcript="zanzibar quartz"), TURN_FIELDS, keep_text=True)
    assert out.content == {"transcript": "zanzibar quartz"}
    assert "transcript" not in out.fields and out.fields["skill"] == "time"


def test_the_store_refuses_content_and_writes_nothing(tmp_path: Path) -> None:
    store = TelemetryStore(tmp_path / "t.sqlite3")
    with pytest.raises(PrivacyError):
        store.add_turn(turn(transcript="zanzibar quartz"))
    assert store.turns() == []


def test_labels() -> None:
    assert label_or("timer") == "timer"
    assert label_or("default-0.1.0@1") == "default-0.1.0@1"
    assert label_or("what time is it") == "other"


def test_content_loggers_are_capped_at_info() -> None:
    piper = logging.getLogger("piper.voice")
    before = piper.level
    root = logging.getLogger()
    root_level = root.level
    try:
        root.setLevel(logging.DEBUG)
        piper.setLevel(logging.NOTSET)
        quiet_content_loggers()
        assert not piper.isEnabledFor(logging.DEBUG)
        assert piper.isEnabledFor(logging.INFO)
    finally:
        piper.setLevel(before)
        root.setLevel(root_level)
