"""This device as ``hearthvox hw`` reports it: its profile, why, and what runs on it."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from hearthvox.bundles.lock import load_lock
from hearthvox.bundles.store import Store
from hearthvox.compat.accel import Accel
from hearthvox.compat.matrix import load_matrix, select_profile
from hearthvox.compat.probe import current_probe, probe
from hearthvox.compat.refusal import parse_ref, refusal
from hearthvox.compat.tuning import DeviceSetup, tune
from hearthvox.config import Config
from hearthvox.errors import HearthvoxError
from hearthvox.paths import user_paths

LIVE = Path("/")


def current_bundle(cfg: Config) -> str:
    """The configured channel's current bundle (``default-0.1.0@1``), read without side
    effects; before the first start, the default bundle the first start installs."""
    try:
        root = user_paths().data_dir
        if (root / "channels").is_dir():
            ref = Store(root).read_channel(cfg.models.channel).current
            if ref is not None:
                return str(ref)
    except HearthvoxError:
        pass
    return load_lock().bundle("default").id


def device_report(
    cfg: Config,
    *,
    root: Path = LIVE,
    matrix_path: Path | None = None,
    cuda_devices: int | None = None,
    bundle: str | None = None,
) -> tuple[DeviceSetup, dict[str, Any]]:
    """The ``hw --json`` object (and the setup behind it) for this device, or for the device
    files under *root* (whose runtime facts are then a CPU-only ONNX Runtime and
    *cuda_devices* CUDA devices, as given)."""
    if root.resolve() == LIVE and cuda_devices is None:
        found = current_probe()
    else:
        accel = Accel(("CPUExecutionProvider",), ("CPUExecutionProvider",), cuda_devices or 0)
        found = probe(root, accel=accel) if root.resolve() != LIVE else probe(accel=accel)
    matrix = load_matrix(matrix_path)
    setup = tune(cfg, select_profile(found, matrix), found)
    ref = bundle or current_bundle(cfg)
    bundle_id, version = parse_ref(ref) if "@" in ref else (ref, "")  # "": not installed yet
    refused = refusal(setup.selection, found, ["any"], bundle_id, version)
    verified = [
        dataclasses.asdict(v)
        for v in setup.selection.verified
        if v.bundle == bundle_id and (v.version == version or not version)
    ]
    report: dict[str, Any] = {
        "profile": setup.selection.profile,
        "description": setup.selection.description,
        "reasons": [*setup.selection.reasons, *setup.notes, *map(str, setup.overrides)],
        "rules": [dataclasses.asdict(r) for r in setup.selection.rules],
        "probe": dataclasses.asdict(found),
        "variants": setup.running(),
        "profile_variants": setup.selection.variants,
        "overrides": [dataclasses.asdict(o) for o in setup.overrides],
        "bundle": {"ref": ref, "refused": refused, "verified": verified},
        "second_asr": dataclasses.asdict(setup.second_asr()),
        "matrix": matrix.origin,
    }
    if root.resolve() != LIVE:
        report["root"] = str(root)
    return setup, report
