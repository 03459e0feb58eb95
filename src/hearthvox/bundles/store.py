"""The content-addressed model store under the data directory.

::

    DATA_DIR/
      objects/<sha256>                 immutable model files (mode 0444), named by content
      bundles/<sha256>/manifest.json   a signed manifest, as received (named by its sha256)
      bundles/<sha256>/files/<artifact id>/<name> -> ../../objects/<sha256>   (symlinks)
      artifacts/<key>/artifact.json    an optional artifact outside every bundle (optional.py),
      artifacts/<key>/files/<name>     its files, linked to their objects like a bundle's
      channels/<channel>.json          current bundle, history, highest version, trial
      tmp/                             staging; emptied whenever the writer lock is taken
      downloads/<sha256>.part          interrupted downloads, resumed by the next install
      keys/                            this device's signing key
      verified.json                    stat stamps of objects whose sha256 was checked
      store.lock                       one writer at a time (fcntl.flock)

Nothing becomes visible under ``objects/``, ``bundles/`` or ``channels/`` until it
is complete, verified and fsynced: it is written under ``tmp/`` and renamed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from hearthvox.bundles.channels import ChannelState
from hearthvox.bundles.fsutil import atomic_write, fsync_dir, inside, read_regular, step
from hearthvox.bundles.lock import artifact_from_dict, sha256_file
from hearthvox.bundles.manifest import MANIFEST_MAX, Manifest, link_paths, parse_manifest
from hearthvox.errors import ModelError

_DOWNLOAD_MAX_AGE_S = 7 * 24 * 3600
STATE_MAX = 1 << 20
"""The largest channel file or other state file read (bytes)."""


@dataclass(frozen=True)
class Installed:
    sha256: str  # of manifest.json
    manifest: Manifest
    data: bytes


class Store:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.objects = root / "objects"
        self.bundles = root / "bundles"
        self.channels = root / "channels"
        self.tmp = root / "tmp"
        self.downloads = root / "downloads"
        self.keys = root / "keys"
        self.artifacts = root / "artifacts"  # made by the first optional artifact built
        self._stamps_path = root / "verified.json"
        self._held = False

    @classmethod
    def open(cls, root: Path) -> Store:
        store = cls(root)
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        for d in (store.objects, store.bundles, store.channels, store.tmp, store.downloads):
            d.mkdir(mode=0o700, exist_ok=True)
        return store

    # ------------------------------------------------------------ the writer lock

    @contextlib.contextmanager
    def writer(self, wait_s: float = 60.0) -> Iterator[None]:
        """Hold the store's writer lock (waiting up to *wait_s*); cleans leftovers first.

        Re-entrant within one Store object."""
        if self._held:
            yield
            return
        with (self.root / "store.lock").open("a") as fh:
            deadline = time.monotonic() + wait_s
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise ModelError(
                            f"another hearthvox process is changing the model store {self.root} "
                            f"(waited {wait_s:.0f} s); try again when it is done"
                        ) from None
                    time.sleep(0.05)
            self._held = True
            try:
                self.cleanup()
                yield
            finally:
                self._held = False
                fcntl.flock(fh, fcntl.LOCK_UN)

    def cleanup(self) -> None:
        """Remove what a crashed writer left: staging, stale downloads, unreferenced objects."""
        for entry in self.tmp.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        cutoff = time.time() - _DOWNLOAD_MAX_AGE_S
        for part in self.downloads.iterdir():
            if part.stat().st_mtime < cutoff:
                part.unlink()
        referenced: set[str] = set()
        for bundle in self.bundles.iterdir():
            try:
                referenced |= set(self._read(bundle.name).manifest.objects())
            except ModelError:
                continue  # verify reports it; keep its objects
        referenced |= self.optional_objects()
        for obj in self.objects.iterdir():
            if obj.name not in referenced:
                obj.unlink()

    # ------------------------------------------------------------ objects

    def object_path(self, sha256: str) -> Path:
        return self.objects / sha256

    def has_object(self, sha256: str, size: int) -> bool:
        try:
            return self.object_path(sha256).stat().st_size == size
        except FileNotFoundError:
            return False

    def begin(self) -> Txn:
        path = self.tmp / f"txn-{os.getpid()}-{os.urandom(4).hex()}"
        path.mkdir()
        return Txn(self, path)

    # ------------------------------------------------------------ bundles

    def installed(self) -> list[Installed]:
        found = []
        for bundle in sorted(self.bundles.iterdir()):
            with contextlib.suppress(ModelError):
                found.append(self._read(bundle.name))
        return sorted(found, key=lambda i: (i.manifest.bundle, i.manifest.version))

    def get(self, sha256: str) -> Installed:
        return self._read(sha256)

    def _read(self, sha256: str) -> Installed:
        path = self.bundles / sha256 / "manifest.json"
        data = read_regular(path, MANIFEST_MAX, "the installed manifest")
        try:
            doc = json.loads(data)["signed"]
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            raise ModelError(f"the installed manifest {path} is unreadable: {exc!r}") from None
        if not isinstance(doc, dict):
            raise ModelError(f"the installed manifest {path} is unreadable: not an object")
        return Installed(sha256, parse_manifest(doc, str(path)), data)

    def bundle_files(self, sha256: str) -> Path:
        return self.bundles / sha256 / "files"

    def optional_objects(self) -> set[str]:
        """The objects the optional artifacts' trees use (kept by :meth:`cleanup`)."""
        found: set[str] = set()
        if not self.artifacts.is_dir():
            return found
        for tree in self.artifacts.iterdir():
            with contextlib.suppress(ModelError, ValueError, RecursionError):
                raw = json.loads(read_regular(tree / "artifact.json", MANIFEST_MAX, "artifact"))
                found |= {f.sha256 for f in artifact_from_dict(raw, str(tree), 0).files}
        return found

    # ------------------------------------------------------------ channels

    def read_channel(self, channel: str) -> ChannelState:
        path = self.channels / f"{channel}.json"
        if not path.exists() and not path.is_symlink():
            return ChannelState(channel)
        data = read_regular(path, STATE_MAX, "the channel file")
        try:
            state = ChannelState.from_dict(json.loads(data))
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise ModelError(
                f"the channel file {path} is damaged ({type(exc).__name__}: {str(exc)[:120]}); "
                f"move it away and activate a bundle again: hearthvox models activate "
                f"BUNDLE --channel {channel}"
            ) from None
        if state.channel != channel:
            raise ModelError(f"the channel file {path} names channel {state.channel!r}: damaged")
        return state

    def write_channel(self, state: ChannelState) -> None:
        data = json.dumps(state.to_dict(), indent=1).encode() + b"\n"
        atomic_write(self.channels / f"{state.channel}.json", data, self.tmp)

    # ------------------------------------------------------------ verification

    def stamps(self) -> dict[str, list[int]]:
        """Only a cache: anything malformed in it means "hash again"."""
        try:
            raw = json.loads(read_regular(self._stamps_path, STATE_MAX, "verified.json"))
        except (ModelError, ValueError, RecursionError):
            return {}
        if not isinstance(raw, dict):
            return {}
        return {
            k: v
            for k, v in raw.items()
            if isinstance(v, list) and len(v) == 4 and all(type(n) is int for n in v)
        }

    def _stamp(self, sha256: str) -> list[int]:
        st = self.object_path(sha256).stat()
        return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]

    def save_stamps(self, stamps: dict[str, list[int]]) -> None:
        live = {k: v for k, v in stamps.items() if self.object_path(k).exists()}
        atomic_write(self._stamps_path, json.dumps(live).encode(), self.tmp)

    def check_objects(self, objects: dict[str, int], full: bool, what: str) -> list[str]:
        """Problems with these objects. Unless *full*, an object whose stat stamp is unchanged
        since its last check is not hashed again (any write changes its ctime)."""
        stamps = self.stamps()
        problems: list[str] = []
        changed = False
        for sha, size in objects.items():
            path = self.object_path(sha)
            try:
                stamp = self._stamp(sha)
            except FileNotFoundError:
                problems.append(f"{what}: object {path} is missing")
                continue
            if stamp[0] != size:
                problems.append(f"{what}: object {path} has {stamp[0]} bytes, expected {size}")
                continue
            if not full and stamps.get(sha) == stamp:
                continue
            actual = sha256_file(path)
            if actual != sha:
                problems.append(
                    f"{what}: object {path} has sha256 {actual}: it was altered or is corrupt"
                )
                stamps.pop(sha, None)
                changed = True
            elif stamps.get(sha) != stamp:
                stamps[sha] = stamp
                changed = True
        if changed:
            with contextlib.suppress(OSError):  # only a cache: a read-only store still works
                self.save_stamps(stamps)
        return problems

    def check_tree(self, installed: Installed) -> list[str]:
        """Problems with a bundle's file tree: each name must link to its object, from inside
        the tree, and the tree holds nothing else."""
        files = self.bundle_files(installed.sha256)
        what = f"bundle {installed.manifest.ref}"
        return self.check_links(files, link_paths(installed.manifest), what)

    def check_links(self, files: Path, expected: dict[str, str], what: str) -> list[str]:
        """Problems with the file tree *files*: each path of *expected* (path -> sha256) must
        link to its object, from inside the tree, and the tree holds nothing else."""
        problems = []
        for path, sha in expected.items():
            link = files / path
            want = os.path.relpath(self.object_path(sha), link.parent)
            try:
                target = os.readlink(link)
            except OSError:
                target = None
            if target != want or not inside(link.parent, files):
                problems.append(f"{what}: {link} does not link to its object")
        for dirpath, dirnames, filenames in os.walk(files):
            for name in dirnames + filenames:
                entry = Path(dirpath) / name
                rel = entry.relative_to(files).as_posix()
                if entry.is_symlink() and rel not in expected:
                    problems.append(f"{what}: {entry} is not a file of its manifest")
                elif not entry.is_symlink() and not entry.is_dir():
                    problems.append(f"{what}: {entry} is not a link to an object")
        return problems


