"""The config the engines run with: the selected profile's variants, under the user's keys.

A key the user chose in ``config.toml`` wins over the matrix (and is listed as an override);
every other key of ``[wake]``, ``[vad]``, ``[asr]``, ``[tts]`` and ``[endpoint]`` that the
variant names takes the variant's value. One exception keeps the daemon alive: ASR asked on
CUDA (by the user) on a device without CUDA falls back to the CPU, and says so.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hearthvox import config as config_mod
from hearthvox.compat.matrix import (
    SECOND_ASR_MODEL,
    Selection,
    fit_compute_type,
    load_matrix,
    matrix_source,
    no_cuda,
    select_profile,
)
from hearthvox.compat.probe import Probe, current_probe
from hearthvox.compat.schema import GPU_ONLY_COMPUTE_TYPES, STAGES, Matrix, Variants
from hearthvox.config import Config


@dataclass(frozen=True)
class Override:
    """A key the user's config sets to something else than the matrix's variant."""

    key: str  # "asr.threads"
    matrix: Any
    config: Any

    def __str__(self) -> str:
        return f"your config sets {self.key} = {self.config!r} (the profile says {self.matrix!r})"


@dataclass(frozen=True)
class DeviceSetup:
    """What hearthvox runs on this device, and why."""

    probe: Probe
    selection: Selection
    cfg: Config  # the config the engines are created with
    overrides: tuple[Override, ...]
    notes: tuple[str, ...]  # what the user's config asked that the device cannot do

    def second_asr(self) -> SecondAsrChoice:
        """Whether the second ASR model runs here: ``[asr] second_model`` of the user's config
        (``on``/``off``), else (``auto``) the profile's choice, with the reason."""
        return second_asr_choice(self.cfg, self.selection)

    def running(self) -> Variants:
        """The variants as they run: the profile's keys, with the tuned config's values."""
        out: Variants = {}
        for stage in STAGES:
            section = getattr(self.cfg, stage)
            out[stage] = {
                key: _plain(getattr(section, key, value))
                for key, value in self.selection.variants.get(stage, {}).items()
            }
        return out


@dataclass(frozen=True)
class SecondAsrChoice:
    enabled: bool
    reason: str
    by: str  # "profile" or "config"
    model: str = SECOND_ASR_MODEL


def second_asr_choice(cfg: Config, selection: Selection) -> SecondAsrChoice:
    """The second ASR model on or off for *cfg* on the device of *selection*, and why."""
    profile = selection.second_asr
    setting = cfg.asr.second_model
    if setting == "auto":
        return SecondAsrChoice(profile.enabled, profile.reason, "profile")
    said = "on" if profile.enabled else "off"
    return SecondAsrChoice(
        setting == "on",
        f"your config sets [asr] second_model = {setting!r} (profile '{selection.profile}' "
        f"says {said}: {profile.reason})",
        "config",
    )


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _apply_variants(cfg: Config, variants: Variants) -> tuple[Config, list[Override]]:
    chosen = config_mod.user_keys(cfg)
    overrides: list[Override] = []
    sections: dict[str, Any] = {}
    applied: set[str] = set()
    for stage in STAGES:
        wanted = {k: v for k, v in variants.get(stage, {}).items() if f"{stage}.{k}" != "asr.model"}
        current = getattr(cfg, stage)
        take: dict[str, Any] = {}
        for key, value in wanted.items():
            name = f"{stage}.{key}"
            if name in chosen:
                if _plain(getattr(current, key)) != value:
                    overrides.append(Override(name, value, _plain(getattr(current, key))))
            else:
                take[key] = value
                applied.add(name)
        if take:  # coerced and validated exactly as config.toml's table would be
            typed = getattr(config_mod.from_dict({stage: take}), stage)
            sections[stage] = dataclasses.replace(current, **{k: getattr(typed, k) for k in take})
    tuned = dataclasses.replace(cfg, **sections, explicit=cfg.explicit | frozenset(applied))
    return tuned, overrides


def _fit_asr(cfg: Config, selection: Selection, probe: Probe) -> tuple[Config, list[str]]:
    asr, notes = cfg.asr, []
    device, ctype = asr.device, asr.compute_type
    if device == "auto":
        device = "cuda" if probe.cuda_devices > 0 else "cpu"
        notes.append(f"your config says device = 'auto': ASR runs on {device.upper()}")
    elif device == "cuda" and probe.cuda_devices == 0:
        device = "cpu"
        if ctype in GPU_ONLY_COMPUTE_TYPES:
            ctype = str(selection.variants["asr"].get("compute_type", "int8"))
            if ctype in GPU_ONLY_COMPUTE_TYPES:
                ctype = "int8"
        notes.append(
            f"your config asks for ASR on CUDA, but {no_cuda(probe)}: "
            f"falling back to the CPU variant, CPU {ctype}"
        )
    ctype, why_type = fit_compute_type(device, ctype, probe)
    if why_type:
        notes.append(why_type)
    if (device, ctype) == (asr.device, asr.compute_type):
        return cfg, notes
    fitted = dataclasses.replace(asr, device=device, compute_type=ctype)
    return dataclasses.replace(cfg, asr=fitted), notes


def tune(cfg: Config, selection: Selection, probe: Probe) -> DeviceSetup:
    """Apply *selection* to *cfg* under the user's keys (see the module docstring)."""
    tuned, overrides = _apply_variants(cfg, selection.variants)
    tuned, notes = _fit_asr(tuned, selection, probe)
    return DeviceSetup(probe, selection, tuned, tuple(overrides), tuple(notes))


def device_setup(
    cfg: Config, *, probe: Probe | None = None, matrix: Matrix | None = None
) -> DeviceSetup:
    """Probe (once per process), select a profile and tune *cfg* for this device."""
    probe = probe or current_probe()
    selection = select_profile(probe, matrix or load_matrix())
    return tune(cfg, selection, probe)


@functools.lru_cache(maxsize=16)
def _cached(cfg: Config, explicit: frozenset[str], source: Path | None, mtime: float) -> Config:
    return device_setup(cfg).cfg


def effective_config(cfg: Config) -> Config:
    """*cfg* tuned for this device (cached; applying it to its own result changes nothing)."""
    source = matrix_source()
    mtime = source.stat().st_mtime if source is not None and source.exists() else 0.0
    return _cached(cfg, cfg.explicit, source, mtime)
