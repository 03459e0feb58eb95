"""The allowed range of every number in the config, and the one function that checks it.

``config.toml``, a bundle's stage settings and the compatibility matrix's variants all
go through :func:`check_number`, so a value that a user may not set cannot reach the
engines from a signed bundle either. Every number must be finite and inside its range;
the error names the key, the value and the range, on one line. Thread counts have a
fixed ceiling here; the user's own config is also held to this device's CPU count
(:func:`check_device`), while the matrix and bundles are capped to it at selection.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from hearthvox.errors import ConfigError

MAX_THREADS = 64
"""Ceiling of every ``threads`` key before the CPU count is known."""
PIPELINE_RATES_HZ = (16000,)
"""The engines (openWakeWord, Silero VAD, Whisper) all run at 16 kHz."""


@dataclass(frozen=True)
class Range:
    lo: float
    hi: float
    lo_open: bool = False
    """``lo`` itself is not allowed (a value must be greater than it)."""
    choices: tuple[float, ...] = ()

    def allows(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.choices:
            return value in self.choices
        above = value > self.lo if self.lo_open else value >= self.lo
        return above and value <= self.hi

    def describe(self) -> str:
        if self.choices:
            return "one of " + ", ".join(_num(c) for c in self.choices)
        if self.lo_open and (self.lo, self.hi) == (0, 1):
            return "between 0 and 1 (greater than 0, at most 1)"
        if self.lo_open:
            return f"greater than {_num(self.lo)} and at most {_num(self.hi)}"
        if self.lo == 1 and self.hi > 1:  # counts: "greater than 0" reads better than "from 1"
            return f"greater than 0 and at most {_num(self.hi)}"
        if self.lo == 0:
            return f"0 or more and at most {_num(self.hi)}"
        return f"from {_num(self.lo)} to {_num(self.hi)}"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _pos(hi: float) -> Range:
    return Range(0, hi, lo_open=True)


_UNIT_OPEN = Range(0, 1, lo_open=True)
_SHARE = Range(0, 1)
_THREADS = Range(1, MAX_THREADS)
_MS = Range(0, 60_000)
_BUDGET = Range(0, 1)

RANGES: dict[tuple[str, str], Range] = {
    ("audio", "rate_hz"): Range(0, 0, choices=PIPELINE_RATES_HZ),
    ("audio", "chunk_ms"): Range(10, 1000),
    ("audio", "barge_in_threshold"): _UNIT_OPEN,
    ("wake", "threshold"): _UNIT_OPEN,
    ("wake", "refractory_s"): Range(0, 60),
    ("wake", "threads"): _THREADS,
    ("vad", "threshold"): _UNIT_OPEN,
    ("vad", "threads"): _THREADS,
    ("endpoint", "speech_start_ms"): Range(0, 5000),
    ("endpoint", "hangover_ms"): _pos(10_000),
    ("endpoint", "max_utterance_s"): _pos(60),
    ("endpoint", "no_speech_timeout_s"): _pos(120),
    ("endpoint", "preroll_ms"): Range(0, 5000),
    ("endpoint", "follow_up_s"): Range(0, 60),
    ("endpoint", "pause_ms"): _pos(10_000),
    ("endpoint", "short_hangover_ms"): _pos(10_000),
    ("endpoint", "command_hangover_ms"): _pos(10_000),
    ("endpoint", "long_hangover_ms"): _pos(10_000),
    ("endpoint", "end_threshold"): _SHARE,
    ("asr", "threads"): _THREADS,
    ("asr", "beam_size"): Range(1, 16),
    ("asr", "correct_threshold"): _SHARE,
    ("asr", "cascade_logprob"): Range(-10, 0),
    ("tts", "length_scale"): Range(0.25, 4.0),
    ("tts", "threads"): _THREADS,
    ("llm", "context_tokens"): Range(128, 131_072),
    ("llm", "max_new_tokens"): Range(1, 4096),
    ("llm", "reply_wall_s"): _pos(600),
    ("llm", "keep_turns"): Range(0, 1000),
    ("llm", "keep_tokens"): Range(0, 131_072),
    ("llm", "idle_timeout_s"): _pos(86_400),
    ("llm", "threads"): _THREADS,
    ("llm", "memory_mb"): _pos(1_048_576),
    ("llm", "connect_timeout_s"): _pos(60),
    ("llm", "first_token_s"): _pos(600),
    ("llm", "read_timeout_s"): _pos(600),
    ("llm", "retry_after_s"): Range(0, 86_400),
    ("telemetry", "retention_days"): _pos(3650),
    ("telemetry", "retention_turns"): Range(1, 10_000_000),
    ("telemetry", "alert_first_audio_p95_ms"): _MS,
    ("telemetry", "alert_error_rate"): _SHARE,
    ("telemetry", "alert_false_wake_rate"): _SHARE,
    ("telemetry", "alert_rss_mb"): Range(0, 1_048_576),
    ("telemetry", "alert_min_turns"): Range(0, 1_000_000),
    ("telemetry", "check_window_h"): _pos(8760),
    ("models", "trial_tries"): Range(1, 100),
    ("service", "drain_s"): _pos(3600),
    ("service", "stall_s"): Range(0, 3600),
    ("serve", "wait_s"): _pos(600),
    ("hub", "arbitration_window_ms"): Range(0, 5000),
    ("hub", "max_queue_age_ms"): Range(0, 60000),
    ("hub", "reconnect_max_s"): _pos(3600),
    ("eval", "seed"): Range(0, 2**32 - 1),
    ("eval", "wer_max_rise"): _BUDGET,
    ("eval", "entity_error_max_rise"): _BUDGET,
    ("eval", "wake_frr_max_rise"): _BUDGET,
    ("eval", "wake_fa_max_factor"): Range(0, 1000),
    ("eval", "vad_f1_max_drop"): _BUDGET,
    ("eval", "cutoff_max_rise"): _BUDGET,
    ("eval", "late_max_rise"): _BUDGET,
    ("report", "utilisation"): _UNIT_OPEN,
    ("report", "speech_duty"): _UNIT_OPEN,
    ("report", "hub_turn_interval_s"): _pos(86_400),
    ("report", "wer_max"): Range(0, 10),
    ("report", "entity_error_max"): _SHARE,
    ("report", "wake_frr_max"): _SHARE,
    ("report", "cutoff_rate_max"): _SHARE,
    ("report", "llm_layers"): Range(0, 1000),
    ("report", "llm_kv_heads"): Range(0, 1024),
    ("report", "llm_head_dim"): Range(0, 16_384),
    ("report", "llm_cache_bytes"): Range(0, 16),
    ("report", "llm_context_tokens"): Range(0, 10_000_000),
    ("report", "llm_weights_mb"): Range(0, 10_000_000),
}
"""(section, key) -> allowed range. Every int and float field of every section has one."""

MAX_TEXT_CHARS = 4096
"""The longest string value (names, replies, paths) a config may hold."""


def check_number(section: str, key: str, value: float, where: str = "") -> None:
    """Raise :class:`ConfigError` unless ``value`` is finite and in ``[section] key``'s range.

    ``where`` names the spot in the message when it is not ``[section]`` (a sub-table).
    """
    allowed = RANGES.get((section, key))
    if allowed is None:
        raise KeyError(f"no range for [{section}] {key}")  # a field added without a range
    if not allowed.allows(value):
        spot = where or f"[{section}]"
        raise ConfigError(f"{spot} {key} must be {allowed.describe()}, got {value!r}")


def cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def check_threads(values: dict[str, int]) -> None:
    """The user's ``[stage] threads`` (``"asr"`` -> 2) at most this device's CPU count."""
    cores = cpu_count()
    for section, threads in values.items():
        if threads > cores:
            raise ConfigError(
                f"[{section}] threads must be greater than 0 and at most {cores} "
                f"(this device's CPU count), got {threads!r}"
            )
