"""``compat_matrix.yaml``: load it, and choose a profile for a probed device, with reasons.

The matrix read is, in order: a path given by the caller, the user copy
``<config dir>/compat_matrix.yaml`` when it exists (``hearthvox hw --record`` writes it),
else the packaged ``hearthvox/data/compat_matrix.yaml`` (the repository's top-level
``compat_matrix.yaml`` is a symlink to it). The schema is in :mod:`hearthvox.compat.schema`
and in the packaged file's comments.
"""

from __future__ import annotations

import copy
import importlib.resources
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hearthvox.bundles.lock import LockFile, load_lock
from hearthvox.compat.probe import Probe
from hearthvox.compat.schema import (
    STAGES,
    KnownBad,
    LockModels,
    Match,
    Matrix,
    Profile,
    SecondAsr,
    Variants,
    Verified,
    build_matrix,
)
from hearthvox.errors import ConfigError, ModelError
from hearthvox.paths import Paths, user_paths

PACKAGED = "hearthvox/data/compat_matrix.yaml (packaged)"
# CTranslate2 compute types to try, best first, when the chosen one is not supported
_FALLBACK_TYPES = {
    "cpu": ("int8", "int8_float32", "float32"),
    "cuda": ("float16", "int8_float16", "int8", "int8_float32", "float32"),
}


# ---------------------------------------------------------------- loading


def user_matrix_path(paths: Paths | None = None) -> Path:
    """Where ``hearthvox hw --record`` keeps the user copy of the matrix."""
    return (paths or user_paths()).config_dir / "compat_matrix.yaml"


def packaged_matrix_text() -> str:
    resource = importlib.resources.files("hearthvox") / "data" / "compat_matrix.yaml"
    try:
        return resource.read_text("utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the packaged compat_matrix.yaml: {exc}") from exc


def matrix_source(path: Path | None = None) -> Path | None:
    """The file :func:`load_matrix` reads: *path*, the user copy if present, or None (packaged)."""
    if path is not None:
        return path
    user = user_matrix_path()
    return user if user.exists() else None


def load_matrix(path: Path | None = None, *, lock: LockFile | None = None) -> Matrix:
    """Read and validate the matrix from :func:`matrix_source`; model names are checked
    against *lock* (the packaged models.lock by default)."""
    source = matrix_source(path)
    if source is None:
        return parse_matrix(packaged_matrix_text(), PACKAGED, lock)
    try:
        text = source.read_text("utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read compatibility matrix {source}: {exc}") from exc
    return parse_matrix(text, str(source), lock)


def parse_matrix(text: str, origin: str = "<string>", lock: LockFile | None = None) -> Matrix:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{origin} is not valid YAML: {exc}") from exc
    try:
        models = LockModels.of(lock or load_lock())
    except ModelError as exc:
        raise ConfigError(f"{origin}: cannot check model names: {exc}") from exc
    return build_matrix(data, origin, models)


# ---------------------------------------------------------------- rules, in words


@dataclass(frozen=True)
class RuleCheck:
    """One rule of a profile's match, what it wants, what this device has."""

    rule: str
    wanted: str
    value: str
    ok: bool


def _gb(mb: int) -> str:
    return f"{mb / 1024:.1f} GB"


def _flag(flag: str) -> str:
    return flag.upper() if flag.startswith(("avx", "sse", "fma", "f16c", "amx")) else flag


def rule_checks(m: Match, p: Probe) -> list[RuleCheck]:
    """Every rule of *m* against *p*, in the order of the schema."""
    out: list[RuleCheck] = []
    if m.arch:
        ok = p.arch.lower() in m.arch
        out.append(RuleCheck("arch", " or ".join(m.arch), p.arch, ok))
    if m.flags:
        lacking = [_flag(f) for f in m.flags if f not in p.flags]
        value = (
            f"lacks {', '.join(lacking)}" if lacking else "has " + ", ".join(map(_flag, m.flags))
        )
        out.append(RuleCheck("flags", ", ".join(_flag(f) for f in m.flags), value, not lacking))
    mem = f"{_gb(p.mem_total_mb)} RAM" if p.mem_total_mb is not None else "unknown RAM"
    if m.min_mem_mb is not None:
        ok = p.mem_total_mb is not None and p.mem_total_mb >= m.min_mem_mb
        out.append(RuleCheck("min_mem_mb", f"at least {_gb(m.min_mem_mb)} RAM", mem, ok))
    if m.max_mem_mb is not None:
        ok = p.mem_total_mb is not None and p.mem_total_mb <= m.max_mem_mb
        out.append(RuleCheck("max_mem_mb", f"at most {_gb(m.max_mem_mb)} RAM", mem, ok))
    if m.min_cores is not None:
        ok = p.cores >= m.min_cores
        out.append(RuleCheck("min_cores", f"at least {m.min_cores}", f"{p.cores} cores", ok))
    if m.board:
        ok = p.board is not None and any(b.lower() in p.board.lower() for b in m.board)
        value = repr(p.board) if p.board else "no board model"
        out.append(RuleCheck("board", " or ".join(map(repr, m.board)), value, ok))
    if m.l4t is not None:
        value = f"L4T {p.l4t_release}" if p.l4t_release else "no /etc/nv_tegra_release"
        wanted = "NVIDIA Jetson Linux" if m.l4t else "not Jetson Linux"
        out.append(RuleCheck("l4t", wanted, value, (p.l4t_release is not None) == m.l4t))
    if m.cuda is not None:
        value = f"{p.cuda_devices} CUDA device(s)"
        wanted = "a CUDA device" if m.cuda else "no CUDA device"
        out.append(RuleCheck("cuda", wanted, value, (p.cuda_devices > 0) == m.cuda))
    if m.providers:
        ok = all(x in p.onnx_providers for x in m.providers)
        value = "a session gets " + (", ".join(p.onnx_providers) or "no provider")
        out.append(RuleCheck("providers", ", ".join(m.providers), value, ok))
    return out


