"""``hearthvox hw --record``: measure the current bundle on this device and write the result,
as a ``verified`` entry of its profile, into the user copy of the matrix.

Measured with the engines the daemon runs (the selected variants): the real-time factor of
ASR (compute seconds per second of speech, median of a few runs, on a WAV file or on speech
synthesised by the bundle's voice), the latency of the first TTS audio (median), the
process's peak resident memory and the time to load the models. Nothing that was said is
written: the entry holds figures, versions and settings only.
"""

from __future__ import annotations

import datetime
import os
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from hearthvox.audio.resample import resample_int16
from hearthvox.bundles.default import ModelPaths
from hearthvox.bundles.lock import load_lock
from hearthvox.compat.matrix import (
    load_matrix,
    matrix_source,
    packaged_matrix_text,
    user_matrix_path,
)
from hearthvox.compat.refusal import installed_version, parse_ref
from hearthvox.compat.schema import LockModels, build_matrix
from hearthvox.compat.tuning import DeviceSetup
from hearthvox.config import Config
from hearthvox.engines import Engines
from hearthvox.errors import ConfigError
from hearthvox.events import Int16Array

RUNTIMES = ("ctranslate2", "onnxruntime", "onnxruntime-gpu", "faster-whisper", "piper-tts")
SPOKEN = "Hey Jarvis. Set a timer for ten minutes and tell me the weather for tomorrow."
FIRST_AUDIO_TEXT = "It is eleven o'clock. Your timer has four minutes left."
_HEADER = """\
# hearthvox compatibility matrix: the user copy, read instead of the packaged one.
# Written by `hearthvox hw --record`, which adds each measurement to the `verified` list of
# the device's profile. Edit it freely (docs/compat.md describes every key); delete it to go
# back to the packaged matrix. Comments are not kept when it is written again.
"""


@dataclass(frozen=True)
class Measurement:
    asr_rtf: float
    asr_audio_s: float
    tts_first_audio_ms: float
    peak_rss_mb: float
    load_s: float

    def figures(self) -> dict[str, float]:
        return {
            "asr_rtf": round(self.asr_rtf, 4),
            "asr_audio_s": round(self.asr_audio_s, 2),
            "tts_first_audio_ms": round(self.tts_first_audio_ms, 1),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "load_s": round(self.load_s, 2),
        }


def peak_rss_mb() -> float:
    """This process's peak resident set size so far (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def synthesised_speech(engines: Engines, text: str = SPOKEN) -> Int16Array:
    """*text* spoken by the bundle's voice, at 16 kHz (no file is written)."""
    speech = np.concatenate(list(engines.tts.sentences(text)))
    return resample_int16(speech, engines.tts.rate_hz, 16000)


def measure(
    engines: Engines,
    speech: Int16Array,
    *,
    load_s: float,
    repeats: int = 3,
    progress: Callable[[str], None] = lambda _msg: None,
) -> Measurement:
    """Time ASR on *speech* (16 kHz) and the first TTS audio, *repeats* times each."""
    audio_s = len(speech) / 16000.0
    engines.asr.transcribe(speech[:16000])  # warm-up: first-call allocations are not speed
    asr: list[float] = []
    for i in range(repeats):
        progress(f"speech recognition, run {i + 1} of {repeats} ({audio_s:.1f} s of speech)")
        t0 = time.perf_counter()
        engines.asr.transcribe(speech)
        asr.append(time.perf_counter() - t0)
    first: list[float] = []
    for i in range(repeats):
        progress(f"speech synthesis, run {i + 1} of {repeats}")
        t0 = time.perf_counter()
        stream = engines.tts.stream(FIRST_AUDIO_TEXT)
        try:
            next(iter(stream))
            first.append((time.perf_counter() - t0) * 1000.0)
        finally:
            stream.close()
    return Measurement(
        asr_rtf=statistics.median(asr) / audio_s,
        asr_audio_s=audio_s,
        tts_first_audio_ms=statistics.median(first),
        peak_rss_mb=peak_rss_mb(),
        load_s=load_s,
    )


def device_name(setup: DeviceSetup) -> str:
    p = setup.probe
    mem = f", {p.mem_total_mb / 1024:.1f} GB RAM" if p.mem_total_mb is not None else ""
    board = f"{p.board}, " if p.board else ""
    return f"{board}{p.cpu_model} ({p.arch}), {p.cores} cores{mem}"


def ran_with(cfg: Config, models: ModelPaths) -> dict[str, Any]:
    """The settings the engines ran with (what the entry was measured on): the bundle's
    models, and *cfg* as the engines were created with it (user > bundle > matrix >
    default, :func:`hearthvox.settings.engine_config`), not the matrix's variant."""
    return {
        "asr": {
            "model": models.artifacts["asr"].id if "asr" in models.artifacts else None,
            "device": cfg.asr.device,
            "compute_type": cfg.asr.compute_type,
            "threads": cfg.asr.threads,
            "beam_size": cfg.asr.beam_size,
        },
        "tts": {"voice": _voice(models, cfg), "threads": cfg.tts.threads},
        "wake": {"models": list(cfg.wake.models), "threads": cfg.wake.threads},
        "vad": {"threads": cfg.vad.threads},
    }


def _voice(models: ModelPaths, cfg: Config) -> str:
    tts = models.artifacts.get("tts")
    return tts.id.split("/", 1)[-1] if tts is not None else cfg.tts.voice


def verified_entry(
    setup: DeviceSetup, engines: Engines, models: ModelPaths, m: Measurement, audio: str
) -> dict[str, Any]:
    """The ``verified`` entry of *models*' bundle measured with *engines* on this device."""
    bundle_id, version = parse_ref(models.bundle_id)
    ran = engines.cfg if engines.cfg is not None else setup.cfg
    versions = {d: installed_version(d) for d in RUNTIMES}
    return {
        "bundle": bundle_id,
        "version": version or "unversioned",
        "date": datetime.date.today().isoformat(),
        "device": device_name(setup),
        "runtime": {d: v for d, v in versions.items() if v is not None},
        "variants": ran_with(ran, models),
        "figures": m.figures(),
        "notes": f"audio: {audio}",
    }


def write_verified(entry: dict[str, Any], profile: str, path: Path | None = None) -> Path:
    """Add *entry* to *profile*'s ``verified`` list in the user copy (created from the matrix
    in use); an earlier entry for the same bundle, version, device and runtimes is replaced."""
    target = path or user_matrix_path()
    source = matrix_source(target if target.exists() else None)
    text = source.read_text("utf-8") if source is not None else packaged_matrix_text()
    data = yaml.safe_load(text)
    for raw in data.get("profiles", []):
        if isinstance(raw, dict) and raw.get("id") == profile:
            break
    else:
        raise ConfigError(f"{target}: no profile {profile!r} to record into")
    same = ("bundle", "version", "device", "runtime")
    kept = [v for v in raw.get("verified") or [] if any(v.get(k) != entry[k] for k in same)]
    raw["verified"] = [*kept, entry]
    build_matrix(data, str(target), LockModels.of(load_lock()))  # never write a bad matrix
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    body = yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=96)
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(_HEADER + body)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    load_matrix(target)  # read back what was written
    return target
