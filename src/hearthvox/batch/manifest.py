"""The run manifest in the output folder: what was transcribed, from which input, by what.

``hearthvox-manifest.jsonl`` holds one JSON line per finished input, keyed by the
output name, the sha256 of the input's bytes and the *fingerprint* of the bundle and
settings that decode it (``NAME@SHA256:FINGERPRINT``): new bytes or a new bundle mean
a new key, so the input is transcribed again. Lines are appended and fsynced after
the input's outputs are in place, so a killed run loses at most the inputs in
flight; a torn last line is ignored. Each run rewrites the file atomically when it
starts and ends, keeping the latest line of each output name (the outputs on disk).
The manifest holds no transcript text, only paths, hashes and outcomes.
A run holds ``.hearthvox-manifest.lock`` (``flock``) so two runs never share a folder.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from hearthvox.batch.outputs import atomic_write
from hearthvox.errors import OutputError
from hearthvox.paths import make_output_dir

MANIFEST = "hearthvox-manifest.jsonl"
LOCK = ".hearthvox-manifest.lock"
_CHUNK = 1 << 20


class BusyError(OutputError):
    """Another run is writing to the same output folder (exit status 6, like any output
    that cannot be written)."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def fingerprint(settings: dict[str, Any]) -> str:
    """A short stable hash of everything that changes the text of a transcription."""
    blob = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Entry:
    key: str
    status: str  # "done" | "failed"
    data: dict[str, Any]

    @property
    def outputs(self) -> list[str]:
        return list(self.data.get("outputs", []))


class Manifest:
    """Open with ``with Manifest(out_dir) as m:``; holds the folder's lock meanwhile."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.path = out_dir / MANIFEST
        self.entries: dict[str, Entry] = {}
        self._lock: TextIO | None = None
        self._log: TextIO | None = None

    def __enter__(self) -> Manifest:
        make_output_dir(self.out_dir)
        try:
            lock = (self.out_dir / LOCK).open("a")
        except OSError as exc:
            raise OutputError(f"cannot write into {self.out_dir}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise BusyError(
                f"another 'hearthvox transcribe' is writing to {self.out_dir}; "
                "wait for it to finish or choose another --out-dir folder"
            ) from None
        self._lock = lock
        self.entries = self._read()
        self.compact()
        self._log = self.path.open("a", encoding="utf-8")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
            self.compact()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def _read(self) -> dict[str, Entry]:
        entries: dict[str, Entry] = {}
        if not self.path.exists():
            return entries
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                data = json.loads(line)
                entries[str(data["key"])] = Entry(str(data["key"]), str(data["status"]), data)
            except (ValueError, KeyError, TypeError):
                continue  # a line torn by a kill, or not ours
        return entries

    def compact(self) -> None:
        latest = {str(e.data.get("stem", e.key)): e for e in self.entries.values()}
        self.entries = {e.key: e for e in latest.values()}
        lines = "".join(json.dumps(e.data, sort_keys=True) + "\n" for e in self.entries.values())
        atomic_write(self.path, lines)

    def get(self, key: str) -> Entry | None:
        return self.entries.get(key)

    def record(self, key: str, status: str, data: dict[str, Any]) -> Entry:
        if self._log is None:
            raise RuntimeError("the manifest is not open")
        entry = Entry(key, status, {"key": key, "status": status, **data})
        self._log.write(json.dumps(entry.data, sort_keys=True) + "\n")
        self._log.flush()
        os.fsync(self._log.fileno())
        self.entries.pop(key, None)  # the latest goes last
        self.entries[key] = entry
        return entry
