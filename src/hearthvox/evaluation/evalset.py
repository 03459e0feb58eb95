"""The eval set: every clip of every slice, built from the corpus and the voice, cached.

``load_or_build`` returns the set for a recipe (see :mod:`.recipes`): from
``<cache>/sets/<recipe hash>.npz`` when it was built before, else built (the
voice's utterances come from their own cache, :mod:`.synth`) and saved. Clips:

- ``command``: a spoken command with its reference text (and entity), in every
  slice: the recordings as they are and degraded, the voice at normal and fast
  speed, the carrier sentences;
- ``wake``: the wake phrase and a command, degraded like the recordings;
- ``vad``: the labelled VAD recording, degraded like the recordings;
- ``background``: the noise and environment files as they are (false accepts).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from hearthvox.audio.wavio import load_wav
from hearthvox.evaluation import mixing, recipes
from hearthvox.evaluation.corpus import Corpus, CorpusFile
from hearthvox.evaluation.mixing import Samples
from hearthvox.evaluation.recipes import SetSpec
from hearthvox.evaluation.split import split_of
from hearthvox.evaluation.synth import Synthesiser
from hearthvox.events import Int16Array

Role = Literal["command", "wake", "vad", "background"]


@dataclass(frozen=True, eq=False)
class Clip:
    id: str  # "noise_5db/spk1_snt1.wav"
    slice: str
    role: Role
    audio: Int16Array
    reference: str = ""
    entity: str = ""
    span_s: tuple[float, float] = (0.0, 0.0)
    """Where the speech is (command) or the wake phrase is (wake), in the clip."""
    vad_speech_s: tuple[tuple[float, float], ...] = ()
    vad_until_s: float = 0.0
    """vad: the labelled speech segments, and where the labelled part ends."""
    speaker: str = ""
    """Who spoke it (``voice`` for the packaged voice): the unit of the bootstrap."""
    style: str = ""
    """``read``, ``command`` or ``alphanumeric`` (recordings)."""
    tags: tuple[str, ...] = ()
    """The view slices (:data:`.recipes.VIEWS`) a clean recording belongs to."""

    @property
    def duration_s(self) -> float:
        return len(self.audio) / mixing.RATE_HZ

    def meta(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "slice": self.slice,
            "role": self.role,
            "reference": self.reference,
            "entity": self.entity,
            "span_s": list(self.span_s),
            "vad_speech_s": [list(s) for s in self.vad_speech_s],
            "vad_until_s": self.vad_until_s,
            "speaker": self.speaker,
            "style": self.style,
            "tags": list(self.tags),
        }


@dataclass(frozen=True, eq=False)
class EvalSet:
    recipe: str  # sha256 of the recipe
    digest: str  # sha256 of every clip's samples and labels
    spec: SetSpec
    clips: tuple[Clip, ...]

    def slices(self) -> list[str]:
        present = {c.slice for c in self.clips}
        return [s for s in recipes.SLICE_ORDER if s in present]

    @property
    def audio_s(self) -> float:
        return sum(c.duration_s for c in self.clips)


def _digest(clips: list[Clip]) -> str:
    h = hashlib.sha256()
    for clip in clips:
        h.update(json.dumps(clip.meta(), sort_keys=True).encode())
        h.update(clip.audio.tobytes())
    return h.hexdigest()


# ---------------------------------------------------------------- building


@dataclass(frozen=True)
class _Source:
    """One thing said (clean, unpadded), before a slice degrades it."""

    name: str
    speech: Samples
    reference: str = ""
    entity: str = ""
    speaker: str = "voice"
    style: str = ""
    tags: tuple[str, ...] = ()

    @property
    def seconds(self) -> float:
        return len(self.speech) / mixing.RATE_HZ


class _Builder:
    def __init__(self, corpus: Corpus, spec: SetSpec, synth: Synthesiser) -> None:
        self.spec = spec
        self.synth = synth
        self.noises = [_load(f.path) for f in corpus.of("noise", "environment")]
        self.rirs = [_load(f.path) for f in corpus.of("room_impulse_response")]
        self.corpus = corpus
        self.clips: list[Clip] = []

    def degrade(self, slice_: str, x: Samples, speech: Samples, key: str) -> Samples | None:
        rng = mixing.rng_for(self.spec.seed, slice_, key)
        snr = dict(recipes.NOISE_SNR_DB).get(slice_)
        if snr is not None:
            noise = self.noises[int(rng.integers(len(self.noises)))]
            return mixing.add_noise(x, noise, snr, rng, speech)
        if slice_ == recipes.QUIET:
            return mixing.gain(x, recipes.QUIET_DB)
        if slice_ == recipes.FAR_FIELD:
            if not self.rirs:
                return None
            return mixing.reverberate(x, self.rirs[int(rng.integers(len(self.rirs)))])
        return x

    def command(self, slice_: str, src: _Source, lead: float, trail: float) -> None:
        x = mixing.pad(src.speech, lead, trail)
        if slice_ == recipes.LONG_SILENCE:
            rng = mixing.rng_for(self.spec.seed, slice_, src.name)
            noise = self.noises[int(rng.integers(len(self.noises)))]
            degraded: Samples | None = mixing.add_noise(
                x, noise, recipes.LONG_SILENCE_FLOOR_SNR_DB, rng, src.speech
            )
        else:
            degraded = self.degrade(slice_, x, src.speech, src.name)
        if degraded is None:
            return
        start, end = mixing.speech_span(src.speech)
        self.clips.append(
            Clip(
                f"{slice_}/{src.name}",
                slice_,
                "command",
                mixing.to_int16(degraded),
                src.reference,
                src.entity,
                (round(lead + start, 3), round(lead + end, 3)),
                speaker=src.speaker,
                style=src.style,
                tags=src.tags if slice_ == recipes.CLEAN else (),
            )
        )

    def wake_sources(self) -> list[tuple[_Source, tuple[float, float]]]:
        out = []
        for i, (command, scale) in enumerate(self.spec.wake_commands()):
            phrase = mixing.as_float(self.synth.speak(self.spec.wake_phrase, scale))
            rest = mixing.as_float(self.synth.speak(command))
            gap = np.zeros(int(recipes.WAKE_GAP_S * mixing.RATE_HZ))
            start, end = mixing.speech_span(phrase)
            speech = np.concatenate([phrase, gap, rest])
            out.append((_Source(f"wake{i + 1}", speech), (start, end)))
        return out

    def build(self) -> list[Clip]:
        spec, speak = self.spec, self.synth.speak
        rows = [f for f in self.corpus.of("speech") if split_of(f.speaker) == spec.split]
        real = [_real(f) for f in rows]
        if spec.quick:
            short = [
                (f, r) for f, r in zip(rows, real, strict=True) if r.seconds < recipes.QUICK_MAX_S
            ]
            rows = [f for f, _ in short[:: recipes.QUICK_EVERY]]
            real = [r for _, r in short[:: recipes.QUICK_EVERY]]
        said = [f for f in rows if f.style != "alphanumeric"]
        said = said[: recipes.QUICK_TTS if spec.quick else recipes.FULL_TTS]
        voice = [_Source(f.name, _said(speak(f.transcript)), f.transcript) for f in said]
        scale = recipes.FAST_LENGTH_SCALE
        fast = [_Source(f.name, _said(speak(f.transcript, scale)), f.transcript) for f in said]
        carriers = [
            _Source(f"entity{i + 1}", _said(speak(c.spoken)), c.reference, c.entity)
            for i, c in enumerate(spec.carriers())
        ]
        wakes = self.wake_sources()
        vads = self.corpus.of("vad")
        lead, trail = recipes.LEAD_S, recipes.TRAIL_S
        for slice_ in spec.degraded:
            for src in real:
                self.command(slice_, src, lead, trail)
            for src, (start, end) in wakes:
                self._wake(slice_, src, start, end)
            for f in vads:
                self._vad(slice_, f.name, _load(f.path), *f.vad_labels())
        for src in [] if spec.quick else real:
            self.command(recipes.LONG_SILENCE, src, recipes.LONG_LEAD_S, recipes.LONG_TRAIL_S)
        for slice_, sources in ((recipes.TTS, voice), (recipes.FAST, fast)):
            for src in sources:
                self.command(slice_, src, lead, trail)
        for src in carriers:
            self.command(recipes.ENTITIES, src, lead, trail)
        for f in self.corpus.of("noise", "environment"):
            audio = mixing.to_int16(_load(f.path))
            self.clips.append(
                Clip(f"{recipes.BACKGROUND}/{f.name}", recipes.BACKGROUND, "background", audio)
            )
        return self.clips

    def _wake(self, slice_: str, src: _Source, start: float, end: float) -> None:
        lead = recipes.LEAD_S
        x = mixing.pad(src.speech, lead, 1.0)
        degraded = self.degrade(slice_, x, src.speech, src.name)
        if degraded is not None:
            span = (round(lead + start, 3), round(lead + end, 3))
            self.clips.append(
                Clip(f"{slice_}/{src.name}", slice_, "wake", mixing.to_int16(degraded), span_s=span)
            )

    def _vad(
        self,
        slice_: str,
        name: str,
        x: Samples,
        speech_s: tuple[tuple[float, float], ...],
        until_s: float,
    ) -> None:
        voiced = np.concatenate(
            [x[int(a * mixing.RATE_HZ) : int(b * mixing.RATE_HZ)] for a, b in speech_s]
        )
        degraded = self.degrade(slice_, x, voiced, name)
        if degraded is not None:
            self.clips.append(
                Clip(
                    f"{slice_}/{name}",
                    slice_,
                    "vad",
                    mixing.to_int16(degraded),
                    vad_speech_s=speech_s,
                    vad_until_s=until_s,
                )
            )


def _real(f: CorpusFile) -> _Source:
    """A recording of the corpus, with its speaker and view slices."""
    x = _load(f.path)
    start, end = mixing.speech_span(x)
    tags = recipes.view_tags(f.style, f.gender, f.accent, end - start)
    return _Source(f.name, x, f.transcript, "", f.speaker, f.style, tags)


def _load(path: Path) -> Samples:
    return mixing.as_float(load_wav(path).samples)


def _said(audio: Int16Array) -> Samples:
    return mixing.as_float(audio)


# ---------------------------------------------------------------- the cache


def recipe_hash(corpus: Corpus, spec: SetSpec, voice_sha256: str) -> str:
    files = [
        {
            "file": f.name,
            "kind": f.kind,
            "sha256": f.sha256,
            "transcript": f.transcript,
            "source": f.source,
            "speaker": f.speaker,
            "split": split_of(f.speaker) if f.kind == "speech" else "",
            "view": [f.gender, f.accent, f.style],
        }
        for f in corpus.files
    ]
    doc = recipes.recipe_doc(spec, files, voice_sha256)
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def _save(path: Path, clips: list[Clip], digest: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = json.dumps({"digest": digest, "clips": [c.meta() for c in clips]})
    arrays: dict[str, Any] = {f"a{i}": c.audio for i, c in enumerate(clips)}
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp")
    with tmp.open("wb") as fh:
        np.savez(fh, meta=np.array(meta), **arrays)
    os.replace(tmp, path)


def _read(path: Path, spec: SetSpec, recipe: str) -> EvalSet | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            clips = [
                Clip(
                    m["id"],
                    m["slice"],
                    m["role"],
                    np.asarray(data[f"a{i}"], dtype=np.int16),
                    m["reference"],
                    m["entity"],
                    (m["span_s"][0], m["span_s"][1]),
                    tuple((a, b) for a, b in m["vad_speech_s"]),
                    m["vad_until_s"],
                    m["speaker"],
                    m["style"],
                    tuple(m["tags"]),
                )
                for i, m in enumerate(meta["clips"])
            ]
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None  # damaged or from an older layout: build again
    if _digest(clips) != meta["digest"]:
        return None
    return EvalSet(recipe, meta["digest"], spec, tuple(clips))


def load_or_build(
    corpus: Corpus,
    spec: SetSpec,
    cache_dir: Path,
    on_synth: Callable[[str], None] | None = None,
) -> EvalSet:
    """The eval set of this recipe, from the cache or built now (and cached)."""
    synth = Synthesiser(cache_dir, on_synth)
    recipe = recipe_hash(corpus, spec, synth.voice_sha256)
    path = cache_dir / "sets" / f"{recipe[:32]}.npz"
    if path.is_file():
        cached = _read(path, spec, recipe)
        if cached is not None:
            return cached
    clips = _Builder(corpus, spec, synth).build()
    digest = _digest(clips)
    _save(path, clips, digest)
    return EvalSet(recipe, digest, spec, tuple(clips))


def build(corpus: Corpus, spec: SetSpec, synth: Synthesiser) -> EvalSet:
    """Build the set now without its cache (the voice's utterances still come from theirs)."""
    clips = _Builder(corpus, spec, synth).build()
    recipe = recipe_hash(corpus, spec, synth.voice_sha256)
    return EvalSet(recipe, _digest(clips), spec, tuple(clips))
