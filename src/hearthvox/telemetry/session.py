"""Telemetry for one run of the assistant: the start record, the observer, the writer.

``hearthvox hub`` opens one session (command ``hub``) and gives each satellite's
pipeline an observer of its own from :meth:`TelemetrySession.observer_for`."""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import TYPE_CHECKING, Any

import psutil

from hearthvox.config import TelemetryConfig
from hearthvox.telemetry.observer import TurnObserver, rss_mb
from hearthvox.telemetry.privacy import label_or
from hearthvox.telemetry.store import Retention, TelemetryStore, default_path
from hearthvox.telemetry.writer import TelemetryWriter

if TYPE_CHECKING:
    from hearthvox.runtime import Runtime

log = logging.getLogger(__name__)


def keep_text_until(cfg: TelemetryConfig, now: dt.date | None = None) -> float | None:
    """When keeping transcripts stops (Unix time, end of the configured day), or None."""
    if not cfg.keep_transcripts:
        return None
    until = dt.date.fromisoformat(cfg.keep_transcripts_until)
    if until < (now or dt.date.today()):
        log.warning(
            "telemetry.keep_transcripts_until (%s) has passed: transcripts are not kept", until
        )
        return None
    return dt.datetime.combine(until + dt.timedelta(days=1), dt.time()).timestamp()


def current_profile() -> str | None:
    """The hardware profile the compatibility matrix picks for this machine."""
    from hearthvox.compat.matrix import load_matrix, select_profile
    from hearthvox.compat.probe import probe

    try:
        return select_profile(probe(), load_matrix()).profile
    except Exception as exc:  # the probe must never stop telemetry, let alone the assistant
        log.warning("telemetry: no hardware profile (%s)", type(exc).__name__)
        return None


class TelemetrySession:
    """Subscribes a :class:`TurnObserver` to the runtime; :meth:`close` unsubscribes and flushes."""

    def __init__(self, runtime: Runtime, command: str, *, queue_size: int = 256) -> None:
        cfg = runtime.cfg.telemetry
        self.runtime = runtime
        self.path = default_path(runtime.paths.state_dir)
        until = keep_text_until(cfg)
        retention = Retention(cfg.retention_days, cfg.retention_turns)

        def context() -> dict[str, Any]:
            device = runtime.device
            profile = device.selection.profile if device is not None else current_profile()
            return {
                "bundle": label_or(runtime.engines.bundle_id),
                "profile": label_or(profile) if profile else None,
            }

        self.writer = TelemetryWriter(
            lambda: TelemetryStore(self.path, retention=retention, keep_text_until=until),
            queue_size=queue_size,
            context=context,
        ).start()
        self.process = process = psutil.Process()
        self.writer.submit(
            "start",
            {
                "ts": time.time(),
                "command": command,
                "cold_start_ms": round((time.time() - process.create_time()) * 1000.0, 1),
                "models_ms": round(runtime.ready_ms, 1),
                "rss_mb": rss_mb(process),
            },
        )
        self.keep_text = lambda: until is not None and time.time() < until
        self.observer = TurnObserver(self.writer.submit, keep_text=self.keep_text, process=process)
        runtime.observers.append(self.observer)

    def observer_for(self, area: str) -> TurnObserver:
        """A further observer on the same writer, whose records carry ``area``: for one
        satellite's pipeline (the hub's). It is not one of ``runtime.observers``."""
        return TurnObserver(
            self.writer.submit, keep_text=self.keep_text, process=self.process, area=area
        )

    def close(self) -> None:
        if self.observer in self.runtime.observers:
            self.runtime.observers.remove(self.observer)
        self.writer.close()


def open_session(runtime: Runtime, command: str) -> TelemetrySession | None:
    """Start recording this run (the cold start now, then every turn); None when disabled."""
    if not runtime.cfg.telemetry.enabled:
        return None
    return TelemetrySession(runtime, command)
