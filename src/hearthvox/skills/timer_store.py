"""Timers that survive a daemon restart: a JSON file in the state directory.

The file (``<state_dir>/timers.json``, mode 0600) is rewritten atomically on every
change: a temporary file in the same directory, fsync, rename, fsync of the
directory. It is read once, when the store is built; a timer that fell due while
the daemon was down is returned by the next :meth:`TimerStore.due`. A file that
cannot be parsed is logged, renamed to ``timers.json.corrupt-<epoch>`` and the
store starts empty; it is never fatal.

Failures to save: :meth:`add` and :meth:`cancel` undo their change and raise
:class:`SkillError` (the user hears that the request failed rather than getting
a timer that would vanish on restart). :meth:`due` logs the error and still
returns the timers: ringing matters more than the file; after a restart such a
timer would ring again.

The store is safe to share between threads (the pipeline polls :meth:`due` while
the timer skill runs in a worker thread). Labels are the only words of the user
that reach the disk; transcripts never do, and nothing here logs a label. A timer
set through the hub also records its area (the configured room name, never the
user's words); a timer without one is written as before, with no ``area`` key.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hearthvox.errors import SkillError
from hearthvox.filemodes import private_dir
from hearthvox.skills.clock import Clock
from hearthvox.skills.numbers import duration_adjective

log = logging.getLogger(__name__)

TIMERS_FILE = "timers.json"
_FORMAT_VERSION = 1
_SAME_DURATION_S = 0.5
MAX_AREA_CHARS = 260
"""A configured area (32) or, with ``--satellite``, a satellite's HOST:PORT (253 + 6)."""


@dataclass(frozen=True)
class Timer:
    id: int
    label: str | None
    duration_s: float
    due_at: float
    """Epoch seconds when it rings."""
    created_at: float
    area: str | None = None
    """The room (the hub's satellite area) where it was set; None: no room."""

    @property
    def name(self) -> str:
        """How to speak of it: "pasta" or "5 minute"."""
        return self.label or duration_adjective(self.duration_s)


def _timer_from_json(raw: Any) -> Timer:
    if not isinstance(raw, dict):
        raise ValueError("a timer is not an object")
    label = raw.get("label")
    ident = raw.get("id")
    if label is not None and not isinstance(label, str):
        raise ValueError("label is not a string")
    if not isinstance(ident, int) or isinstance(ident, bool):
        raise ValueError("id is not an integer")
    area = raw.get("area")
    if area is not None and (not isinstance(area, str) or not 0 < len(area) <= MAX_AREA_CHARS):
        raise ValueError("area is not a short string")
    numbers = {}
    for key in ("duration_s", "due_at", "created_at"):
        value = raw.get(key)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ValueError(f"{key} is not a number")
        if not math.isfinite(value):
            raise ValueError(f"{key} is not finite")
        numbers[key] = float(value)
    return Timer(
        ident, label, numbers["duration_s"], numbers["due_at"], numbers["created_at"], area
    )


