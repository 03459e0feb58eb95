"""``compat_matrix.yaml``: hardware profiles -> model variants, and choosing one with reasons.

The schema is described in the packaged file's comments (``hearthvox/data/compat_matrix.yaml``;
the repository's top-level ``compat_matrix.yaml`` is a symlink to it).
"""

from __future__ import annotations

import copy
import importlib.resources
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hearthvox.compat.probe import Probe
from hearthvox.errors import ConfigError

STAGES: tuple[str, ...] = ("wake", "vad", "asr", "tts")
SCHEMA_VERSION = 1
_MATCH_KEYS = frozenset(
    {"arch", "flags", "min_mem_mb", "max_mem_mb", "min_cores", "board", "l4t", "cuda"}
)
_PROFILE_KEYS = frozenset({"id", "description", "match", "variants", "cuda", "verified"})

Variants = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Match:
    arch: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    min_mem_mb: int | None = None
    max_mem_mb: int | None = None
    min_cores: int | None = None
    board: tuple[str, ...] = ()
    l4t: bool | None = None
    cuda: bool | None = None

    @property
    def is_fallback(self) -> bool:
        return self == Match()


@dataclass(frozen=True)
class Profile:
    id: str
    description: str
    match: Match
    variants: Variants  # overrides over the matrix defaults
    cuda: Variants  # overrides applied when a CUDA device is present
    verified: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class Matrix:
    schema_version: int
    defaults: Variants
    profiles: tuple[Profile, ...]
    origin: str

    def profile(self, profile_id: str) -> Profile:
        for p in self.profiles:
            if p.id == profile_id:
                return p
        raise ConfigError(f"{self.origin}: no profile {profile_id!r}")


@dataclass(frozen=True)
class Selection:
    profile: str
    reasons: list[str]
    variants: dict[str, dict[str, Any]]
    description: str = ""
    verified: list[dict[str, Any]] = field(default_factory=list)


# ---------------------------------------------------------------- loading


def load_matrix(path: Path | None = None) -> Matrix:
    """Read and validate a compatibility matrix; the packaged copy when *path* is None."""
    if path is None:
        origin = "hearthvox/data/compat_matrix.yaml (packaged)"
        resource = importlib.resources.files("hearthvox") / "data" / "compat_matrix.yaml"
        try:
            text = resource.read_text("utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read the packaged compat_matrix.yaml: {exc}") from exc
    else:
        origin = str(path)
        try:
            text = path.read_text("utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read compatibility matrix {path}: {exc}") from exc
    return parse_matrix(text, origin)


def parse_matrix(text: str, origin: str = "<string>") -> Matrix:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{origin} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: expected a mapping at the top level")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise ConfigError(
            f"{origin}: schema_version is {data.get('schema_version')!r}; "
            f"this hearthvox reads schema_version: {SCHEMA_VERSION}"
        )
    defaults = _variants(data.get("defaults"), f"{origin}: defaults")
    missing = [s for s in STAGES if s not in defaults]
    if missing:
        raise ConfigError(f"{origin}: defaults lack stage(s) {', '.join(missing)}")
    raw_profiles = data.get("profiles")
    if not isinstance(raw_profiles, list) or not raw_profiles:
        raise ConfigError(f"{origin}: 'profiles' must be a non-empty list")
    profiles = tuple(_profile(raw, origin, i) for i, raw in enumerate(raw_profiles))
    ids = [p.id for p in profiles]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{origin}: profile ids repeat: {ids}")
    return Matrix(SCHEMA_VERSION, defaults, profiles, origin)


def _variants(raw: object, where: str) -> Variants:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of stage -> settings")
    out: Variants = {}
    for stage, settings in raw.items():
        if stage not in STAGES:
            raise ConfigError(f"{where}: unknown stage {stage!r} (stages: {', '.join(STAGES)})")
        if not isinstance(settings, dict):
            raise ConfigError(f"{where}.{stage}: expected a mapping of settings")
        out[stage] = {str(k): v for k, v in settings.items()}
    return out


