"""Fixtures for the batch pipeline: corpus recordings in mixed formats, a loaded engine."""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import numpy as np
import pytest

from hearthvox.audio.wavio import load_wav
from hearthvox.batch import BatchEngine, Overrides, resolve
from hearthvox.bundles.default import ModelPaths, default_model_paths
from hearthvox.config import Config
from hearthvox.events import Int16Array

# container format, codec, extension
FORMATS = {
    "flac": ("flac", "flac", ".flac"),
    "mp3": ("mp3", "libmp3lame", ".mp3"),
    "ogg": ("ogg", "libopus", ".ogg"),
    "m4a": ("ipod", "aac", ".m4a"),
}


def encode(samples: Int16Array, rate_hz: int, path: Path, kind: str) -> Path:
    """Encode mono int16 audio with PyAV (FFmpeg) as FLAC, MP3, OGG/Opus or M4A/AAC."""
    fmt, codec, ext = FORMATS[kind]
    target = path.with_suffix(ext)
    out_rate = 48000 if codec == "libopus" else rate_hz
    with av.open(str(target), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=out_rate, layout="mono")
        frame_size = stream.codec_context.frame_size or 1024
        resampler = av.AudioResampler(
            format=stream.codec_context.format.name, layout="mono", rate=out_rate
        )
        pts = 0
        for start in range(0, len(samples), frame_size):
            block = samples[start : start + frame_size][None, :]
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(block), format="s16", layout="mono"
            )
            frame.sample_rate = rate_hz
            frame.pts = pts
            pts += block.shape[1]
            for out in resampler.resample(frame):
                container.mux(stream.encode(out))
        for out in resampler.resample(None):
            container.mux(stream.encode(out))
        container.mux(stream.encode(None))
    return target


def speech_rows(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [r for r in rows if r["kind"] == "speech"]


@pytest.fixture(scope="session")
def mixed_corpus(
    corpus_dir: Path, corpus_rows: list[dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, str]]:
    """The corpus' speech in WAV, FLAC, MP3, OGG and M4A, partly in a subfolder.

    Returns the folder and {output stem: reference transcript}.
    """
    folder = tmp_path_factory.mktemp("mixed")
    kinds = ["wav", "flac", "mp3", "ogg", "m4a"]
    refs: dict[str, str] = {}
    for i, row in enumerate(speech_rows(corpus_rows)):
        kind = kinds[i % len(kinds)]
        stem = Path(row["file"]).stem
        where = folder / "more" if i % 2 else folder
        where.mkdir(exist_ok=True)
        if kind == "wav":
            shutil.copy(corpus_dir / row["file"], where / row["file"])
        else:
            audio = load_wav(corpus_dir / row["file"])
            encode(audio.samples, audio.rate_hz, where / stem, kind)
        refs[str((where / stem).relative_to(folder))] = row["transcript"]
    return folder, refs


@pytest.fixture(scope="session")
def model_paths() -> ModelPaths:
    return default_model_paths()


@pytest.fixture(scope="session")
def batch_engine(model_paths: ModelPaths) -> BatchEngine:
    """One engine for the session (the daemon's lock is not held: no yielding)."""
    return BatchEngine(model_paths, resolve(model_paths, Config(), Overrides()), "ignore")
