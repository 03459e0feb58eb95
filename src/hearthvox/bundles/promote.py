"""Promotion: a channel's bundle moves to a more stable channel, with a record of why.

A manifest is signed for one channel, so promoting ``small@2`` from ``canary`` to
``beta`` installs a copy of it signed for ``beta`` by this device's key (same
artifacts, settings, version and expiry; only the channel differs), and
activates it there (on trial, like any activation). Whatever decided the
promotion (the eval of both bundles, the gate's checks, whether it was forced)
is kept in ``promotions/<time>-<from>-<to>.json`` under the store, and the
target channel's log names that record.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from hearthvox.bundles.channels import Ref
from hearthvox.bundles.fsutil import atomic_write
from hearthvox.bundles.install import Policy, install_bundle
from hearthvox.bundles.manifest import CHANNELS, Manifest, format_time, now_utc
from hearthvox.bundles.signing import envelope_bytes, key_id, load_or_create_local_key, sign
from hearthvox.bundles.store import Installed, Store
from hearthvox.errors import ModelError

ORDER = ("canary", "beta", "stable")
"""From least to most stable: a bundle is promoted rightwards."""


def default_target(source: str) -> str:
    """The next more stable channel (``canary`` -> ``beta`` -> ``stable``)."""
    i = ORDER.index(source)
    if i + 1 >= len(ORDER):
        raise ModelError("stable is the most stable channel: there is nothing to promote it to")
    return ORDER[i + 1]


def check_direction(source: str, target: str) -> None:
    for name in (source, target):
        if name not in CHANNELS:
            raise ModelError(f"unknown channel {name!r}; channels: {', '.join(CHANNELS)}")
    if ORDER.index(target) <= ORDER.index(source):
        raise ModelError(
            f"promotion goes towards stable (canary -> beta -> stable), not {source} -> "
            f"{target}; to put another bundle on {target}, use: hearthvox models activate "
            f"or hearthvox models rollback --channel {target}"
        )


@dataclass(frozen=True)
class Plan:
    """What a promotion would do: the candidate (the source channel's current bundle)
    and the baseline it is judged against (the target channel's, if any)."""

    source: str
    target: str
    candidate: Installed
    baseline: Installed | None

    @property
    def already_there(self) -> bool:
        b = self.baseline
        return b is not None and b.manifest.same_content(self.candidate.manifest)


def plan(store: Store, source: str, target: str) -> Plan:
    check_direction(source, target)
    current = store.read_channel(source).current
    if current is None:
        raise ModelError(f"channel {source} has no bundle to promote")
    on_target = store.read_channel(target).current
    return Plan(
        source,
        target,
        store.get(current.manifest),
        store.get(on_target.manifest) if on_target is not None else None,
    )


def sign_locally(store: Store, manifest: Manifest) -> bytes:
    """*manifest* signed by this device's key (trusted unless trust_local_key = false)."""
    key = load_or_create_local_key(store.keys)
    return envelope_bytes(sign(manifest.to_dict(), key.private))


def signed_copy(store: Store, installed: Installed, channel: str) -> bytes:
    """*installed*'s manifest signed for *channel* by this device's key."""
    return sign_locally(store, dataclasses.replace(installed.manifest, channel=channel))


def derive_bundle(
    store: Store,
    base: Installed,
    *,
    bundle: str,
    version: int,
    channel: str,
    settings: dict[str, dict[str, Any]],
) -> bytes:
    """A new bundle from *base*'s artifacts (the same weights) with *settings* over its
    stage settings (``{"asr": {"compute_type": "float32"}}``), signed by this device's
    key for *channel*: a variant to evaluate, gate and promote like any other."""
    stages = {
        name: dataclasses.replace(stage, settings={**stage.settings, **settings.get(name, {})})
        for name, stage in base.manifest.stages.items()
    }
    unknown = sorted(set(settings) - set(stages))
    if unknown:
        raise ModelError(f"no stage {unknown[0]!r}; stages: {', '.join(stages)}")
    manifest = dataclasses.replace(
        base.manifest,
        bundle=bundle,
        version=version,
        channel=channel,
        created=now_utc(),
        stages=stages,
    )
    return sign_locally(store, manifest)


def promote(store: Store, p: Plan, policy: Policy, record: dict[str, Any]) -> tuple[Path, Ref]:
    """Install and activate the candidate on the target channel; keep *record*.

    The target's log gets a ``promote`` entry naming the record. Returns the
    record's path and the bundle now current on the target channel."""
    key = load_or_create_local_key(store.keys)
    if key_id(key.public) not in policy.trusted.keys:
        raise ModelError(
            "promotion signs the bundle for the target channel with this device's key, "
            "which is not trusted here: set [models] trust_local_key = true"
        )
    data = signed_copy(store, p.candidate, p.target)
    with store.writer():
        result = install_bundle(store, data, None, p.target, policy, activate=True)
        state = result.state or store.read_channel(p.target)
        now = now_utc()
        path = _record_path(store, now, p.source, p.target)
        note = f"from {p.source}, {'FORCED' if record.get('forced') else 'gate passed'}"
        state = state.noted(now, "promote", state.current, f"{note}; record {path.name}")
        store.write_channel(state)
        write_record(store, path, {**record, "time": format_time(now)})
    assert state.current is not None
    return path, state.current


def _record_path(store: Store, now: datetime, source: str, target: str) -> Path:
    stamp = format_time(now).replace(":", "").replace("-", "")
    folder = store.root / "promotions"
    path = folder / f"{stamp}-{source}-{target}.json"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"{stamp}-{source}-{target}-{n}.json"
    return path


def _record_order(path: Path) -> tuple[str, int]:
    """Time stamp, then the collision number ``_record_path`` added in the same second
    (plain name sorting would put ``...-2.json`` before the first record)."""
    stamp, _, rest = path.stem.partition("-")
    head, _, n = rest.rpartition("-")
    return stamp, int(n) if head and n.isdigit() else 1


def write_record(store: Store, path: Path, record: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(record, indent=1, sort_keys=True).encode() + b"\n"
    atomic_write(path, data, store.tmp)
    return path


def refused_record(store: Store, p: Plan, record: dict[str, Any]) -> Path:
    """Keep the record of a promotion the gate refused (nothing else changes)."""
    with store.writer():
        now = now_utc()
        path = _record_path(store, now, p.source, p.target)
        return write_record(store, path, {**record, "time": format_time(now)})


def records(store: Store) -> list[dict[str, Any]]:
    """Every promotion record, oldest first (unreadable ones skipped)."""
    folder = store.root / "promotions"
    out = []
    for path in sorted(folder.glob("*.json"), key=_record_order) if folder.is_dir() else []:
        try:
            out.append({**json.loads(path.read_text()), "path": str(path)})
        except (OSError, ValueError):
            continue
    return out
