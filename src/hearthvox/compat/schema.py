"""The schema of ``compat_matrix.yaml``: typed records, validated with errors that name the spot.

A matrix is refused (:class:`~hearthvox.errors.ConfigError`) for an unknown key, a value of
the wrong type, a profile that can never match (a rule the probe can never satisfy, or an
earlier profile that already takes every device it would), and a variant naming a model
that ``models.lock`` does not have. The file's own comments describe every key.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from hearthvox import config as config_mod
from hearthvox.bundles.lock import LockFile
from hearthvox.compat.probe import FLAGS_OF_INTEREST
from hearthvox.errors import ConfigError

SCHEMA_VERSION = 1
STAGES: tuple[str, ...] = ("wake", "vad", "asr", "tts", "endpoint", "llm")
USER_LLM_KEYS = frozenset({"model", "backend", "url", "remote_model", "api_key_env"})
"""``[llm]`` keys a device profile may not set: the user's model, and whether what no
skill answers leaves the device."""
ARCHES = frozenset(
    {"x86_64", "amd64", "i686", "i386", "aarch64", "arm64", "armv7l", "armv6l", "riscv64"}
)
_X86 = frozenset({"x86_64", "amd64", "i686", "i386"})
_X86_FLAG_PREFIXES = ("sse", "avx", "fma", "f16c", "amx")
COMPUTE_TYPES = frozenset(
    {"default", "auto", "int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16",
     "float16", "bfloat16", "float32"}
)  # fmt: skip
GPU_ONLY_COMPUTE_TYPES = frozenset({"float16", "bfloat16", "int8_float16", "int8_bfloat16"})
FIGURES = frozenset({"asr_rtf", "asr_audio_s", "tts_first_audio_ms", "peak_rss_mb", "load_s"})

_TOP_KEYS = frozenset({"schema_version", "defaults", "profiles"})
_PROFILE_KEYS = frozenset(
    {"id", "description", "match", "variants", "cuda", "verified", "known_bad", "second_asr"}
)
_SECOND_ASR_KEYS = frozenset({"enabled", "reason"})
_MATCH_KEYS = frozenset(
    {"arch", "flags", "min_mem_mb", "max_mem_mb", "min_cores", "board", "l4t", "cuda",
     "providers"}
)  # fmt: skip
_VERIFIED_KEYS = frozenset(
    {"bundle", "version", "date", "device", "runtime", "variants", "figures", "notes"}
)
_KNOWN_BAD_KEYS = frozenset({"bundle", "versions", "runtime", "reason", "ref"})

Variants = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Match:
    """Rules a device must meet; every rule given must hold. No rules: any device."""

    arch: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    min_mem_mb: int | None = None
    max_mem_mb: int | None = None
    min_cores: int | None = None
    board: tuple[str, ...] = ()
    l4t: bool | None = None
    cuda: bool | None = None
    providers: tuple[str, ...] = ()

    @property
    def is_fallback(self) -> bool:
        return self == Match()


@dataclass(frozen=True)
class KnownBad:
    """A combination that fails on a profile: a bundle (versions), a runtime version, or both."""

    reason: str
    bundle: str = "*"  # fnmatch pattern on the bundle name
    versions: str = ""  # PEP 440 specifier on the bundle version; "" = every version
    runtime: Mapping[str, str] = field(default_factory=dict)  # distribution -> specifier
    ref: str = ""  # where the failure is documented


@dataclass(frozen=True)
class Verified:
    """One bundle version measured on a device of the profile (``hearthvox hw --record``)."""

    bundle: str
    version: str
    date: str
    device: str
    runtime: Mapping[str, str] = field(default_factory=dict)
    variants: Mapping[str, Any] = field(default_factory=dict)
    figures: Mapping[str, float] = field(default_factory=dict)
    notes: str = ""


@dataclass(frozen=True)
class SecondAsr:
    """Whether a profile runs the second ASR model (Whisper base), and why, in words."""

    enabled: bool
    reason: str


@dataclass(frozen=True)
class Profile:
    id: str
    description: str
    match: Match
    variants: Variants  # overrides over the matrix defaults
    cuda: Variants  # overrides applied when CTranslate2 sees a CUDA device
    verified: tuple[Verified, ...] = ()
    known_bad: tuple[KnownBad, ...] = ()
    second_asr: SecondAsr | None = None  # None: off, the profile does not turn it on


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


# ---------------------------------------------------------------- small validators


def _keys(raw: Mapping[Any, Any], known: frozenset[str], where: str) -> None:
    unknown = sorted(str(k) for k in set(raw) - known)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )


def _mapping(raw: object, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(raw).__name__}")
    return {str(k): v for k, v in raw.items()}


def _str(raw: object, where: str, *, empty: bool = False) -> str:
    if isinstance(raw, datetime.date):  # YAML reads an unquoted 2025-01-31 as a date
        return raw.isoformat()
    if not isinstance(raw, str) or (not empty and not raw.strip()):
        raise ConfigError(f"{where}: expected a non-empty string (quote it), got {raw!r}")
    return raw


def _str_list(raw: object, where: str) -> tuple[str, ...]:
    if isinstance(raw, str):
        return (raw,)
    if not isinstance(raw, list) or not all(isinstance(x, str) and x for x in raw):
        raise ConfigError(f"{where}: expected a list of strings, got {raw!r}")
    return tuple(raw)


def _opt(raw: object, where: str, kind: type[Any], minimum: int | None = None) -> Any:
    if raw is None:
        return None
    if not isinstance(raw, kind) or (kind is int and isinstance(raw, bool)):
        expected = "true or false" if kind is bool else "an integer"
        raise ConfigError(f"{where}: expected {expected}, got {raw!r}")
    if minimum is not None and raw < minimum:
        raise ConfigError(f"{where}: must be at least {minimum}, got {raw}")
    return raw


def _specifier(raw: object, where: str) -> str:
    text = _str(raw, where)
    try:
        SpecifierSet(text)
    except InvalidSpecifier as exc:
        raise ConfigError(f"{where}: {text!r} is not a version specifier like '>=1.2,<2'") from exc
    return text


def _str_map(raw: object, where: str, value: Callable[[object, str], str]) -> dict[str, str]:
    return {k: value(v, f"{where}.{k}") for k, v in _mapping(raw, where).items()}


# ---------------------------------------------------------------- match rules


def _is_x86_flag(flag: str) -> bool:
    return flag.startswith(_X86_FLAG_PREFIXES)


def never_matches(m: Match) -> str | None:
    """Why no device can meet *m* (a rule the probe never satisfies), or None."""
    for arch in m.arch:
        if arch not in ARCHES:
            return f"arch {arch!r} is not one the probe reports ({', '.join(sorted(ARCHES))})"
    for flag in m.flags:
        if flag not in FLAGS_OF_INTEREST:
            return f"flag {flag!r} is never reported by the probe ({', '.join(FLAGS_OF_INTEREST)})"
    if m.arch:
        x86_only = all(a in _X86 for a in m.arch)
        arm_only = not any(a in _X86 for a in m.arch)
        for flag in m.flags:
            if x86_only and not _is_x86_flag(flag) or arm_only and _is_x86_flag(flag):
                return f"flag {flag!r} does not exist on {' or '.join(m.arch)}"
        if m.l4t and x86_only:
            return "NVIDIA Jetson Linux (l4t: true) never runs on x86"
    if m.min_mem_mb is not None and m.max_mem_mb is not None and m.min_mem_mb > m.max_mem_mb:
        return f"min_mem_mb {m.min_mem_mb} is above max_mem_mb {m.max_mem_mb}"
    for provider in m.providers:
        if not provider.endswith("ExecutionProvider"):
            return f"provider {provider!r} is not an ONNX Runtime name (...ExecutionProvider)"
    return None


def covers(a: Match, b: Match) -> bool:
    """True when every device that meets *b* also meets *a* (so *a* first shadows *b*)."""
    if a.arch and not (b.arch and set(b.arch) <= set(a.arch)):
        return False
    if not set(a.flags) <= set(b.flags) or not set(a.providers) <= set(b.providers):
        return False
    if a.min_mem_mb is not None and (b.min_mem_mb is None or b.min_mem_mb < a.min_mem_mb):
        return False
    if a.max_mem_mb is not None and (b.max_mem_mb is None or b.max_mem_mb > a.max_mem_mb):
        return False
    if a.min_cores is not None and (b.min_cores is None or b.min_cores < a.min_cores):
        return False
    if a.board and not (
        b.board and all(any(x.lower() in y.lower() for x in a.board) for y in b.board)
    ):
        return False
    return all(
        getattr(a, key) is None or getattr(a, key) == getattr(b, key) for key in ("l4t", "cuda")
    )


def _match(raw: object, where: str) -> Match:
    raw = _mapping({} if raw is None else raw, where)
    _keys(raw, _MATCH_KEYS, where)
    m = Match(
        arch=tuple(a.lower() for a in _str_list(raw.get("arch", []), f"{where}.arch")),
        flags=tuple(f.lower() for f in _str_list(raw.get("flags", []), f"{where}.flags")),
        min_mem_mb=_opt(raw.get("min_mem_mb"), f"{where}.min_mem_mb", int, 0),
        max_mem_mb=_opt(raw.get("max_mem_mb"), f"{where}.max_mem_mb", int, 0),
        min_cores=_opt(raw.get("min_cores"), f"{where}.min_cores", int, 1),
        board=_str_list(raw.get("board", []), f"{where}.board"),
        l4t=_opt(raw.get("l4t"), f"{where}.l4t", bool),
        cuda=_opt(raw.get("cuda"), f"{where}.cuda", bool),
        providers=_str_list(raw.get("providers", []), f"{where}.providers"),
    )
    why = never_matches(m)
    if why:
        raise ConfigError(f"{where}: can never match: {why}")
    return m


# ---------------------------------------------------------------- variants


@dataclass(frozen=True)
class LockModels:
    """The model names a variant may use, from models.lock."""

    asr: frozenset[str]  # artifact ids: asr/whisper-tiny.en
    tts: frozenset[str]  # voice names: en_US-joe-medium (artifact tts/en_US-joe-medium)
    wake: frozenset[str]  # wake word names: hey_jarvis (artifact wake/hey_jarvis)
    origin: str

    @classmethod
    def of(cls, lock: LockFile) -> LockModels:
        features = {b.wake_features for b in lock.bundles.values()}
        return cls(
            asr=frozenset(a.id for a in lock.artifacts if a.kind == "asr"),
            tts=frozenset(a.id.split("/", 1)[-1] for a in lock.artifacts if a.kind == "tts"),
            wake=frozenset(  # wake/hey_jarvis -> hey_jarvis, as bundles.default names them
                a.id.rsplit("/", 1)[-1]
                for a in lock.artifacts
                if a.kind == "wake" and a.id not in features
            ),
            origin=lock.origin,
        )


def _check_model(name: str, known: frozenset[str], what: str, where: str, lock: str) -> None:
    if name not in known:
        raise ConfigError(
            f"{where}: {what} {name!r} is not in {lock} (it has: {', '.join(sorted(known))})"
        )


def _variants(raw: object, where: str, models: LockModels) -> Variants:
    out: Variants = {}
    for stage, settings in _mapping({} if raw is None else raw, where).items():
        if stage not in STAGES:
            raise ConfigError(f"{where}: unknown stage {stage!r} (stages: {', '.join(STAGES)})")
        settings = _mapping(settings, f"{where}.{stage}")
        if stage == "asr" and "second_model" in settings:
            raise ConfigError(
                f"{where}.asr: second_model is the user's switch; a profile says it with "
                f"second_asr: {{enabled: true|false, reason: ...}}"
            )
        if stage == "llm" and (own := sorted(USER_LLM_KEYS & set(settings))):
            raise ConfigError(
                f"{where}.llm: {own[0]} is the user's choice (the model, and whether a server "
                f"off the device is asked); a profile sets the budgets (context_tokens, "
                f"memory_mb, ...)"
            )
        checked = {k: v for k, v in settings.items() if not (stage == "asr" and k == "model")}
        try:  # the same keys, types and ranges as the [stage] table of config.toml
            config_mod.from_dict({stage: checked})
        except ConfigError as exc:
            raise ConfigError(f"{where}.{stage}: {exc}") from None
        if stage == "asr":
            if "model" in settings:
                model = _str(settings["model"], f"{where}.asr.model")
                _check_model(model, models.asr, "ASR model", f"{where}.asr", models.origin)
            ctype = settings.get("compute_type")
            if ctype is not None and ctype not in COMPUTE_TYPES:
                raise ConfigError(
                    f"{where}.asr.compute_type: {ctype!r} is not a CTranslate2 compute type "
                    f"({', '.join(sorted(COMPUTE_TYPES))})"
                )
        if stage == "tts" and "voice" in settings:
            _check_model(settings["voice"], models.tts, "voice", f"{where}.tts", models.origin)
        if stage == "wake":
            for name in settings.get("models", []):
                _check_model(name, models.wake, "wake model", f"{where}.wake", models.origin)
        out[stage] = settings
    return out


# ---------------------------------------------------------------- records


def _known_bad(raw: object, where: str) -> KnownBad:
    raw = _mapping(raw, where)
    _keys(raw, _KNOWN_BAD_KEYS, where)
    if "reason" not in raw:
        raise ConfigError(f"{where}: 'reason' is required (say what fails, in words)")
    entry = KnownBad(
        reason=_str(raw["reason"], f"{where}.reason"),
        bundle=_str(raw.get("bundle", "*"), f"{where}.bundle"),
        versions=_specifier(raw["versions"], f"{where}.versions") if "versions" in raw else "",
        runtime=_str_map(raw.get("runtime", {}), f"{where}.runtime", _specifier),
        ref=_str(raw.get("ref", ""), f"{where}.ref", empty=True),
    )
    if entry.bundle == "*" and not entry.versions and not entry.runtime:
        raise ConfigError(f"{where}: names no bundle, version or runtime, so it would refuse all")
    return entry


def _figure(raw: object, where: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw < 0:
        raise ConfigError(f"{where}: expected a number >= 0, got {raw!r}")
    return float(raw)


def _verified(raw: object, where: str) -> Verified:
    raw = _mapping(raw, where)
    _keys(raw, _VERIFIED_KEYS, where)
    for key in ("bundle", "version", "date", "device"):
        if key not in raw:
            raise ConfigError(f"{where}: {key!r} is required")
    figures = _mapping(raw.get("figures", {}), f"{where}.figures")
    _keys(figures, FIGURES, f"{where}.figures")
    return Verified(
        bundle=_str(raw["bundle"], f"{where}.bundle"),
        version=_str(raw["version"], f"{where}.version"),
        date=_str(raw["date"], f"{where}.date"),
        device=_str(raw["device"], f"{where}.device"),
        runtime=_str_map(raw.get("runtime", {}), f"{where}.runtime", _str),
        variants=_mapping(raw.get("variants", {}), f"{where}.variants"),
        figures={k: _figure(v, f"{where}.figures.{k}") for k, v in figures.items()},
        notes=_str(raw.get("notes", ""), f"{where}.notes", empty=True),
    )


def _second_asr(raw: object, where: str) -> SecondAsr | None:
    if raw is None:
        return None
    raw = _mapping(raw, where)
    _keys(raw, _SECOND_ASR_KEYS, where)
    if not isinstance(raw.get("enabled"), bool):
        raise ConfigError(f"{where}.enabled: expected true or false, got {raw.get('enabled')!r}")
    return SecondAsr(raw["enabled"], _str(raw.get("reason"), f"{where}.reason"))


def _list(raw: object, where: str) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: expected a list, got {type(raw).__name__}")
    return raw


def _profile(raw: object, origin: str, index: int, models: LockModels) -> Profile:
    where = f"{origin}: profile #{index + 1}"
    raw = _mapping(raw, where)
    pid = _str(raw.get("id"), f"{where}.id")
    where = f"{origin}: profile {pid!r}"
    _keys(raw, _PROFILE_KEYS, where)
    return Profile(
        id=pid,
        description=_str(raw.get("description", ""), f"{where}.description", empty=True),
        match=_match(raw.get("match"), f"{where}.match"),
        variants=_variants(raw.get("variants"), f"{where}.variants", models),
        cuda=_variants(raw.get("cuda"), f"{where}.cuda", models),
        verified=tuple(
            _verified(v, f"{where}.verified[{i}]")
            for i, v in enumerate(_list(raw.get("verified"), f"{where}.verified"))
        ),
        known_bad=tuple(
            _known_bad(v, f"{where}.known_bad[{i}]")
            for i, v in enumerate(_list(raw.get("known_bad"), f"{where}.known_bad"))
        ),
        second_asr=_second_asr(raw.get("second_asr"), f"{where}.second_asr"),
    )


def build_matrix(data: object, origin: str, models: LockModels) -> Matrix:
    """Validate parsed YAML *data* into a :class:`Matrix`."""
    data = _mapping(data, f"{origin}: the top level")
    _keys(data, _TOP_KEYS, origin)
    if data.get("schema_version") != SCHEMA_VERSION:
        raise ConfigError(
            f"{origin}: schema_version is {data.get('schema_version')!r}; "
            f"this hearthvox reads schema_version: {SCHEMA_VERSION}"
        )
    defaults = _variants(data.get("defaults"), f"{origin}: defaults", models)
    missing = [s for s in ("wake", "vad", "asr", "tts") if s not in defaults]
    if missing:
        raise ConfigError(f"{origin}: defaults lack stage(s) {', '.join(missing)}")
    raw_profiles = _list(data.get("profiles"), f"{origin}: profiles")
    if not raw_profiles:
        raise ConfigError(f"{origin}: 'profiles' must be a non-empty list")
    profiles = tuple(_profile(raw, origin, i, models) for i, raw in enumerate(raw_profiles))
    seen: dict[str, Profile] = {}
    for profile in profiles:
        if profile.id in seen:
            raise ConfigError(f"{origin}: profile id {profile.id!r} is used twice")
        for earlier in seen.values():
            if covers(earlier.match, profile.match):
                raise ConfigError(
                    f"{origin}: profile {profile.id!r} can never match: {earlier.id!r} comes "
                    "first and matches every device it would (move it up or narrow the other)"
                )
        seen[profile.id] = profile
    if not profiles[-1].match.is_fallback:
        raise ConfigError(
            f"{origin}: the last profile ({profiles[-1].id!r}) must be a fallback with an empty "
            "match, so that every device gets a profile"
        )
    return Matrix(SCHEMA_VERSION, defaults, profiles, origin)
