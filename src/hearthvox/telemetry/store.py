"""The local telemetry store: one SQLite file in the state directory.

Tables (schema version :data:`SCHEMA_VERSION`, kept in ``PRAGMA user_version``
and in ``meta``): ``turns`` (one row per turn), ``stage_times`` (per turn and
stage: its own time and the time waited before it), ``starts`` (one row per
process start: cold start), ``content`` (transcript and reply text, only while
the user keeps transcripts; expires, and ``purge`` empties it) and ``meta``.

Every record goes through the allow-list (:mod:`hearthvox.telemetry.privacy`).
Retention by age and by row count runs after every write, against an injectable
clock. A database that is corrupt, of an unknown schema or locked past the busy
timeout is moved aside (``telemetry.sqlite3.broken-<time>``) with a warning and a
fresh one is started. Deleted rows are overwritten (``secure_delete``).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from hearthvox.errors import HearthvoxError
from hearthvox.filemodes import private_dir, private_file
from hearthvox.telemetry.privacy import (
    ADDED_IN,
    START_FIELDS,
    TURN_FIELDS,
    FieldSpec,
    screen,
)

log = logging.getLogger(__name__)

SCHEMA_VERSION = 4
"""2 added the language model's turn fields (:data:`LLM_TURN_FIELDS`) to ``turns``, 3 its
``llm_backend``, 4 the hub's ``area``, ``arbitration`` and ``arbitration_claims``
(:data:`ADDED_IN`)."""
DB_NAME = "telemetry.sqlite3"

_SQL_TYPES = {"number": "REAL", "integer": "INTEGER", "flag": "INTEGER", "label": "TEXT"}


def _columns(fields: Mapping[str, FieldSpec]) -> str:
    return ", ".join(f"{n} {_SQL_TYPES[s.kind]}" for n, s in fields.items() if s.kind in _SQL_TYPES)


_SCHEMA = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE turns (id INTEGER PRIMARY KEY, {_columns(TURN_FIELDS)});
CREATE INDEX turns_ts ON turns (ts);
CREATE TABLE stage_times (
    turn INTEGER NOT NULL REFERENCES turns (id) ON DELETE CASCADE,
    stage TEXT NOT NULL,
    compute_ms REAL,
    queue_ms REAL,
    PRIMARY KEY (turn, stage)
);
CREATE TABLE starts (id INTEGER PRIMARY KEY, {_columns(START_FIELDS)});
CREATE INDEX starts_ts ON starts (ts);
CREATE TABLE content (
    id INTEGER PRIMARY KEY,
    turn INTEGER REFERENCES turns (id) ON DELETE CASCADE,
    ts REAL NOT NULL,
    expires REAL NOT NULL,
    field TEXT NOT NULL,
    text TEXT NOT NULL
)
"""
_BROKEN = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_NOTADB", "SQLITE_CORRUPT")
_SIDE_FILES = ("", "-wal", "-shm", "-journal")

T = TypeVar("T")


class TelemetryError(HearthvoxError):
    """The telemetry database cannot be used (and could not be replaced)."""


class _Unusable(Exception):
    """The file is a database of a schema this version does not know."""


@dataclass(frozen=True)
class Retention:
    days: float = 30.0
    max_rows: int = 100_000


def default_path(state_dir: Path) -> Path:
    return state_dir / DB_NAME


def _broken(exc: sqlite3.DatabaseError, busy_is_broken: bool) -> bool:
    name = str(getattr(exc, "sqlite_errorname", ""))
    if not busy_is_broken and name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return False
    return name.startswith(_BROKEN)