def _str_list(raw: object, where: str) -> tuple[str, ...]:
    if isinstance(raw, str):
        return (raw,)
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise ConfigError(f"{where}: expected a list of strings")
    return tuple(raw)


def _opt_int(raw: object, where: str) -> int | None:
    if raw is None:
        return None
    if not isinstance(raw, int) or isinstance(raw, bool):
        raise ConfigError(f"{where}: expected an integer")
    return raw


def _opt_bool(raw: object, where: str) -> bool | None:
    if raw is None or isinstance(raw, bool):
        return raw
    raise ConfigError(f"{where}: expected true or false")


def _match(raw: object, where: str) -> Match:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping")
    unknown = set(raw) - _MATCH_KEYS
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))} "
            f"(known: {', '.join(sorted(_MATCH_KEYS))})"
        )
    return Match(
        arch=_str_list(raw.get("arch", []), f"{where}.arch"),
        flags=_str_list(raw.get("flags", []), f"{where}.flags"),
        min_mem_mb=_opt_int(raw.get("min_mem_mb"), f"{where}.min_mem_mb"),
        max_mem_mb=_opt_int(raw.get("max_mem_mb"), f"{where}.max_mem_mb"),
        min_cores=_opt_int(raw.get("min_cores"), f"{where}.min_cores"),
        board=_str_list(raw.get("board", []), f"{where}.board"),
        l4t=_opt_bool(raw.get("l4t"), f"{where}.l4t"),
        cuda=_opt_bool(raw.get("cuda"), f"{where}.cuda"),
    )


def _profile(raw: object, origin: str, index: int) -> Profile:
    where = f"{origin}: profile #{index + 1}"
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not raw["id"]:
        raise ConfigError(f"{where}: expected a mapping with a non-empty 'id'")
    where = f"{origin}: profile {raw['id']!r}"
    unknown = set(raw) - _PROFILE_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    verified = raw.get("verified") or []
    if not isinstance(verified, list) or not all(isinstance(v, dict) for v in verified):
        raise ConfigError(f"{where}.verified: expected a list of mappings")
    return Profile(
        id=raw["id"],
        description=str(raw.get("description", "")),
        match=_match(raw.get("match"), f"{where}.match"),
        variants=_variants(raw.get("variants"), f"{where}.variants"),
        cuda=_variants(raw.get("cuda"), f"{where}.cuda"),
        verified=tuple(verified),
    )


# ---------------------------------------------------------------- selection


def _gb(mb: int) -> str:
    return f"{mb // 1024} GB" if mb >= 10 * 1024 else f"{mb / 1024:.1f} GB"


def _flag(flag: str) -> str:
    return flag.upper() if flag.startswith(("avx", "sse", "fma", "f16c")) else flag


def _misses(m: Match, p: Probe) -> list[str]:
    """Why *p* does not fit *m*, one phrase per failed condition (empty: it fits)."""
    out: list[str] = []
    if m.arch and p.arch.lower() not in {a.lower() for a in m.arch}:
        out.append(f"needs {' or '.join(m.arch)}, this is {p.arch}")
    lacking = [f for f in m.flags if f not in p.flags]
    if lacking:
        out.append(f"needs {', '.join(_flag(f) for f in lacking)}")
    if m.min_mem_mb is not None and (p.mem_total_mb or 0) < m.min_mem_mb:
        have = _gb(p.mem_total_mb) if p.mem_total_mb is not None else "unknown"
        out.append(f"needs at least {_gb(m.min_mem_mb)} RAM, this has {have}")
    if m.max_mem_mb is not None and (p.mem_total_mb is None or p.mem_total_mb > m.max_mem_mb):
        out.append(f"is for at most {_gb(m.max_mem_mb)} RAM")
    if m.min_cores is not None and p.cores < m.min_cores:
        out.append(f"needs at least {m.min_cores} cores, this has {p.cores}")
    if m.board and not (p.board and any(b.lower() in p.board.lower() for b in m.board)):
        out.append(f"needs a {' or '.join(m.board)} board, this is {p.board or 'no known board'}")
    if m.l4t is not None and (p.l4t_release is not None) != m.l4t:
        out.append("needs NVIDIA Jetson Linux" if m.l4t else "is not for Jetson")
    if m.cuda is not None and (p.cuda_devices > 0) != m.cuda:
        out.append("needs a CUDA device" if m.cuda else "is for devices without CUDA")
    return out


