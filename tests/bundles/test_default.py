"""The default bundle's model paths."""

from __future__ import annotations

import time

from hearthvox.bundles import ModelPaths, default_model_paths


def test_default_model_paths_point_at_real_files() -> None:
    paths = default_model_paths()
    assert isinstance(paths, ModelPaths)
    assert paths.bundle_id == "default-0.1.0"
    assert paths.wake_melspectrogram.name == "melspectrogram.onnx"
    assert paths.wake_embedding.name == "embedding_model.onnx"
    assert set(paths.wake_models) == {"hey_jarvis", "alexa", "hey_mycroft"}
    assert paths.wake_models["hey_jarvis"].name == "hey_jarvis_v0.1.onnx"
    assert paths.vad.name == "silero_vad_v6.onnx"
    assert (paths.asr_dir / "model.bin").is_file()
    assert paths.tts_model.name == "en_US-joe-medium.onnx"
    assert paths.tts_config.name == "en_US-joe-medium.onnx.json"
    for p in (
        paths.wake_melspectrogram,
        paths.wake_embedding,
        *paths.wake_models.values(),
        paths.vad,
        paths.tts_model,
        paths.tts_config,
    ):
        assert p.is_file(), p
    assert set(paths.artifacts) == {
        "wake_features", "wake:hey_jarvis", "wake:alexa", "wake:hey_mycroft", "vad", "asr", "tts",
    }  # fmt: skip
    assert paths.artifacts["asr"].id == "asr/whisper-tiny.en"


def test_default_model_paths_is_quick_without_verify() -> None:
    default_model_paths()
    best = min(_timed() for _ in range(5))
    assert best < 0.05, f"default_model_paths() took {best * 1000:.1f} ms"


def _timed() -> float:
    t0 = time.perf_counter()
    default_model_paths()
    return time.perf_counter() - t0


def test_default_model_paths_verify_hashes_everything() -> None:
    assert default_model_paths(verify=True) == default_model_paths()
