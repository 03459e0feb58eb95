"""Section 1, the model contract of each stage: weights from models.lock and the
bundle with their upstream credits, feature config, tokenizer, expected input,
output events, and the runtime and variant the compatibility matrix chose, with its reasons."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hearthvox.bundles.credits import credit_lines, provenance_of
from hearthvox.bundles.lock import Artifact
from hearthvox.compat.device import device_report
from hearthvox.engines import vad as vad_mod
from hearthvox.engines import wake as wake_mod
from hearthvox.engines.openmp import passive_openmp
from hearthvox.report.target import Target

_PCM = "16-bit PCM, mono, {rate} Hz (other inputs are resampled to it)"

OUTPUTS = {
    "wake": '{"event": "wake", "t_audio_ms", "t_wall_ms", "model", "score"}',
    "vad": '{"event": "speech_start" | "speech_end", "t_audio_ms", "t_wall_ms"}',
    "asr": '{"event": "transcript", "t_audio_ms", "t_wall_ms", "text", "final"}',
    "tts": '{"event": "tts_first_audio", ...} then audio to the sink (never JSON)',
}
RUNTIMES = {"wake": "onnxruntime", "vad": "onnxruntime", "asr": "ctranslate2", "tts": "onnxruntime"}


def _weights(a: Artifact) -> dict[str, Any]:
    provenance = provenance_of(a)
    return {
        "id": a.id,
        "version": a.version,
        "files": [{"name": f.name, "sha256": f.sha256, "size": f.size} for f in a.files],
        "size": a.total_size,
        "license": a.license,
        "license_note": a.license_note,
        # the upstream authors, the carrying package, the files checked against an upstream hash
        "credits": credit_lines([a])[a.id],
        "upstream_checked": [u.name for u in provenance.upstream] if provenance else [],
    }


def _asr_features(asr_dir: Path) -> tuple[dict[str, Any], str]:
    with passive_openmp():  # CTranslate2 loads here first in this process
        from faster_whisper.feature_extractor import FeatureExtractor

    fe = FeatureExtractor()
    features = {
        "sample_rate_hz": fe.sampling_rate,
        "mel_bins": int(fe.mel_filters.shape[0]),
        "window_samples": fe.n_fft,
        "hop_samples": fe.hop_length,
        "window_s": fe.chunk_length,
    }
    try:
        vocab = json.loads((asr_dir / "tokenizer.json").read_text())["model"]["vocab"]
        tokenizer = f"Whisper byte-level BPE (tokenizer.json, {len(vocab)} tokens)"
    except (OSError, ValueError, KeyError):
        tokenizer = "Whisper byte-level BPE (tokenizer.json unreadable)"
    return features, tokenizer


def _tts_features(config: Path) -> tuple[dict[str, Any], str]:
    raw = json.loads(config.read_text())
    features = {
        "output_rate_hz": raw["audio"]["sample_rate"],
        "quality": raw["audio"].get("quality", ""),
        "length_scale": raw.get("inference", {}).get("length_scale"),
    }
    tokenizer = (
        f"{raw.get('phoneme_type', '?')} phonemes (voice {raw.get('espeak', {}).get('voice', '?')}"
        f"), {raw.get('num_symbols', '?')} symbol ids"
    )
    return features, tokenizer


def model_contract(target: Target, device: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per stage; ``device`` is the ``hw --json`` object for this bundle."""
    m, cfg = target.models, target.cfg
    rate = cfg.audio.rate_hz
    asr_features, asr_tok = _asr_features(m.asr_dir)
    tts_features, tts_tok = _tts_features(m.tts_config)
    features: dict[str, tuple[dict[str, Any], str]] = {
        "wake": (
            {
                "sample_rate_hz": rate,
                "frame_samples": wake_mod.FRAME_SAMPLES,
                "mel_bins": 32,
                "mel_frames_per_embedding": wake_mod._MEL_WINDOW,
                "threshold": cfg.wake.threshold,
            },
            "none (audio features only)",
        ),
        "vad": (
            {
                "sample_rate_hz": rate,
                "frame_samples": vad_mod.FRAME_SAMPLES,
                "context_samples": vad_mod._CONTEXT,
                "threshold": cfg.vad.threshold,
            },
            "none (audio only)",
        ),
        "asr": (asr_features, asr_tok),
        "tts": (tts_features, tts_tok),
    }
    variants = device.get("variants", {})
    stages = []
    for stage in ("wake", "vad", "asr", "tts"):
        artifacts = [a for role, a in m.artifacts.items() if role.split(":")[0].startswith(stage)]
        feats, tokenizer = features[stage]
        stages.append(
            {
                "stage": stage,
                "weights": [_weights(a) for a in artifacts],
                "features": feats,
                "tokenizer": tokenizer,
                "input": "text (the reply)" if stage == "tts" else _PCM.format(rate=rate),
                "output": OUTPUTS[stage],
                "runtime": RUNTIMES[stage],
                "variant": variants.get(stage, {}),
            }
        )
    return stages


def device_facts(target: Target, config: Any) -> dict[str, Any]:
    """The ``hw --json`` object for this device and bundle (profile, reasons, variants)."""
    _, report = device_report(config, bundle=target.models.bundle_id)
    return report