class TimerStore:
    """Running timers, persisted to ``path``; time comes from ``clock``."""

    def __init__(self, path: Path, clock: Clock) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._timers: list[Timer] = []
        self._next_id = 1
        self._load()

    # -- public API -----------------------------------------------------------

    def add(self, duration_s: float, label: str | None = None, area: str | None = None) -> Timer:
        """Start a timer of ``duration_s`` seconds (must be > 0), optionally labelled,
        optionally in ``area`` (a room's name, at most 260 characters)."""
        if not (duration_s > 0 and math.isfinite(duration_s)):
            raise ValueError(f"timer duration must be a positive number, got {duration_s}")
        if area is not None and len(area) > MAX_AREA_CHARS:
            raise ValueError(f"a timer's area must be at most {MAX_AREA_CHARS} characters")
        with self._lock:
            now = self._clock.now()
            timer = Timer(
                self._next_id, label or None, float(duration_s), now + duration_s, now, area or None
            )
            before = (list(self._timers), self._next_id)
            self._timers.append(timer)
            self._next_id += 1
            self._save_or_undo(before)
            return timer

    def cancel(
        self,
        label: str | None = None,
        *,
        duration_s: float | None = None,
        area: str | None = None,
    ) -> list[Timer]:
        """Cancel and return the matching timers (soonest first).

        ``label`` matches timers with that label; ``duration_s`` those set for that
        long (within half a second); ``area`` those set in that room (None: any
        room). With none of them, every timer is cancelled: "cancel
        the timer" means the one running or, when several are, all of them (the
        reply says how many). No match cancels nothing and returns ``[]``.
        """
        with self._lock:
            gone = [t for t in self._timers if _matches(t, label, duration_s, area)]
            if not gone:
                return []
            before = (list(self._timers), self._next_id)
            self._timers = [t for t in self._timers if t not in gone]
            self._save_or_undo(before)
            return sorted(gone, key=lambda t: t.due_at)

    def timers(self) -> list[Timer]:
        """Every timer not yet returned by :meth:`due`, soonest first."""
        with self._lock:
            return sorted(self._timers, key=lambda t: t.due_at)

    def remaining(self) -> list[tuple[Timer, float]]:
        """Each timer with the seconds it has left (never negative), soonest first."""
        now = self._clock.now()
        return [(t, max(0.0, t.due_at - now)) for t in self.timers()]

    def next_due_at(self) -> float | None:
        """Epoch seconds when the next timer rings (for the pipeline's wait), or None."""
        timers = self.timers()
        return timers[0].due_at if timers else None

    def due(self) -> list[Timer]:
        """Pop and return the timers whose time has come, soonest first.

        A timer is returned once: the removal is saved before returning (if saving
        fails it is logged and the timers are still returned).
        """
        with self._lock:
            now = self._clock.now()
            fired = sorted((t for t in self._timers if t.due_at <= now), key=lambda t: t.due_at)
            if not fired:
                return []
            self._timers = [t for t in self._timers if t not in fired]
            try:
                self._save()
            except OSError as exc:
                log.error("could not save timers to %s: %s", self.path, exc)
            return fired

    @staticmethod
    def announcement(timer: Timer) -> str:
        """ "Your 5 minute timer is done." / "Your pasta timer is done." """
        return f"Your {timer.name} timer is done."

    # -- persistence ----------------------------------------------------------

    def _load(self) -> None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            log.error("cannot read timers from %s, starting with none: %s", self.path, exc)
            return
        try:
            raw = json.loads(data.decode("utf-8"))
            if not isinstance(raw, dict) or not isinstance(raw.get("timers"), list):
                raise ValueError("not an object with a 'timers' list")
            timers = [_timer_from_json(item) for item in raw["timers"]]
            next_id = raw.get("next_id", 1)
            if not isinstance(next_id, int) or isinstance(next_id, bool):
                raise ValueError("next_id is not an integer")
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            log.error("timers file %s is corrupt (%s); starting with none", self.path, exc)
            self._move_aside()
            return
        self._timers = timers
        self._next_id = max([next_id, *(t.id + 1 for t in timers)])

    def _move_aside(self) -> None:
        target = self.path.with_name(f"{self.path.name}.corrupt-{int(self._clock.now())}")
        try:
            os.replace(self.path, target)
        except OSError as exc:
            log.error("could not move %s aside: %s", self.path, exc)
        else:
            log.warning("moved the corrupt timers file to %s", target)

    def _save_or_undo(self, before: tuple[list[Timer], int]) -> None:
        try:
            self._save()
        except OSError as exc:
            self._timers, self._next_id = before
            raise SkillError(f"could not save timers to {self.path}: {exc}") from exc

    def _save(self) -> None:
        payload = {
            "version": _FORMAT_VERSION,
            "next_id": self._next_id,
            "timers": [_timer_to_json(t) for t in self._timers],
        }
        directory = self.path.parent
        private_dir(directory)  # mkstemp below creates the file 0600
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(payload, fh, indent=1)
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(directory)


def _timer_to_json(timer: Timer) -> dict[str, Any]:
    raw = asdict(timer)
    if raw["area"] is None:  # a timer of no room is written as it always was
        del raw["area"]
    return raw


def _matches(
    timer: Timer, label: str | None, duration_s: float | None, area: str | None = None
) -> bool:
    if label is not None and timer.label != label:
        return False
    if area is not None and timer.area != area:
        return False
    return duration_s is None or abs(timer.duration_s - duration_s) < _SAME_DURATION_S


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable (POSIX); a platform without directory fds skips it."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on a directory; the rename still happened
    finally:
        os.close(fd)
