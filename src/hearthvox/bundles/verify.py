"""``models verify``: every signature, object, file tree and channel pointer of the store,
and the optional artifacts built in it; ``--repair`` fetches damaged or missing objects
again from the artifacts' sources (an optional artifact: from its installed packages)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hearthvox.bundles.install import Policy
from hearthvox.bundles.manifest import CHANNELS
from hearthvox.bundles.optional import check_built, repair_built
from hearthvox.bundles.signing import open_envelope
from hearthvox.bundles.sources import ArtifactSources, StageContext
from hearthvox.bundles.store import Installed, Store, manifest_sha
from hearthvox.errors import ModelError


@dataclass
class VerifyReport:
    bundles: int = 0
    objects: int = 0
    bytes: int = 0
    optional: int = 0
    """Optional artifacts built in the store (``asr/whisper-base``), checked too."""
    problems: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_store(store: Store, policy: Policy, channel: str | None = None) -> VerifyReport:
    """Hash every object of every installed bundle (of *channel*, if given)."""
    report = VerifyReport()
    with store.writer():  # also clears what a crashed writer left
        installed = [
            i for i in store.installed() if channel is None or i.manifest.channel == channel
        ]
        readable = {i.sha256 for i in store.installed()}
        for b in sorted(p.name for p in store.bundles.iterdir()):
            if b not in readable:
                report.problems.append(f"bundle {b}: refused: {_why_unreadable(store, b)}")
        seen: set[str] = set()
        for i in installed:
            report.bundles += 1
            report.problems += _check_bundle(store, i, policy, seen)
        report.objects = len(seen)
        report.bytes = sum(
            n for i in installed for s, n in i.manifest.objects().items() if s in seen
        )
        for name in CHANNELS if channel is None else (channel,):
            report.problems += _check_channel(store, name, readable)
        if channel is None:
            report.optional, files, size, problems = check_built(store)
            report.objects += files
            report.bytes += size
            report.problems += problems
    return report


def _why_unreadable(store: Store, sha256: str) -> str:
    try:
        store.get(sha256)
    except ModelError as exc:
        return str(exc)
    return "its manifest is unreadable"


def _check_bundle(store: Store, i: Installed, policy: Policy, seen: set[str]) -> list[str]:
    problems: list[str] = []
    try:
        open_envelope(i.data, policy.trusted, f"bundle {i.manifest.ref}'s manifest")
    except ModelError as exc:
        problems.append(str(exc))
    if manifest_sha(i.data) != i.sha256:
        problems.append(f"bundle {i.manifest.ref}: manifest.json does not match its name")
    todo = {s: n for s, n in i.manifest.objects().items() if s not in seen}
    problems += store.check_objects(todo, True, f"bundle {i.manifest.ref}")
    seen.update(todo)
    problems += store.check_tree(i)
    return problems


def _check_channel(store: Store, name: str, readable: set[str]) -> list[str]:
    try:
        state = store.read_channel(name)
    except ModelError as exc:
        return [str(exc)]
    problems = []
    for ref in state.stack:
        if ref.manifest not in readable:
            problems.append(f"channel {name}: {ref} points at a bundle that is not installed")
            continue
        m = store.get(ref.manifest).manifest
        if (m.bundle, m.version, m.channel) != (ref.bundle, ref.version, name):
            problems.append(f"channel {name}: {ref} does not match its manifest ({m.ref})")
    return problems


def repair_store(store: Store) -> list[str]:
    """Remove damaged objects and fetch every missing one again from its sources."""
    fixed: list[str] = []
    with store.writer():
        for i in store.installed():
            bad = {
                s: n
                for s, n in i.manifest.objects().items()
                if store.check_objects({s: n}, True, i.manifest.ref)
            }
            for s in bad:
                store.object_path(s).unlink(missing_ok=True)
            if not bad:
                continue
            txn = store.begin()
            try:
                ctx = StageContext(i.manifest, store, txn)
                sources = ArtifactSources()
                got = sources.stage(bad, ctx)
                txn.commit_objects(sorted(got))
            finally:
                txn.close()
            fixed += [f"{i.manifest.ref}: {i.manifest.describe(s)} fetched again" for s in got]
            for s in set(bad) - got:
                fixed.append(f"{i.manifest.ref}: {i.manifest.describe(s)} has no usable source")
    return fixed + repair_built(store)
