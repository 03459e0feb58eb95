"""An HTTP(S) bundle index: a signed JSON listing the bundles of each channel.

::

    {"signed": {"type": "index", "schema_version": 1, "version": 7,
                "expires": "2030-01-01T00:00:00Z",
                "objects": "objects/",                      # base URL of the objects, by sha256
                "channels": {"beta": [{"bundle": "small", "version": 2,
                                       "manifest": "bundles/small-2.json",
                                       "sha256": "...", "size": 5210}]}},
     "signatures": [...]}

URLs are relative to the index's own URL. The manifest a listing names is
checked against the listed size and sha256, then verified on its own.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hearthvox.bundles.download import fetch_small
from hearthvox.bundles.fsutil import atomic_write, read_regular
from hearthvox.bundles.manifest import CHANNELS, format_time, parse_time
from hearthvox.bundles.signing import TrustedKeys, open_envelope
from hearthvox.bundles.store import STATE_MAX, Store, manifest_sha
from hearthvox.errors import ModelError

SCHEMA_VERSION = 1
_SHA = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class IndexEntry:
    bundle: str
    version: int
    channel: str
    manifest_url: str
    sha256: str
    size: int

    @property
    def ref(self) -> str:
        return f"{self.bundle}@{self.version}"


@dataclass(frozen=True)
class Index:
    url: str
    version: int
    expires: datetime
    objects_url: str
    entries: tuple[IndexEntry, ...]

    def pick(self, channel: str, bundle: str | None, version: int | None) -> IndexEntry:
        """The named bundle (or the highest version) the index lists for *channel*."""
        found = [
            e
            for e in self.entries
            if e.channel == channel
            and (bundle is None or e.bundle == bundle)
            and (version is None or e.version == version)
        ]
        if not found:
            listed = ", ".join(e.ref for e in self.entries if e.channel == channel) or "nothing"
            want = f"{bundle or 'a bundle'}" + (f"@{version}" if version else "")
            raise ModelError(f"{self.url} has no {want} for channel {channel} (it lists {listed})")
        return max(found, key=lambda e: e.version)

    def manifest_bytes(self, entry: IndexEntry) -> bytes:
        data = fetch_small(entry.manifest_url)
        if len(data) != entry.size or manifest_sha(data) != entry.sha256:
            raise ModelError(
                f"the manifest of {entry.ref} at {entry.manifest_url} differs from what the "
                f"signed index gives (size or sha256): refused"
            )
        return data


def fetch_index(url: str, trusted: TrustedKeys, now: datetime) -> Index:
    return parse_index(fetch_small(url), url, trusted, now)


def parse_index(data: bytes, url: str, trusted: TrustedKeys, now: datetime) -> Index:
    doc = open_envelope(data, trusted, f"the bundle index {url}")
    if doc.get("type") != "index" or doc.get("schema_version") != SCHEMA_VERSION:
        raise ModelError(f"{url} is not a bundle index of schema_version {SCHEMA_VERSION}")
    expires = parse_time(doc.get("expires"), f"{url}: expires")
    if now >= expires:
        raise ModelError(
            f"the bundle index {url} expired at {format_time(expires)}: refused (its publisher "
            f"must re-sign it; an old index could hide newer bundles)"
        )
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelError(f"{url}: version must be an integer")
    objects = doc.get("objects", "objects/")
    channels = doc.get("channels")
    if not isinstance(objects, str) or not isinstance(channels, dict):
        raise ModelError(f"{url}: 'objects' must be a URL and 'channels' an object")
    base = urllib.parse.urljoin(url, ".")
    objects_url = _confined(urllib.parse.urljoin(url, objects), base, url, "'objects'")
    entries = []
    for channel, listed in channels.items():
        if channel not in CHANNELS or not isinstance(listed, list):
            raise ModelError(f"{url}: channel {channel!r} is unknown or not a list")
        entries += [_entry(raw, channel, url) for raw in listed]
    for e in entries:
        _confined(e.manifest_url, base, url, f"the manifest of {e.ref}")
    return Index(url, version, expires, objects_url, tuple(entries))


def _confined(target: str, base: str, url: str, what: str) -> str:
    """*target* (a URL the index names) must lie under the index's own folder *base*."""
    parts = urllib.parse.urlsplit(target)
    if (
        not target.startswith(base)
        or ".." in parts.path.split("/")
        or "%2e" in parts.path.lower()
        or parts.query
        or parts.fragment
    ):
        raise ModelError(f"{url}: {what} ({target[:120]}) is not under {base}: refused")
    return target


def _entry(raw: Any, channel: str, url: str) -> IndexEntry:
    try:
        if not all(type(raw[k]) is int for k in ("version", "size")):
            raise TypeError("'version' and 'size' must be integers")
        entry = IndexEntry(
            bundle=str(raw["bundle"])[:64],
            version=raw["version"],
            channel=channel,
            manifest_url=urllib.parse.urljoin(url, str(raw["manifest"])),
            sha256=str(raw["sha256"]),
            size=raw["size"],
        )
    except (KeyError, TypeError, ValueError) as exc:
        why = str(exc)[:100]
        raise ModelError(f"{url}: a listing of channel {channel} is malformed: {why}") from None
    if not _SHA.match(entry.sha256):
        raise ModelError(f"{url}: {entry.ref} has a malformed sha256")
    return entry


_SEEN_MAX = 256  # index URLs remembered


def check_index_version(store: Store, index: Index) -> None:
    """Refuse an index older than the highest version seen from its URL (a replayed one);
    remember this one's version."""
    path = store.root / "indexes.json"
    with store.writer():
        seen: dict[str, int] = {}
        if path.exists() or path.is_symlink():
            try:
                raw = json.loads(read_regular(path, STATE_MAX, "the index record"))
                if not isinstance(raw, dict) or not all(
                    isinstance(k, str) and type(v) is int for k, v in raw.items()
                ):
                    raise ValueError("not an object of URL -> version")
            except (ValueError, RecursionError) as exc:
                raise ModelError(
                    f"the index record {path} is damaged ({exc}); move it away and try again"
                ) from None
            seen = raw
        highest = seen.get(index.url, 0)
        if index.version < highest:
            raise ModelError(
                f"the bundle index {index.url} has version {index.version}, older than version "
                f"{highest} seen before: refused (an old index replayed could hide newer bundles)"
            )
        if index.version > highest:
            seen.pop(index.url, None)
            seen[index.url] = index.version
            kept = dict(list(seen.items())[-_SEEN_MAX:])
            atomic_write(path, json.dumps(kept, indent=1).encode() + b"\n", store.tmp)