# ---------------------------------------------------------------- selection


@dataclass(frozen=True)
class Selection:
    profile: str
    reasons: list[str]
    variants: Variants
    description: str = ""
    rules: list[RuleCheck] = field(default_factory=list)  # the chosen profile's
    verified: list[Verified] = field(default_factory=list)
    known_bad: list[KnownBad] = field(default_factory=list)
    matrix: str = ""  # where the matrix was read from
    second_asr: SecondAsr = SecondAsr(False, "")  # the profile's choice (the user may override)


SECOND_ASR_MODEL = "asr/whisper-base"  # hearthvox.bundles.optional.SECOND_ASR (no import: layers)


def profile_second_asr(profile: Profile) -> SecondAsr:
    """*profile*'s choice for the second ASR model; off, with a reason, when it names none."""
    if profile.second_asr is not None:
        return profile.second_asr
    return SecondAsr(False, f"profile '{profile.id}' does not turn it on (not measured there)")


def merge(base: Variants, over: Variants) -> Variants:
    out = copy.deepcopy(base)
    for stage, settings in over.items():
        out.setdefault(stage, {}).update(copy.deepcopy(settings))
    return out


def asr_place(asr: dict[str, Any]) -> str:
    """``CPU int8`` / ``CUDA float16``."""
    return f"{str(asr.get('device', 'cpu')).upper()} {asr.get('compute_type', '')}".rstrip()


def no_cuda(p: Probe) -> str:
    """Why there is no CUDA, in words."""
    if p.cuda_error:
        return f"CTranslate2 cannot use CUDA ({p.cuda_error})"
    return "CTranslate2 sees no CUDA device"


def fit_compute_type(device: str, compute_type: str, p: Probe) -> tuple[str, str | None]:
    """*compute_type*, or the best one CTranslate2 supports on *device* here, with a reason."""
    known = p.cuda_compute_types if device == "cuda" else p.cpu_compute_types
    if not known or compute_type in known or compute_type in ("default", "auto"):
        return compute_type, None
    for candidate in _FALLBACK_TYPES.get(device, ()):
        if candidate in known:
            return candidate, (
                f"CTranslate2 cannot run {compute_type} on this {device.upper()} "
                f"(it can: {', '.join(known)}): ASR uses {candidate}"
            )
    return compute_type, None


def _choose(profiles: tuple[Profile, ...], p: Probe) -> tuple[Profile, list[str]]:
    reasons: list[str] = []
    for profile in profiles:
        checks = rule_checks(profile.match, p)
        failed = [c for c in checks if not c.ok]
        if not failed:
            if profile.match.is_fallback:
                reasons.append(
                    f"no specific profile fits this {p.arch}; falling back to '{profile.id}'"
                )
            else:
                rules = "; ".join(f"{c.rule}: {c.value} (wants {c.wanted})" for c in checks)
                reasons.append(f"'{profile.id}' matches: {rules}")
            return profile, reasons
        misses = "; ".join(f"{c.rule}: wants {c.wanted}, this device: {c.value}" for c in failed)
        reasons.append(f"'{profile.id}' does not fit: {misses}")
    raise ConfigError("no profile matches this device; the matrix needs a fallback profile")


def select_profile(probe: Probe, matrix: Matrix) -> Selection:
    """The first profile of *matrix* whose match holds for *probe*, with reasons in words."""
    chosen, reasons = _choose(matrix.profiles, probe)
    variants = merge(matrix.defaults, chosen.variants)
    cpu = asr_place(variants["asr"])
    if chosen.cuda and probe.cuda_devices > 0:
        variants = merge(variants, chosen.cuda)
        reasons.append(
            f"CUDA available ({probe.cuda_devices} device(s)): ASR runs on "
            f"{asr_place(variants['asr'])}"
        )
    elif chosen.cuda:
        wanted = asr_place(merge(variants, chosen.cuda)["asr"])
        reasons.append(
            f"'{chosen.id}' has a CUDA variant ({wanted}), but {no_cuda(probe)}: "
            f"falling back to the CPU variant, {cpu}"
        )
    elif probe.cuda_devices > 0:
        reasons.append(f"CUDA available but '{chosen.id}' has no CUDA variant: ASR stays on {cpu}")
    else:
        reasons.append(f"no CUDA device: ASR runs on {cpu}")

    asr = variants["asr"]
    fitted, why_type = fit_compute_type(
        str(asr.get("device", "cpu")), str(asr.get("compute_type", "default")), probe
    )
    if why_type:
        asr["compute_type"] = fitted
        reasons.append(why_type)

    capped = []
    for stage in STAGES:
        threads = variants.get(stage, {}).get("threads")
        if isinstance(threads, int) and threads > probe.cores:
            variants[stage]["threads"] = max(1, probe.cores)
            capped.append(f"{stage} {threads}->{max(1, probe.cores)}")
    if capped:
        reasons.append(
            f"only {probe.cores} core(s) available: threads capped ({', '.join(capped)})"
        )
    second = profile_second_asr(chosen)
    reasons.append(
        f"second ASR model ({SECOND_ASR_MODEL}): {'on' if second.enabled else 'off'}: "
        f"{second.reason}"
    )
    return Selection(
        profile=chosen.id,
        reasons=reasons,
        variants=variants,
        description=chosen.description,
        rules=rule_checks(chosen.match, probe),
        verified=list(chosen.verified),
        known_bad=list(chosen.known_bad),
        matrix=matrix.origin,
        second_asr=second,
    )
