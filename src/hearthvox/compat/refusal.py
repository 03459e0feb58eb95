"""Refusing what will not run: a bundle this device's profile does not support, or a
combination the matrix records as known-bad on it, is refused before anything loads.

:func:`check_bundle_supported` is the entry point for installing or activating a bundle.
"""

from __future__ import annotations

import fnmatch
import importlib.metadata
from collections.abc import Mapping, Sequence

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from hearthvox.bundles.manifest import Manifest
from hearthvox.compat.matrix import Selection, load_matrix, select_profile
from hearthvox.compat.probe import Probe, current_probe
from hearthvox.compat.schema import KnownBad
from hearthvox.errors import IncompatibleBundleError

ANY = "any"


def installed_version(distribution: str) -> str | None:
    """The installed version of *distribution* (read from its metadata, never imported)."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def split_bundle(ref: str) -> tuple[str, str]:
    """``default-0.1.0`` -> (``default``, ``0.1.0``); a ref without a version -> (ref, "")."""
    name, sep, version = ref.rpartition("-")
    if sep and name:
        try:
            Version(version)
        except InvalidVersion:
            return ref, ""
        return name, version
    return ref, ""


def parse_ref(ref: str) -> tuple[str, str]:
    """A bundle reference as the store names it, ``default-0.1.0@3`` -> (``default-0.1.0``,
    ``3``); without ``@`` the version comes from the name (:func:`split_bundle`)."""
    bundle_id, sep, version = ref.rpartition("@")
    if sep and bundle_id:
        return bundle_id, version
    return ref, split_bundle(ref)[1]


def _in(version: str, spec: str) -> bool:
    try:
        return Version(version) in SpecifierSet(spec, prereleases=True)
    except InvalidVersion:
        return False


def known_bad_hit(
    entry: KnownBad, bundle_id: str, version: str, installed: Mapping[str, str | None]
) -> str | None:
    """The reason *entry* refuses this bundle with these runtimes, or None when it does not.

    ``bundle`` is matched against the id and the id without a version suffix
    (``default-0.1.0`` -> ``default``); ``versions`` against *version*, or the suffix
    when *version* is empty."""
    name, suffix = split_bundle(bundle_id)
    if not any(fnmatch.fnmatchcase(n, entry.bundle) for n in (bundle_id, name)):
        return None
    if entry.versions and not _in(version or suffix, entry.versions):
        return None
    found: list[str] = []
    for dist, spec in entry.runtime.items():
        have = installed.get(dist)
        if have is None or not _in(have, spec):
            return None
        found.append(f"{dist} {have} is installed")
    text = entry.reason + (f" ({'; '.join(found)})" if found else "")
    return text + (f" [{entry.ref}]" if entry.ref else "")


def _installed_for(entries: Sequence[KnownBad]) -> dict[str, str | None]:
    return {d: installed_version(d) for e in entries for d in e.runtime}


def refusal(
    selection: Selection,
    probe: Probe,
    hardware: Sequence[str],
    bundle_id: str,
    version: str,
    installed: Mapping[str, str | None] | None = None,
) -> str | None:
    """Why this device must not run the bundle (every reason, in words), or None."""
    what = f"bundle {bundle_id}"
    if version and not bundle_id.endswith(f"-{version}"):
        what += f" version {version}"
    reasons: list[str] = []
    if ANY not in hardware and not any(fnmatch.fnmatchcase(selection.profile, h) for h in hardware):
        listed = ", ".join(hardware) if hardware else "no hardware at all"
        reasons.append(
            f"it supports {listed}; this device is '{selection.profile}'"
            + (f" ({selection.description})" if selection.description else "")
        )
    if installed is None:
        installed = _installed_for(selection.known_bad)
    for entry in selection.known_bad:
        hit = known_bad_hit(entry, bundle_id, version, installed)
        if hit:
            reasons.append(f"known bad on '{selection.profile}': {hit}")
    if probe.runtime_crash:
        reasons.append(f"the model runtimes cannot run on this CPU: {probe.runtime_crash}")
    if not reasons:
        return None
    return f"{what} cannot run on this device: " + "; ".join(reasons)


def check_bundle_supported(hardware: Sequence[str], bundle_id: str, version: str) -> None:
    """Refuse (:class:`IncompatibleBundleError`, with the reason) a bundle this device must
    not run: its profile is not in *hardware* (unless *hardware* has ``"any"``; entries may
    be fnmatch patterns such as ``"rpi*"``), or the matrix lists this bundle/version, or an
    installed runtime version, as known-bad on the profile. The device is probed once per
    process; the matrix is the user copy when there is one."""
    probe = current_probe()
    selection = select_profile(probe, load_matrix())
    listed = [hardware] if isinstance(hardware, str) else list(hardware)
    why = refusal(selection, probe, listed, bundle_id, version)
    if why:
        raise IncompatibleBundleError(why)


def check_manifest(manifest: Manifest) -> None:
    """The device's hardware check of a bundle before it is installed or activated
    (:attr:`hearthvox.bundles.install.Policy.hardware`): :func:`check_bundle_supported`
    on the manifest's hardware list."""
    check_bundle_supported(list(manifest.hardware), manifest.bundle, str(manifest.version))
