"""Seeded degradations: the SNR, level and room they promise, and the same samples every
time; the eval set rebuilt from the cached voice clips is the cached set, bit for bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hearthvox.audio.wavio import load_wav
from hearthvox.evaluation import mixing, recipes
from hearthvox.evaluation.corpus import load_corpus
from hearthvox.evaluation.evalset import EvalSet, build
from hearthvox.evaluation.synth import Synthesiser


def _tone(seconds: float, freq: float = 440.0) -> mixing.Samples:
    t = np.arange(int(seconds * mixing.RATE_HZ)) / mixing.RATE_HZ
    return 0.3 * np.sin(2 * np.pi * freq * t)


def test_the_same_parts_seed_the_same_generator() -> None:
    a = mixing.rng_for(0, "noise_5db", "spk1_snt1.wav").random(4)
    b = mixing.rng_for(0, "noise_5db", "spk1_snt1.wav").random(4)
    c = mixing.rng_for(1, "noise_5db", "spk1_snt1.wav").random(4)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize("snr_db", [10.0, 5.0, 0.0])
def test_noise_is_mixed_at_the_snr_asked(corpus_dir: Path, snr_db: float) -> None:
    speech = _tone(1.0)
    noise = mixing.as_float(load_wav(corpus_dir / "noise2.wav").samples)
    x = mixing.pad(speech, 0.5, 0.5)
    mixed = mixing.add_noise(x, noise, snr_db, mixing.rng_for("t", snr_db), speech)
    added = mixed - x
    measured = 10 * np.log10(mixing.power(speech) / mixing.power(added))
    assert measured == pytest.approx(snr_db, abs=0.01)
    again = mixing.add_noise(x, noise, snr_db, mixing.rng_for("t", snr_db), speech)
    assert np.array_equal(mixed, again)


def test_gain_reverb_and_span() -> None:
    speech = mixing.pad(_tone(1.0), 0.25, 0.5)
    assert mixing.power(mixing.gain(speech, -25)) == pytest.approx(mixing.power(speech) * 10**-2.5)
    start, end = mixing.speech_span(speech)
    assert (start, end) == pytest.approx((0.25, 1.25), abs=0.011)
    rir = np.zeros(800)
    rir[10], rir[400] = 1.0, 0.5
    wet = mixing.reverberate(speech, rir)
    assert len(wet) == len(speech) + 790 - 1
    assert mixing.power(wet) == pytest.approx(mixing.power(speech))
    assert not np.allclose(wet[: len(speech)], speech)


def test_int16_rounding_clips() -> None:
    assert list(mixing.to_int16(np.array([0.5, 2.0, -2.0]))) == [16384, 32767, -32768]


def test_rebuilding_from_the_cached_voice_gives_the_same_set(
    corpus_dir: Path, eval_cache: Path, quick_set: EvalSet
) -> None:
    synth = Synthesiser(eval_cache)
    corpus = load_corpus(corpus_dir)
    first = build(corpus, quick_set.spec, synth)
    second = build(corpus, quick_set.spec, synth)
    assert synth.synthesised == 0  # every utterance came from the cache
    assert first.digest == second.digest == quick_set.digest
    assert first.recipe == quick_set.recipe


def test_the_voice_says_the_same_without_its_cache(eval_cache: Path, tmp_path: Path) -> None:
    """Piper runs without its noise: a fresh synthesis equals the cached one, bit for bit."""
    cached = Synthesiser(eval_cache).speak("Hey Jarvis.")
    fresh = Synthesiser(tmp_path)
    assert np.array_equal(fresh.speak("Hey Jarvis."), cached) and fresh.synthesised == 1


def test_the_quick_set_has_its_slices(quick_set: EvalSet) -> None:
    assert quick_set.spec.split == "test"
    own = [*recipes.QUICK_DEGRADED, recipes.TTS, recipes.FAST, recipes.ENTITIES]
    assert quick_set.slices() == [*own, recipes.BACKGROUND]
    roles = {(c.slice, c.role) for c in quick_set.clips}
    for name in recipes.QUICK_DEGRADED:
        assert {(name, "command"), (name, "wake"), (name, "vad")} <= roles
    clean = [c for c in quick_set.clips if c.slice == recipes.CLEAN and c.role == "command"]
    assert all(c.speaker and c.style and c.tags for c in clean)
    assert {"alphanumeric", "commands", "male", "short"} <= {t for c in clean for t in c.tags}
    entities = [c for c in quick_set.clips if c.slice == recipes.ENTITIES]
    assert entities and all(c.entity and c.entity in c.reference for c in entities)
    for clip in quick_set.clips:
        if clip.role == "command":
            start, end = clip.span_s
            assert 0 < start < end < clip.duration_s
