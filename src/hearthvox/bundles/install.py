"""Install, activate and roll back bundles: every check first, then atomic switches.

A refusal (bad signature, unknown key, expired, lower version, wrong hardware,
hash or size mismatch, files mixed from two manifests, no disk space) happens
before anything visible in the store changes, and leaves every channel as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from hearthvox.bundles.channels import ChannelState, Ref
from hearthvox.bundles.download import Progress, partial_size
from hearthvox.bundles.fsutil import check_free_space, step
from hearthvox.bundles.manifest import Manifest, format_time, parse_manifest
from hearthvox.bundles.signing import TrustedKeys, open_envelope
from hearthvox.bundles.sources import ArtifactSources, ObjectSource, StageContext
from hearthvox.bundles.store import Installed, Store, manifest_sha
from hearthvox.errors import ModelError

HardwareCheck = Callable[[Manifest], None]
"""Refuses (raises a :class:`~hearthvox.errors.HearthvoxError`) a bundle this device must not
run; :func:`hearthvox.compat.refusal.check_manifest` is the one that knows the device."""


def built_here(manifest: Manifest) -> None:
    """The hardware check of the default bundle this device builds from its own installed
    packages (``hardware: any``): nothing to refuse before it is installed; the start
    refuses a known-bad one before loading it (:mod:`hearthvox.runtime`)."""


@dataclass(frozen=True)
class Policy:
    trusted: TrustedKeys
    tries: int  # health checks a newly activated bundle gets
    now: datetime
    hardware: HardwareCheck


def open_manifest(data: bytes, policy: Policy, what: str) -> Manifest:
    """Signature (a trusted key's), schema, then expiry."""
    manifest = parse_manifest(open_envelope(data, policy.trusted, what), what)
    if manifest.is_expired(policy.now):
        raise ModelError(
            f"{what} ({manifest.ref}) expired at {format_time(manifest.expires)}: refused "
            f"(ask its publisher for a fresh one)"
        )
    return manifest


def _check_version(state: ChannelState, manifest: Manifest) -> None:
    if manifest.version < state.highest_version:
        raise ModelError(
            f"{manifest.ref} has version {manifest.version}, lower than {state.highest_version}, "
            f"the highest channel {state.channel} has seen: refused (to go back on purpose, "
            f"use: hearthvox models rollback --channel {state.channel})"
        )


def _check_channel(manifest: Manifest, channel: str) -> None:
    if manifest.channel != channel:
        raise ModelError(
            f"{manifest.ref} is signed for channel {manifest.channel}, not {channel}: refused "
            f"(use --channel {manifest.channel})"
        )


@dataclass
class InstallResult:
    manifest: Manifest
    sha256: str
    fetched: int  # bytes staged
    reused: int  # objects already in the store
    state: ChannelState | None = None  # the channel, when activated
    notes: list[str] = field(default_factory=list)


def install_bundle(
    store: Store,
    data: bytes,
    source: ObjectSource | None,
    channel: str,
    policy: Policy,
    *,
    activate: bool = False,
    progress: Callable[[int], Progress] | None = None,
) -> InstallResult:
    """Verify the signed manifest *data*, fetch its missing objects, add it to the store."""
    manifest = open_manifest(data, policy, "the bundle manifest")
    _check_channel(manifest, channel)
    sha = manifest_sha(data)
    with store.writer():
        state = store.read_channel(channel)
        _check_version(state, manifest)
        installed = store.installed()
        for other in installed:
            if (
                other.manifest.ref == manifest.ref
                and other.sha256 != sha
                and not other.manifest.same_content(manifest)  # promoted to another channel
            ):
                raise ModelError(
                    f"{manifest.ref} is already installed with different content: refused "
                    f"(a publisher must raise the version for a new bundle)"
                )
        policy.hardware(manifest)
        needed = {s: n for s, n in manifest.objects().items() if not store.has_object(s, n)}
        to_fetch = sum(needed.values()) - sum(
            partial_size(store.downloads / f"{s}.part") for s in needed
        )
        check_free_space(store.root, max(to_fetch, 0) + len(data))
        result = InstallResult(
            manifest, sha, sum(needed.values()), len(manifest.objects()) - len(needed)
        )
        txn = store.begin()
        try:
            others = {
                f.sha256: f"file {a.id}/{f.name} of bundle {i.manifest.ref}"
                for i in installed
                if i.sha256 != sha
                for a in i.manifest.artifacts()
                for f in a.files
                if f.sha256 not in manifest.objects()
            }
            ctx = StageContext(manifest, store, txn, others)
            if progress is not None:
                ctx.progress = progress(max(to_fetch, 0))
            _stage_all(needed, source, ctx)
            txn.commit_objects(sorted(needed))
            txn.commit_bundle(data, manifest, sha)
        except BaseException:
            txn.abort()
            raise
        txn.close()
        if activate:
            result.state = _activate_locked(store, state, store.get(sha), policy)
    return result


def _stage_all(needed: dict[str, int], source: ObjectSource | None, ctx: StageContext) -> None:
    remaining = dict(needed)
    fallback = ArtifactSources()
    for src in (source, fallback):
        if src is None or not remaining:
            continue
        for s in src.stage(remaining, ctx):
            remaining.pop(s, None)
    if remaining:
        missing = ", ".join(ctx.manifest.describe(s) for s in sorted(remaining))
        details = "; ".join(fallback.problems[:4])
        where = f" from {source.label}" if source is not None else ""
        raise ModelError(
            f"cannot get every file of {ctx.manifest.ref}{where}: missing {missing}"
            + (f" ({details})" if details else "")
        )


# ---------------------------------------------------------------- activate / rollback


def find_installed(store: Store, channel: str, selector: str) -> Installed:
    """``BUNDLE@VERSION``, ``BUNDLE`` (its highest version) or a manifest sha256 prefix."""
    name, _, version = selector.partition("@")
    mine = [i for i in store.installed() if i.manifest.channel == channel]
    found = [
        i
        for i in mine
        if (i.manifest.bundle == name and (not version or str(i.manifest.version) == version))
        or (len(selector) >= 8 and i.sha256.startswith(selector))
    ]
    if not found:
        have = ", ".join(i.manifest.ref for i in mine) or "none"
        raise ModelError(
            f"no bundle {selector!r} is installed for channel {channel} (installed: {have}); "
            f"install it first with: hearthvox models install SOURCE --channel {channel}"
        )
    return max(found, key=lambda i: i.manifest.version)


def ref_of(installed: Installed) -> Ref:
    return Ref(installed.manifest.bundle, installed.manifest.version, installed.sha256)


def check_installed(store: Store, installed: Installed, policy: Policy) -> None:
    """Before switching to a bundle: its signature still checks out, its files are intact."""
    open_envelope(installed.data, policy.trusted, f"the installed manifest of {installed.sha256}")
    problems = store.check_objects(installed.manifest.objects(), False, installed.manifest.ref)
    problems += store.check_tree(installed)
    if problems:
        raise ModelError(
            f"{installed.manifest.ref} is damaged: {problems[0]}; refused (run: "
            f"hearthvox models verify)"
        )


def _activate_locked(
    store: Store, state: ChannelState, installed: Installed, policy: Policy
) -> ChannelState:
    what = f"the installed manifest of {installed.sha256}"
    manifest = open_manifest(installed.data, policy, what)
    _check_channel(manifest, state.channel)
    _check_version(state, manifest)
    policy.hardware(manifest)
    check_installed(store, installed, policy)
    if state.current is not None and state.current.manifest == installed.sha256:
        return state
    new = state.activate(ref_of(installed), policy.tries, policy.now)
    step("switch-channel")
    store.write_channel(new)
    return new


def activate_bundle(store: Store, channel: str, selector: str, policy: Policy) -> ChannelState:
    with store.writer():
        installed = find_installed(store, channel, selector)
        return _activate_locked(store, store.read_channel(channel), installed, policy)


def rollback_channel(
    store: Store, channel: str, to: str | None, policy: Policy
) -> tuple[ChannelState, ChannelState]:
    """Switch *channel* back (to its previous bundle, or to *to* from its history)."""
    with store.writer():
        old = store.read_channel(channel)
        target = ref_of(find_installed(store, channel, to)) if to else None
        new = old.rollback(target, policy.now, "rollback")
        assert new.current is not None
        check_installed(store, store.get(new.current.manifest), policy)
        step("switch-channel")
        store.write_channel(new)
        return old, new
