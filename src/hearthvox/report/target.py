"""Which bundle the report measures: ``--bundle``, ``--channel`` or the configured channel."""

from __future__ import annotations

from dataclasses import dataclass

from hearthvox.bundles import active
from hearthvox.bundles.default import ModelPaths
from hearthvox.bundles.install import find_installed
from hearthvox.bundles.manifest import CHANNELS
from hearthvox.bundles.store import Store
from hearthvox.config import Config
from hearthvox.errors import ModelError
from hearthvox.settings import engine_config


@dataclass(frozen=True)
class Target:
    models: ModelPaths
    cfg: Config
    """The config the engines run with: the bundle's settings, the device's variant, the
    user's keys."""
    channel: str


def resolve(cfg: Config, bundle: str | None = None, channel: str | None = None) -> Target:
    """``bundle`` (NAME[@VERSION], of ``channel`` or of any channel), else the current bundle
    of ``channel`` (default: ``[models] channel``); signature and files checked."""
    store = active.open_store()
    active.ensure_initialised(store, cfg)
    if bundle:
        return _installed(cfg, store, bundle, channel)
    name = channel or cfg.models.channel
    current = store.read_channel(name).current
    if current is None:
        raise ModelError(
            f"channel {name} has no bundle to report on; install one with: "
            f"hearthvox models install SOURCE --channel {name} --activate"
        )
    models = active.installed_paths(store, cfg, store.get(current.manifest), name)
    return Target(models, _run_cfg(cfg, models), name)


def _installed(cfg: Config, store: Store, bundle: str, channel: str | None) -> Target:
    for name in [channel] if channel else list(CHANNELS):
        try:
            installed = find_installed(store, name, bundle)
        except ModelError:
            continue
        models = active.installed_paths(store, cfg, installed, installed.manifest.channel)
        return Target(models, _run_cfg(cfg, models), installed.manifest.channel)
    have = ", ".join(sorted({i.manifest.ref for i in store.installed()})) or "none"
    raise ModelError(f"no bundle {bundle!r} is installed (installed: {have})")


def _run_cfg(cfg: Config, models: ModelPaths) -> Config:
    return engine_config(cfg, models)
