"""The remote language model's event stream, any bytes: its lines stay bounded and an
event is a JSON object or one StreamError, never another exception."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hearthvox.engines.llm_http import MAX_LINE_BYTES, StreamError, _event, _lines


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=2048), max_size=20), st.integers(1, 50))
def test_lines_are_bounded_or_refused(pieces: list[bytes], max_lines: int) -> None:
    try:
        lines = list(_lines(iter(pieces), max_lines))
    except StreamError:
        return
    assert len(lines) <= max_lines + 2
    assert all(len(line) <= MAX_LINE_BYTES for line in lines)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=512), st.text(max_size=512).map(str.encode)))
def test_an_event_is_an_object_or_one_error(raw: bytes) -> None:
    try:
        value = _event(raw)
    except StreamError:
        return
    assert isinstance(value, dict)