def _describe(p: Probe, m: Match) -> str:
    text = p.arch
    if p.board:
        text += f" ({p.board})"
    flags = [_flag(f) for f in m.flags]
    extras = []
    if flags:
        extras.append(" and ".join(flags) if len(flags) < 3 else ", ".join(flags))
    if m.cuda:
        extras.append(f"{p.cuda_devices} CUDA device(s)")
    if p.mem_total_mb is not None:
        extras.append(f"{_gb(p.mem_total_mb)} RAM")
    if extras:
        text += " with " + " and ".join(extras)
    return text


def _merge(base: Variants, over: Variants) -> Variants:
    out = copy.deepcopy(base)
    for stage, settings in over.items():
        out.setdefault(stage, {}).update(copy.deepcopy(settings))
    return out


def select_profile(probe: Probe, matrix: Matrix) -> Selection:
    """The first profile of *matrix* whose match holds for *probe*, with reasons in words."""
    reasons: list[str] = []
    chosen: Profile | None = None
    for profile in matrix.profiles:
        misses = _misses(profile.match, probe)
        if not misses:
            chosen = profile
            break
        reasons.append(f"'{profile.id}' does not fit: it " + "; it ".join(misses))
    if chosen is None:
        raise ConfigError(
            f"{matrix.origin}: no profile matches this device ({probe.arch}, "
            f"{probe.cores} cores); add a fallback profile with an empty match"
        )
    if chosen.match.is_fallback:
        if reasons:
            reasons.append(
                f"no specific profile fits this {probe.arch}; falling back to '{chosen.id}'"
            )
        else:
            reasons.append(f"'{chosen.id}' matches any device")
    else:
        reasons.append(f"{_describe(probe, chosen.match)} matches '{chosen.id}'")

    variants = _merge(matrix.defaults, chosen.variants)
    asr = variants["asr"]
    if probe.cuda_devices > 0 and chosen.cuda:
        variants = _merge(variants, chosen.cuda)
        asr = variants["asr"]
        reasons.append(
            f"CUDA available ({probe.cuda_devices} device(s)): ASR runs on "
            f"{str(asr.get('device', 'cuda')).upper()} {asr.get('compute_type', '')}".rstrip()
        )
    else:
        where = f"{str(asr.get('device', 'cpu')).upper()} {asr.get('compute_type', '')}".rstrip()
        if probe.cuda_devices > 0:
            reasons.append(
                f"CUDA available but '{chosen.id}' has no CUDA variant: ASR stays on {where}"
            )
        elif probe.cuda_error:
            reasons.append(
                f"CUDA not available (CTranslate2: {probe.cuda_error}): ASR stays on {where}"
            )
        else:
            reasons.append(f"CUDA not available: ASR stays on {where}")

    capped = []
    for stage in STAGES:
        threads = variants[stage].get("threads")
        if isinstance(threads, int) and not isinstance(threads, bool) and threads > probe.cores:
            variants[stage]["threads"] = max(1, probe.cores)
            capped.append(f"{stage} {threads}->{max(1, probe.cores)}")
    if capped:
        reasons.append(
            f"only {probe.cores} core(s) available: threads capped ({', '.join(capped)})"
        )
    return Selection(
        profile=chosen.id,
        reasons=reasons,
        variants=variants,
        description=chosen.description,
        verified=[dict(v) for v in chosen.verified],
    )
