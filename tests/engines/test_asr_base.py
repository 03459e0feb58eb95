"""The second ASR model, Whisper base (multilingual), loads from the store at int8 on the
CPU and transcribes a real recording; the cascade hands it the utterances it picks
(one load of each model for the module)."""

from __future__ import annotations

import dataclasses
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from hearthvox.bench.audio import corpus_speech, turn_stream
from hearthvox.bench.measure import router
from hearthvox.bench.run import extra_decodes
from hearthvox.bench.turns import run_turns
from hearthvox.bundles.default import default_model_paths
from hearthvox.bundles.optional import load_second_asr, second_asr_dir
from hearthvox.compat.tuning import device_setup
from hearthvox.config import AsrConfig, Config
from hearthvox.engines import Engines
from hearthvox.engines.asr import AsrResult, CascadeOptions, WhisperAsr, escalate
from hearthvox.events import Int16Array
from hearthvox.paths import user_paths
from hearthvox.runtime import start_second_asr

CHILD = "the child almost hurt the small dog".split()


@pytest.fixture(scope="module")
def base() -> WhisperAsr:
    return load_second_asr(Config())


def _child(corpus_dir: Path) -> Int16Array:
    with wave.open(str(corpus_dir / "spk1_snt1.wav")) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)


def test_whisper_base_transcribes_a_corpus_recording(corpus_dir: Path) -> None:
    asr = WhisperAsr(second_asr_dir(), compute_type="int8", threads=2, language="en")
    result = asr.transcribe(_child(corpus_dir))
    assert result.text.lower().strip(".").split() == CHILD, result.text
    assert result.avg_logprob is not None and -1.0 < result.avg_logprob <= 0.0


def test_the_cascade_hands_what_it_picks_to_the_second_model(
    base: WhisperAsr, corpus_dir: Path
) -> None:
    path = default_model_paths().asr_dir
    audio = _child(corpus_dir)
    always = CascadeOptions(enabled=True, logprob_below=0.0, min_words=1)
    small = WhisperAsr(path, threads=1, cascade=always)
    assert small.transcribe(audio).model == "small"  # nothing attached yet: tiny's text
    small.attach_second(base)
    result = small.transcribe(audio)
    assert result.model == "large"
    assert result.text.lower().strip(".").split() == CHILD, result.text
    off = WhisperAsr(path, threads=1, cascade=CascadeOptions(enabled=False))
    off.attach_second(base)
    assert off.transcribe(audio).model == "small"


@pytest.mark.parametrize(
    ("first", "text", "up"),
    [
        (AsrResult("a b c", 1.0, avg_logprob=-0.9), "the child almost hurt", True),
        (AsrResult("a b c", 1.0, avg_logprob=-0.1), "the child almost hurt", False),
        (AsrResult("a b c", 1.0, fallback="low_confidence", avg_logprob=-0.1), "the dog sat", True),
        (AsrResult("x", 1.0, avg_logprob=-2.0), "Stop.", False),  # one word stays
        (AsrResult("x", 1.0, avg_logprob=-2.0), "5 5 3 5", False),  # digits stay
        (AsrResult("x", 1.0, avg_logprob=-2.0), "C-I N-D Y", False),  # spelled letters stay
        (AsrResult("x", 1.0, avg_logprob=-2.0), "", False),
    ],
)
def test_escalate_picks_unsure_sentences(first: AsrResult, text: str, up: bool) -> None:
    opts = CascadeOptions(enabled=True, logprob_below=-0.45, min_words=3)
    assert escalate(first, text, opts) is up
    assert not escalate(first, text, CascadeOptions(enabled=False))


def test_the_runtime_loads_the_second_model_off_the_start(engines: Engines) -> None:
    """With [asr] cascade where the profile runs the second model, it loads in a thread
    and is attached when ready; where it does not run, nothing loads."""
    cfg = dataclasses.replace(Config(), asr=dataclasses.replace(AsrConfig(), cascade=True))
    small = WhisperAsr(
        default_model_paths().asr_dir, threads=1, cascade=CascadeOptions(enabled=True)
    )
    mine = dataclasses.replace(engines, asr=small, cfg=cfg)
    device = device_setup(cfg)
    start_second_asr(mine, device, user_paths())
    if not device.second_asr().enabled:
        assert small.second is None
        return
    deadline = time.monotonic() + 120
    while small.second is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert small.second is not None
    off = dataclasses.replace(cfg, asr=dataclasses.replace(cfg.asr, second_model="off"))
    other = WhisperAsr(default_model_paths().asr_dir, threads=1)
    start_second_asr(
        dataclasses.replace(engines, asr=other, cfg=off), device_setup(off), user_paths()
    )
    time.sleep(0.5)
    assert other.second is None


def test_the_bench_harness_counts_the_turns_sent_to_the_second_model(
    engines: Engines, base: WhisperAsr, corpus_dir: Path, tmp_path: Path
) -> None:
    always = CascadeOptions(enabled=True, logprob_below=0.0, min_words=3)
    small = engines.asr.retuned(
        beam_size=1, decode=engines.asr.decode, bias=engines.asr.bias, cascade=always
    )
    small.attach_second(base)
    assert engines.asr.second is None  # the session's engines are not touched
    mine = dataclasses.replace(engines, asr=small)
    stream = turn_stream(engines.tts, corpus_speech(corpus_dir, 2))
    timings = run_turns(mine, router(tmp_path), Config(), stream, False)
    heard = [t for t in timings if t.audio is not None]
    escalated = [t for t in heard if "asr_second" in t.asr_extra_ms]
    assert escalated, [t.transcript for t in heard]  # corpus sentences: several words each
    metric = extra_decodes(heard)
    assert metric.ours == pytest.approx(len(escalated) / len(heard))
    assert metric.extra["asr_second_p50_ms"] > 0 and metric.extra["n"] == len(heard)
    # a SIGHUP's retune keeps the second model, with the new decoding settings
    again = small.retuned(beam_size=2, decode="full", bias=small.bias, cascade=always)
    assert again.second is not None and again.second.model is base.model
    assert (again.second.beam_size, again.second.decode) == (2, "full")
    assert small.beam_size == 1 and base.beam_size == Config().asr.beam_size
