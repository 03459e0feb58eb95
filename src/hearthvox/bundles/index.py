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

import re
import urllib.parse
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hearthvox.bundles.download import fetch_small
from hearthvox.bundles.manifest import CHANNELS, format_time, parse_time
from hearthvox.bundles.signing import TrustedKeys, open_envelope
from hearthvox.bundles.store import manifest_sha
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
    entries = []
    for channel, listed in channels.items():
        if channel not in CHANNELS or not isinstance(listed, list):
            raise ModelError(f"{url}: channel {channel!r} is unknown or not a list")
        entries += [_entry(raw, channel, url) for raw in listed]
    return Index(url, version, expires, urllib.parse.urljoin(url, objects), tuple(entries))


def _entry(raw: Any, channel: str, url: str) -> IndexEntry:
    try:
        entry = IndexEntry(
            bundle=str(raw["bundle"]),
            version=int(raw["version"]),
            channel=channel,
            manifest_url=urllib.parse.urljoin(url, str(raw["manifest"])),
            sha256=str(raw["sha256"]),
            size=int(raw["size"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{url}: a listing of channel {channel} is malformed: {exc!r}") from None
    if not _SHA.match(entry.sha256):
        raise ModelError(f"{url}: {entry.ref} has a malformed sha256")
    return entry
