"""Writes telemetry records from a dedicated thread, off the audio path.

Producers (pipeline observers, on the event loop) only put a small dict on a
bounded queue and never wait: when the queue is full the record is dropped and
counted (the count is stored when the writer closes). The store, its SQLite
connection and any recovery from a broken database live in the writer thread.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, Literal

from hearthvox.errors import HearthvoxError
from hearthvox.telemetry.store import TelemetryStore

log = logging.getLogger(__name__)

Kind = Literal["turn", "start"]
_Item = tuple[str, Any]


class TelemetryWriter:
    def __init__(
        self,
        open_store: Callable[[], TelemetryStore],
        *,
        queue_size: int = 256,
        context: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        """``context`` runs once in the thread; its fields are added to every record."""
        self._open_store = open_store
        self._context = context
        self._queue: queue.Queue[_Item] = queue.Queue(maxsize=queue_size)
        self._thread = threading.Thread(target=self._run, name="hv-telemetry", daemon=True)
        self.dropped = 0
        """Records refused because the queue was full."""
        self.written = 0
        self.failed = 0
        """Records the store refused or could not write (logged as warnings)."""

    def start(self) -> TelemetryWriter:
        self._thread.start()
        return self

    def submit(self, kind: Kind, record: dict[str, Any]) -> bool:
        """Queue a record without waiting; False (and counted) when the queue is full."""
        try:
            self._queue.put_nowait((kind, record))
        except queue.Full:
            self.dropped += 1
            return False
        return True

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything submitted so far is written (for tests and shutdown)."""
        done = threading.Event()
        try:
            self._queue.put(("flush", done), timeout=timeout_s)
        except queue.Full:
            return False
        return done.wait(timeout_s)

    def close(self, timeout_s: float = 10.0) -> None:
        if not self._thread.is_alive():
            return
        try:
            self._queue.put(("stop", None), timeout=timeout_s)
        except queue.Full:
            log.warning("telemetry writer is stuck; %d records not written", self._queue.qsize())
            return
        self._thread.join(timeout_s)

    def _run(self) -> None:
        try:
            store: TelemetryStore | None = self._open_store()
        except HearthvoxError as exc:
            log.warning("telemetry is off for this run: %s", exc)
            store = None
        context = self._context() if self._context is not None else {}
        try:
            while True:
                kind, payload = self._queue.get()
                if kind == "stop":
                    return
                if kind == "flush":
                    payload.set()
                elif store is None:
                    self.failed += 1
                else:
                    self._write(store, kind, {**context, **payload})
        finally:
            if store is not None:
                self._finish(store)

    def _write(self, store: TelemetryStore, kind: str, record: dict[str, Any]) -> None:
        try:
            if kind == "turn":
                store.add_turn(record)
            else:
                store.add_start(record)
        except HearthvoxError as exc:  # the daemon carries on without this record
            self.failed += 1
            log.warning("telemetry record not stored: %s", exc)
            return
        self.written += 1

    def _finish(self, store: TelemetryStore) -> None:
        try:
            if self.dropped:
                store.add_dropped(self.dropped)
        except HearthvoxError as exc:
            log.warning("telemetry: %s", exc)
        finally:
            store.close()
