"""The allow-list: unknown fields, free text, audio and unasked-for content are refused."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from hearthvox.telemetry.privacy import (
    CONTENT_FIELDS,
    HUB_TURN_FIELDS,
    OUTCOMES,
    START_FIELDS,
    TURN_FIELDS,
    PrivacyError,
    area_label,
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
        ({"room": "kitchen"}, "not on the allow-list"),
        ({"satellite_uri": "tcp://kitchen.local:10700"}, "not on the allow-list"),
        ({"area": "zanzibar quartz kitchen"}, "short label"),
        ({"area": "k" * 65}, "short label"),
        ({"arbitration": "won against zanzibar quartz"}, "short label"),
        ({"arbitration": 1}, "short label"),
        ({"arbitration_claims": 2.5}, "integer"),
        ({"arbitration_claims": True}, "integer"),
        ({"outcome": "stood down: zanzibar quartz was louder"}, "short label"),
    ],
)
def test_refused(record: dict[str, object], message: str) -> None:
    with pytest.raises(PrivacyError, match=message) as info:
        screen(record, TURN_FIELDS, keep_text=False)
    assert "zanzibar quartz" not in str(info.value)  # errors name fields, never values


def test_the_hub_fields_and_outcomes_are_accepted() -> None:
    for outcome in ("stood_down", "shed"):
        record = turn(outcome=outcome, area="living_room", arbitration="stood_down")
        out = screen(record | {"arbitration_claims": 3}, TURN_FIELDS, keep_text=False)
        assert out.fields["outcome"] == outcome and out.fields["area"] == "living_room"
        assert out.fields["arbitration_claims"] == 3 and out.content == {}
    assert {s.kind for s in HUB_TURN_FIELDS.values()} == {"label", "integer"}
    assert all(s.doc for s in HUB_TURN_FIELDS.values())


def test_every_outcome_a_turn_can_end_with_is_listed() -> None:
    import typing

    from hearthvox.events import TurnDone

    hinted = typing.get_type_hints(TurnDone)["outcome"]
    assert set(typing.get_args(hinted)) <= set(OUTCOMES)
    assert {"stood_down", "shed"} <= set(OUTCOMES)
    for outcome in OUTCOMES:
        assert outcome in TURN_FIELDS["outcome"].doc


def test_areas_become_labels() -> None:
    assert area_label("kitchen") == "kitchen"
    assert area_label("living room") == "living_room"
    assert area_label("127.0.0.1:10700") == "127.0.0.1:10700"
    assert area_label("::1:10700") == "::1:10700"
    assert area_label("den/attic") == "other"  # not a name the config lets through
    assert area_label("k" * 65) == "other"


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
