"""Section 5, capacity: CPU-seconds per audio-second (ASR, idle listening) -> concurrent
streams at the configured utilisation; the configured language model's KV cache and
conversations per device, measured (:mod:`.llm_capacity`); and, for a model not installed
here, a KV cache sized from the hand-entered ``[report] llm_*`` figures."""

from __future__ import annotations

import statistics
from typing import Any

from hearthvox.config import ReportConfig
from hearthvox.report.llm_capacity import llm_capacity

MIB = 1024.0 * 1024.0


def streams(cores: int, utilisation: float, cpu_per_audio_s: float | None) -> float | None:
    """Concurrent real-time streams: ``cores * utilisation / cpu-s per audio-s``."""
    if not cpu_per_audio_s:
        return None
    return cores * utilisation / cpu_per_audio_s


def kv_cache_bytes(rc: ReportConfig) -> int:
    """layers x tokens x 2 (K and V) x KV heads x head dim x bytes per value."""
    return int(
        rc.llm_layers
        * rc.llm_context_tokens
        * 2
        * rc.llm_kv_heads
        * rc.llm_head_dim
        * rc.llm_cache_bytes
    )


def capacity(
    cpu: dict[str, list[float]],
    cores: int,
    rc: ReportConfig,
    mem_left_mib: float | None,
    llm: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``llm``: what :mod:`.llm_probe` measured (None: samples from before it existed)."""
    asr = statistics.median(cpu["asr_cpu_per_audio_s"]) if cpu["asr_cpu_per_audio_s"] else None
    quiet = statistics.median(cpu["idle_cpu_quiet"]) if cpu["idle_cpu_quiet"] else None
    noisy = statistics.median(cpu["idle_cpu_noisy"]) if cpu["idle_cpu_noisy"] else None
    mixed = None
    if asr is not None and noisy is not None:
        mixed = rc.speech_duty * asr + (1 - rc.speech_duty) * noisy
    out: dict[str, Any] = {
        "cores": cores,
        "utilisation": rc.utilisation,
        "speech_duty": rc.speech_duty,
        "asr_cpu_per_audio_s": asr,
        "idle_cpu_quiet_per_audio_s": quiet,
        "idle_cpu_noisy_per_audio_s": noisy,
        "mixed_cpu_per_audio_s": mixed,
        "streams_asr_only": streams(cores, rc.utilisation, asr),
        "streams_idle_quiet": streams(cores, rc.utilisation, quiet),
        "streams_idle_noisy": streams(cores, rc.utilisation, noisy),
        "streams_mixed": streams(cores, rc.utilisation, mixed),
        "llm": llm_capacity(llm, mem_left_mib),
        "llm_sized": None,
    }
    if rc.llm_layers > 0:  # a model not installed here, sized from [report] llm_*
        per_conv = kv_cache_bytes(rc)
        left = None if mem_left_mib is None else mem_left_mib - rc.llm_weights_mb
        out["llm_sized"] = {
            "name": rc.llm_name or "local LLM",
            "layers": rc.llm_layers,
            "kv_heads": rc.llm_kv_heads,
            "head_dim": rc.llm_head_dim,
            "cache_bytes": rc.llm_cache_bytes,
            "context_tokens": rc.llm_context_tokens,
            "weights_mib": rc.llm_weights_mb,
            "kv_bytes_per_conversation": per_conv,
            "kv_mib_per_conversation": per_conv / MIB,
            "memory_left_mib": left,
            "conversations_fit": None
            if left is None or per_conv == 0
            else max(0, int(left * MIB // per_conv)),
        }
    return out
