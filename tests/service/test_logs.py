"""journald's format: ``<N>`` priorities, no timestamps; the journal is recognised by its inode."""

from __future__ import annotations

import logging
import os

from hearthvox.service.logs import NOTICE, JournalFormatter, syslog_priority, to_journal


def test_priorities_follow_syslog() -> None:
    levels = [logging.CRITICAL, logging.ERROR, logging.WARNING, NOTICE, logging.INFO, logging.DEBUG]
    assert [syslog_priority(level) for level in levels] == [2, 3, 4, 5, 6, 7]


def test_the_journal_format_has_a_priority_and_no_time() -> None:
    record = logging.LogRecord("hearthvox.x", logging.WARNING, "f", 1, "a\nb", None, None)
    assert JournalFormatter("%(name)s: %(message)s").format(record) == "<4>hearthvox.x: a | b"


def test_only_the_stream_journal_stream_names_is_the_journal() -> None:
    (r, w), (r2, w2) = os.pipe(), os.pipe()
    with os.fdopen(w, "w") as stream, os.fdopen(w2, "w") as other:
        st = os.fstat(stream.fileno())
        assert to_journal(stream, {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})
        assert not to_journal(other, {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})
        assert not to_journal(stream, {})
        assert not to_journal(stream, {"JOURNAL_STREAM": "garbage"})
    os.close(r)
    os.close(r2)
