"""What ``models status`` and ``models list`` show: one record per channel / bundle."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hearthvox.bundles.active import in_use
from hearthvox.bundles.manifest import CHANNELS, format_time
from hearthvox.bundles.store import Store
from hearthvox.paths import Paths


def channel_records(
    store: Store, paths: Paths, configured: str, only: str | None = None
) -> list[dict[str, Any]]:
    running = in_use(paths)
    records = []
    for name in CHANNELS if only is None else (only,):
        state = store.read_channel(name)
        users = [r for r in running if r.get("channel") == name]
        trial = state.trial
        records.append(
            {
                "channel": name,
                "current": str(state.current) if state.current else None,
                "previous": str(state.previous) if state.previous else None,
                "trial": trial.state if trial else None,
                "tries_left": trial.tries_left if trial and trial.state == "pending" else None,
                "rolled_back_from": str(trial.rolled_back_from)
                if trial and trial.rolled_back_from
                else None,
                "message": trial.message if trial else "",
                "in_use": users[0]["bundle"] if users else None,
                "in_use_pids": [r["pid"] for r in users],
                "configured": name == configured,
                "highest_version": state.highest_version,
                "history": [str(r) for r in state.stack],
            }
        )
    return records


def bundle_records(store: Store, now: datetime, only: str | None = None) -> list[dict[str, Any]]:
    states = {c: store.read_channel(c) for c in CHANNELS}
    records = []
    for i in store.installed():
        m = i.manifest
        if only is not None and m.channel != only:
            continue
        state = states[m.channel]
        role = (
            "current"
            if state.current and state.current.manifest == i.sha256
            else "previous"
            if state.previous and state.previous.manifest == i.sha256
            else ""
        )
        records.append(
            {
                "bundle": m.ref,
                "channel": m.channel,
                "role": role,
                "version": m.version,
                "size": m.total_size,
                "hardware": list(m.hardware),
                "expires": format_time(m.expires),
                "expired": m.is_expired(now),
                "manifest": i.sha256,
                "artifacts": {s: [e.artifact.id for e in m.stages[s].artifacts] for s in m.stages},
                "settings": m.settings(),
            }
        )
    return records
