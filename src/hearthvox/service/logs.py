"""Logs a service manager can read: journald's ``<N>`` priority prefixes, no timestamps.

systemd sets ``JOURNAL_STREAM=DEV:INODE`` when stdout or stderr is connected to the
journal; :func:`to_journal` checks that it is really this stream (a child of the
service that redirected it is not). There, every log line gets the syslog
priority as a ``<N>`` prefix (the journal adds the time), and the daemon's state
changes are one line each. Nothing here ever carries what was said.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import IO

from hearthvox.service.notify import Notifier

NOTICE = 25
"""Between INFO and WARNING: state changes (syslog's notice, ``<5>``)."""
logging.addLevelName(NOTICE, "NOTICE")

_PRIORITY = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (NOTICE, 5))


def syslog_priority(levelno: int) -> int:
    for level, priority in _PRIORITY:
        if levelno >= level:
            return priority
    return 6 if levelno >= logging.INFO else 7


def to_journal(stream: IO[str] | None = None, environ: dict[str, str] | None = None) -> bool:
    """Whether ``stream`` (default: stderr) is the journal stream systemd set up."""
    value = (environ if environ is not None else os.environ).get("JOURNAL_STREAM", "")
    stream = stream if stream is not None else sys.stderr
    try:
        dev, ino = (int(part) for part in value.split(":"))
        st = os.fstat(stream.fileno())
    except (ValueError, OSError, AttributeError):
        return False
    return (st.st_dev, st.st_ino) == (dev, ino)


class JournalFormatter(logging.Formatter):
    """``<4>hearthvox.pipeline.stages: transcription failed: ...``"""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record).replace("\n", " | ")
        return f"<{syslog_priority(record.levelno)}>{text}"


def use_journal_format() -> None:
    """Give the root logger's handlers the journal format."""
    for handler in logging.getLogger().handlers:
        handler.setFormatter(JournalFormatter("%(name)s: %(message)s"))


class StateLog:
    """One line per state change of the daemon on stderr, mirrored to ``STATUS=``."""

    def __init__(self, notifier: Notifier, journal: bool, *, quiet: bool = False) -> None:
        self.notifier = notifier
        self.journal = journal
        self.quiet = quiet
        """Only the status, no lines (``hearthvox demo`` prints its own story)."""
        self.status = ""

    def line(self, message: str, level: int = NOTICE) -> None:
        """A line on stderr only (not a state: the service manager's status stays)."""
        if self.quiet:
            return
        prefix = f"<{syslog_priority(level)}>" if self.journal else ""
        print(f"{prefix}hearthvox: {message}", file=sys.stderr, flush=True)

    def __call__(self, status: str, level: int = NOTICE, detail: str = "") -> None:
        """Enter a state: log it (with ``detail``) and set it as the service status."""
        self.status = status
        self.line(f"{status}{': ' + detail if detail else ''}", level)
        self.notifier.status(status)
