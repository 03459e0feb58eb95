"""The settings the engines run with: every source of a setting, in one order.

:func:`engine_config` is the one place that merges them. Highest first:

1. **the user**: a key set in ``config.toml`` (or on the command line, or by a
   reload) always wins;
2. **the bundle**: the stage settings of the active bundle's signed manifest;
3. **the compatibility matrix**: the variant of this device's profile
   (:mod:`hearthvox.compat.tuning`, which also moves ASR off a CUDA device that
   is not there);
4. **the defaults** of :mod:`hearthvox.config`.

Every caller that creates engines (the daemon, a reload, ``serve``, ``bench``,
``eval``, ``report``, ``say``) passes its config through :func:`engine_config`
first; the engine loaders of :mod:`hearthvox.engines` take the result as it is.
"""

from __future__ import annotations

import dataclasses

from hearthvox import config as config_mod
from hearthvox.bundles.default import ModelPaths
from hearthvox.bundles.manifest import STAGES
from hearthvox.compat.tuning import effective_config
from hearthvox.config import Config


def bundle_config(cfg: Config, models: ModelPaths) -> Config:
    """*cfg* with the bundle's stage settings for every key the user did not choose
    (steps 1 and 2 of the order above). The keys the bundle set are settled: the
    matrix does not override them, even where the bundle's value is the default."""
    chosen = config_mod.user_keys(cfg)
    settled: set[str] = set()
    for stage in STAGES:
        settings = {
            k: v for k, v in models.settings.get(stage, {}).items() if f"{stage}.{k}" not in chosen
        }
        if settings:
            checked = getattr(config_mod.from_dict({stage: settings}), stage)
            merged = dataclasses.replace(
                getattr(cfg, stage), **{k: getattr(checked, k) for k in settings}
            )
            cfg = dataclasses.replace(cfg, **{stage: merged})
            settled |= {f"{stage}.{k}" for k in settings}
    return dataclasses.replace(cfg, explicit=cfg.explicit | frozenset(settled))


def engine_config(cfg: Config, models: ModelPaths | None = None) -> Config:
    """The config the engines are created with: user > bundle (*models*' settings,
    when given) > matrix > default. Applying it to its own result changes nothing."""
    if models is not None:
        cfg = bundle_config(cfg, models)
    return effective_config(cfg)