class TelemetryStore:
    """One connection, used from one thread (the writer thread, or a CLI verb)."""

    def __init__(
        self,
        path: Path,
        *,
        retention: Retention | None = None,
        keep_text_until: float | None = None,
        clock: Callable[[], float] = time.time,
        busy_timeout_s: float = 5.0,
        busy_is_broken: bool = True,
    ) -> None:
        self.path = path
        self.retention = retention or Retention()
        self.keep_text_until = keep_text_until
        self.clock = clock
        self.busy_timeout_s = busy_timeout_s
        self.busy_is_broken = busy_is_broken
        """A daemon moves a database locked past the timeout aside; a CLI verb does not."""
        self.set_aside: list[Path] = []
        try:
            private_dir(path.parent)  # with keep_transcripts it holds what was said
        except OSError as exc:
            raise TelemetryError(f"cannot create {path.parent}: {exc}") from exc
        self._conn: sqlite3.Connection | None = None
        self._conn = self._guarded(lambda conn: conn)

    # -- opening, recovery -------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:  # 0600 before SQLite opens it (its -wal and -shm files take the same mode)
            private_file(self.path)
        except OSError as exc:
            raise TelemetryError(f"telemetry database {self.path}: {exc}") from exc
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None)
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA secure_delete = ON")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                with _transaction(conn):
                    if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                        raise _Unusable("it has tables but no schema version")
                    for statement in _SCHEMA.split(";"):
                        conn.execute(statement)
                    conn.execute(
                        "INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                    )
                    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            elif 1 <= version < SCHEMA_VERSION:  # the same tables; ``turns`` gains columns
                with _transaction(conn):
                    for added in range(version + 1, SCHEMA_VERSION + 1):
                        for name in ADDED_IN[added]:
                            kind = _SQL_TYPES[TURN_FIELDS[name].kind]
                            conn.execute(f"ALTER TABLE turns ADD COLUMN {name} {kind}")
                    conn.execute(
                        "UPDATE meta SET value = ? WHERE key = 'schema_version'",
                        (str(SCHEMA_VERSION),),
                    )
                    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            elif version != SCHEMA_VERSION:
                raise _Unusable(
                    f"it has schema version {version}, this hearthvox knows 1 to {SCHEMA_VERSION}"
                )
        except BaseException:
            conn.close()
            raise
        return conn

    def _guarded(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``op``; on a broken database move it aside and run ``op`` on a fresh one."""
        for attempt in (1, 2):
            try:
                if self._conn is None:
                    self._conn = self._connect()
                return op(self._conn)
            except _Unusable as exc:
                why = str(exc)
            except sqlite3.DatabaseError as exc:
                if attempt == 2 or not _broken(exc, self.busy_is_broken):
                    raise TelemetryError(f"telemetry database {self.path}: {exc}") from exc
                why = str(exc)
            if attempt == 2:
                raise TelemetryError(f"telemetry database {self.path}: {why}")
            self._move_aside(why)
        raise AssertionError("unreachable")

    def _move_aside(self, why: str) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
            self._conn = None
        stamp = time.strftime("%Y%m%dT%H%M%S", time.localtime(self.clock()))
        target = self.path.with_name(f"{self.path.name}.broken-{stamp}")
        n = 1
        while target.exists():
            n += 1
            target = self.path.with_name(f"{self.path.name}.broken-{stamp}-{n}")
        for suffix in _SIDE_FILES:
            src = Path(f"{self.path}{suffix}")
            if src.exists():
                src.rename(Path(f"{target}{suffix}"))
        self.set_aside.append(target)
        log.warning(
            "telemetry database %s is unusable (%s); moved it to %s and started a fresh one",
            self.path,
            why,
            target.name,
        )

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- writing -------------------------------------------------------------

    def keeping_text(self) -> bool:
        return self.keep_text_until is not None and self.clock() < self.keep_text_until

    def add_turn(self, record: Mapping[str, Any]) -> int:
        """Store one turn (allow-listed fields only); returns its row id."""
        checked = screen(record, TURN_FIELDS, keep_text=self.keeping_text())
        row = {k: v for k, v in checked.fields.items() if k != "stages"}
        row["ts"] = row.get("ts") or self.clock()
        stages: dict[str, tuple[float | None, float | None]] = checked.fields.get("stages") or {}

        def op(conn: sqlite3.Connection) -> int:
            with _transaction(conn):
                turn = _insert(conn, "turns", row)
                conn.executemany(
                    "INSERT INTO stage_times VALUES (?, ?, ?, ?)",
                    [(turn, stage, c, q) for stage, (c, q) in stages.items()],
                )
                for field_name, text in checked.content.items():
                    conn.execute(
                        "INSERT INTO content (turn, ts, expires, field, text) VALUES (?,?,?,?,?)",
                        (turn, self.clock(), self.keep_text_until, field_name, text),
                    )
                self._retain(conn)
            return turn

        return self._guarded(op)

    def add_start(self, record: Mapping[str, Any]) -> int:
        row = screen(record, START_FIELDS, keep_text=False).fields
        row["ts"] = row.get("ts") or self.clock()

        def op(conn: sqlite3.Connection) -> int:
            with _transaction(conn):
                start = _insert(conn, "starts", row)
                self._retain(conn)
            return start

        return self._guarded(op)

    def add_dropped(self, n: int) -> None:
        """Count records the writer had to drop (its queue was full)."""

        def op(conn: sqlite3.Connection) -> None:
            with _transaction(conn):
                conn.execute(
                    "INSERT INTO meta VALUES ('dropped', ?) ON CONFLICT (key) "
                    "DO UPDATE SET value = CAST(value AS INTEGER) + excluded.value",
                    (n,),
                )

        self._guarded(op)

    def _retain(self, conn: sqlite3.Connection) -> int:
        now = self.clock()
        cutoff = now - self.retention.days * 86400.0
        deleted = 0
        for table in ("turns", "starts"):
            deleted += conn.execute(f"DELETE FROM {table} WHERE ts < ?", (cutoff,)).rowcount
            deleted += conn.execute(
                f"DELETE FROM {table} WHERE id <= "
                f"(SELECT id FROM {table} ORDER BY id DESC LIMIT 1 OFFSET ?)",
                (self.retention.max_rows,),
            ).rowcount
        conn.execute("DELETE FROM content WHERE expires <= ?", (now,))
        return deleted

    def apply_retention(self) -> int:
        """Drop rows past the retention (age, count) and expired text; returns rows dropped."""

        def op(conn: sqlite3.Connection) -> int:
            with _transaction(conn):
                return self._retain(conn)

        return self._guarded(op)

    def purge(self, content_only: bool = False) -> dict[str, int]:
        """Delete kept text (and with ``content_only=False`` everything); overwrite it on disk."""

        def op(conn: sqlite3.Connection) -> dict[str, int]:
            counts = {"content": _count(conn, "content")}
            if not content_only:
                counts |= {"turns": _count(conn, "turns"), "starts": _count(conn, "starts")}
            with _transaction(conn):
                conn.execute("DELETE FROM content")
                if not content_only:
                    conn.execute("DELETE FROM turns")
                    conn.execute("DELETE FROM starts")
                    conn.execute("DELETE FROM meta WHERE key = 'dropped'")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("VACUUM")
            return counts

        counts = self._guarded(op)
        removed = 0
        for old in self.path.parent.glob(f"{self.path.name}.broken-*"):
            old.unlink()
            removed += 1
        counts["set_aside_files"] = removed
        return counts

    # -- reading -------------------------------------------------------------

    def turns(self, since: float | None = None) -> list[dict[str, Any]]:
        """Turns (oldest first) with ``stages``: stage -> (compute_ms, queue_ms)."""

        def op(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = _select(conn, "turns", since)
            by_id = {r["id"]: r for r in rows}
            for r in rows:
                r["stages"] = {}
            if rows:
                for turn, stage, c, q in conn.execute(
                    "SELECT turn, stage, compute_ms, queue_ms FROM stage_times WHERE turn >= ?",
                    (rows[0]["id"],),
                ):
                    if turn in by_id:
                        by_id[turn]["stages"][stage] = (c, q)
            return rows

        return self._guarded(op)

    def starts(self, since: float | None = None) -> list[dict[str, Any]]:
        return self._guarded(lambda conn: _select(conn, "starts", since))

    def content(self, since: float | None = None) -> list[dict[str, Any]]:
        return self._guarded(lambda conn: _select(conn, "content", since))

    def dropped(self) -> int:
        row = self._guarded(
            lambda conn: conn.execute("SELECT value FROM meta WHERE key = 'dropped'").fetchone()
        )
        return int(row[0]) if row else 0

    def schema_version(self) -> int:
        return int(self._guarded(lambda c: c.execute("PRAGMA user_version").fetchone()[0]))


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        raise
    conn.execute("COMMIT")


def _insert(conn: sqlite3.Connection, table: str, row: Mapping[str, Any]) -> int:
    cols = list(row)
    cur = conn.execute(
        f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
        [row[c] for c in cols],
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


def _select(conn: sqlite3.Connection, table: str, since: float | None) -> list[dict[str, Any]]:
    cur = conn.execute(
        f"SELECT * FROM {table} WHERE ts >= ? ORDER BY id", (since if since is not None else 0.0,)
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _count(conn: sqlite3.Connection, table: str) -> int:
    return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