class Txn:
    """One install's staging directory; objects move into the store on commit."""

    def __init__(self, store: Store, path: Path) -> None:
        self.store = store
        self.path = path
        self.added: list[Path] = []

    def staged(self, sha256: str) -> Path:
        return self.path / sha256

    def commit_objects(self, shas: list[str]) -> None:
        stamps = self.store.stamps()
        for sha in shas:
            dest = self.store.object_path(sha)
            if dest.exists():
                continue
            step("rename-object")
            os.replace(self.staged(sha), dest)
            self.added.append(dest)
            stamps[sha] = self.store._stamp(sha)
        step("fsync-objects")
        fsync_dir(self.store.objects)
        self.store.save_stamps(stamps)

    def commit_bundle(self, data: bytes, manifest: Manifest, sha256: str) -> None:
        """Build the bundle's directory (manifest + file tree) in staging, then rename it in."""
        final = self.store.bundles / sha256
        if final.exists():
            return
        staged = self.path / "bundle"
        self.link_tree(
            staged / "files", final / "files", link_paths(manifest), f"bundle {manifest.ref}"
        )
        with (staged / "manifest.json").open("xb") as fh:
            fh.write(data)
            fh.flush()
            step("fsync-manifest")
            os.fsync(fh.fileno())
        step("rename-bundle")
        os.replace(staged, final)
        self.added.append(final)
        step("fsync-bundles")
        fsync_dir(self.store.bundles)

    def link_tree(self, files: Path, final: Path, links: dict[str, str], what: str) -> None:
        """Build, under staging, the tree *files* (to be renamed to *final*): one link per
        path of *links* (path -> sha256) to its object; a path that would leave it is refused."""
        files.mkdir(parents=True)
        for path, sha in links.items():
            link = files / path
            if os.path.isabs(path) or os.path.normpath(path).startswith(".."):
                raise ModelError(f"{what}: {path!r} leaves its file tree: refused")
            link.parent.mkdir(parents=True, exist_ok=True)
            if not inside(link.parent, files) or link.is_symlink():
                raise ModelError(f"{what}: {path!r} leaves its file tree: refused")
            final_parent = (final / path).parent
            os.symlink(os.path.relpath(self.store.object_path(sha), final_parent), link)

    def abort(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        for path in reversed(self.added):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    def close(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def manifest_sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
