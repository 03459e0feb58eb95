"""Making bundles for other devices: a bundle tarball (export), a signed bundle index.

``export_bundle`` writes one tarball holding a bundle's signed manifest (first)
and its objects (``objects/<sha256>``); ``hearthvox models import`` installs it on
a device with no network. ``publish_bundle`` signs a manifest and adds it, with
its objects, to a directory any web server can serve as a bundle index.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hearthvox.bundles.fsutil import fsync_dir
from hearthvox.bundles.manifest import Manifest, format_time
from hearthvox.bundles.signing import envelope_bytes, sign
from hearthvox.bundles.sources import MANIFEST_NAME
from hearthvox.bundles.store import Installed, Store, manifest_sha
from hearthvox.errors import ModelError


def export_bundle(store: Store, installed: Installed, out: Path) -> int:
    """Write *installed* and its objects to the tarball *out* (atomically); its size."""
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with tarfile.open(tmp, "w") as tar:
            info = tarfile.TarInfo(MANIFEST_NAME)
            info.size = len(installed.data)
            info.mtime = int(installed.manifest.created.timestamp())
            tar.addfile(info, io.BytesIO(installed.data))
            for sha in sorted(installed.manifest.objects()):
                info = tar.gettarinfo(str(store.object_path(sha)), f"objects/{sha}")
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mode = 0o444
                with store.object_path(sha).open("rb") as fh:
                    tar.addfile(info, fh)
        with tmp.open("rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ModelError(f"cannot write {out}: {exc}") from exc
    return out.stat().st_size


def publish_bundle(
    out_dir: Path,
    manifest: Manifest,
    key: Ed25519PrivateKey,
    object_file: Callable[[str], Path],
    *,
    index_expires: datetime,
) -> Path:
    """Sign *manifest*, put it and its objects under *out_dir* and list it in the
    directory's ``index.json`` (re-signed with a higher version). Returns the index path."""
    for sub in ("bundles", "objects"):
        (out_dir / sub).mkdir(parents=True, exist_ok=True)
    data = envelope_bytes(sign(manifest.to_dict(), key))
    name = f"bundles/{manifest.bundle}-{manifest.version}.json"
    (out_dir / name).write_bytes(data)
    for sha in manifest.objects():
        dest = out_dir / "objects" / sha
        if not dest.exists():
            shutil.copyfile(object_file(sha), dest)
    index_path = out_dir / "index.json"
    doc = _read_index(index_path)
    listed = [
        e
        for e in doc["channels"].get(manifest.channel, [])
        if (e["bundle"], e["version"]) != (manifest.bundle, manifest.version)
    ]
    listed.append(
        {
            "bundle": manifest.bundle,
            "version": manifest.version,
            "manifest": name,
            "sha256": manifest_sha(data),
            "size": len(data),
        }
    )
    doc["channels"][manifest.channel] = sorted(listed, key=lambda e: e["version"])
    doc["version"] = int(doc.get("version", 0)) + 1
    doc["expires"] = format_time(index_expires)
    write_index(index_path, doc, key)
    return index_path


def write_index(path: Path, doc: dict[str, Any], key: Ed25519PrivateKey) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(envelope_bytes(sign(doc, key)))
    os.replace(tmp, path)
    fsync_dir(path.parent)


def _read_index(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {
            "type": "index",
            "schema_version": 1,
            "version": 0,
            "objects": "objects/",
            "channels": {},
        }
    try:
        doc: dict[str, Any] = json.loads(path.read_bytes())["signed"]
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"{path} is not a bundle index: {exc}") from exc
    return doc


def default_expiry(now: datetime, days: int) -> datetime:
    return now + timedelta(days=days)
