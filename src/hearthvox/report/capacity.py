"""Section 5, capacity: CPU-seconds per audio-second (ASR, idle listening) -> concurrent
streams at the configured utilisation; a hub's CPU-seconds per turn and streams per core
(:func:`hub`); the configured language model's KV cache and
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


def _spread(xs: list[float]) -> dict[str, Any]:
    if not xs:
        return {"n": 0, "mean": None, "median": None, "min": None, "max": None}
    return {
        "n": len(xs),
        "mean": statistics.fmean(xs),
        "median": statistics.median(xs),
        "min": min(xs),
        "max": max(xs),
    }


def hub(
    turn_cpu: dict[str, Any] | None,
    idle_quiet: float | None,
    idle_noisy: float | None,
    cores: int,
    rc: ReportConfig,
) -> dict[str, Any]:
    """A hub serving one streaming satellite per room, each asking once per
    ``rc.hub_turn_interval_s``.

    ``turn_cpu``: the latency run's per-turn CPU-seconds and audio-seconds
    (:mod:`.turn_cpu`; None: samples from before it was measured). A turn's CPU *beyond
    idle listening* is its segment's CPU less ``idle_quiet`` (the stream's background is
    the same quiet room tone) times its audio-seconds: what the wake word's detection,
    the end of speech, ASR, the skill and TTS add to listening. Cores per satellite =
    ``idle_noisy + median CPU-s per turn beyond idle / interval`` (the median: over a
    full report's turns, one slowed by other work on the machine, whose engines' thread
    pools then spin, or the first turn's warm-up, does not move it; with ``--quick``'s
    two it is their mean; the mean is kept beside it); streams per
    core = 1 / that; streams at the utilisation = ``cores * utilisation / that``. The
    same with the quiet room's idle CPU is kept too (``*_quiet``: satellites streaming
    room tone, as ``scripts/hub_bench.py`` measures a hub). Turns that arrive together
    queue on the shared engines: this is a CPU budget, not a latency promise.
    """
    interval = rc.hub_turn_interval_s
    out: dict[str, Any] = {
        "measured": False,
        "turn_interval_s": interval,
        "cores": cores,
        "utilisation": rc.utilisation,
        "idle_cpu_per_audio_s": idle_noisy,
        "idle_cpu_quiet_per_audio_s": idle_quiet,
    }
    if not turn_cpu or not turn_cpu.get("cpu_s") or idle_quiet is None:
        return out
    whole: list[float] = list(turn_cpu["cpu_s"])
    audio: list[float] = list(turn_cpu["audio_s"])
    beyond = [c - idle_quiet * a for c, a in zip(whole, audio, strict=True)]
    per_turn = statistics.median(beyond)

    def per_satellite(idle: float | None) -> dict[str, float | None]:
        need = None if idle is None else idle + per_turn / interval
        ok = need is not None and need > 0
        return {
            "cores_per_satellite": need,
            "streams_per_core": 1.0 / need if need is not None and ok else None,
            "streams_at_utilisation": streams(cores, rc.utilisation, need) if ok else None,
        }

    out.update(
        measured=True,
        turns=len(whole),
        cpu_s_per_turn=_spread(whole),
        audio_s_per_turn=_spread(audio),
        cpu_s_per_turn_beyond_idle=_spread(beyond),
        **per_satellite(idle_noisy),
        **{f"{k}_quiet": v for k, v in per_satellite(idle_quiet).items()},
    )
    return out


def capacity(
    cpu: dict[str, list[float]],
    cores: int,
    rc: ReportConfig,
    mem_left_mib: float | None,
    llm: dict[str, Any] | None = None,
    turn_cpu: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``llm``: what :mod:`.llm_probe` measured (None: samples from before it existed);
    ``turn_cpu``: the latency run's per-turn CPU (None: likewise), for :func:`hub`."""
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
        "hub": hub(turn_cpu, quiet, noisy, cores, rc),
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
