"""Reading any recording as mono 16 kHz audio: WAV through hearthvox's reader, the rest via PyAV.

PyAV (FFmpeg) comes with faster-whisper. A file whose first bytes say RIFF/WAVE
goes through :func:`hearthvox.audio.wavio.load_wav`; anything else (FLAC, MP3,
OGG/Opus/Vorbis, M4A/AAC, ...) is decoded and resampled by FFmpeg. Every failure
is an :class:`AudioFormatError` naming the file and what to do.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from hearthvox.audio.wavio import MAX_FILE_S, load_wav
from hearthvox.errors import AudioFormatError
from hearthvox.events import Int16Array

RATE_HZ = 16000


def is_wav(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            head = fh.read(12)
    except OSError:
        return False
    return len(head) == 12 and head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE"


def load_audio(path: Path) -> Int16Array:
    """The whole recording at *path* as mono int16 at 16 kHz."""
    if is_wav(path):
        return load_wav(path, RATE_HZ).samples
    return _load_av(path)


def _tag(code: str) -> int:
    """FFmpeg's FFERRTAG: four characters packed into a negative error number."""
    a, b, c, d = (ord(ch) for ch in code)
    return -(a | b << 8 | c << 16 | d << 24)


_FFMPEG_ERRORS = {
    _tag("INDA"): "invalid data: not a recording FFmpeg can read",
    _tag("EOF "): "the file ends too early",
    _tag("\xf8DEC"): "no decoder for its codec",
    _tag("\xf8DEM"): "unknown container format",
    _tag("\xf8STR"): "no audio stream found",
    _tag("PAWE"): "uses a feature FFmpeg does not support",
    _tag("BUG!"): "FFmpeg failed on it",
    _tag("BUG "): "FFmpeg failed on it",
    _tag("UNKN"): "an unknown error in FFmpeg",
    _tag("EXT "): "an error in an external library",
}


def ffmpeg_words(exc: BaseException) -> str:
    """An FFmpeg/PyAV error in words: no ``[Errno -1094995529]``, no repeated file name."""
    errno = getattr(exc, "errno", None)
    if isinstance(errno, int) and errno:
        known = _FFMPEG_ERRORS.get(-abs(errno))
        if known is not None:
            return known
        if 0 < abs(errno) < 4096:  # a POSIX errno (AVERROR(ENOMEM) ...)
            return os.strerror(abs(errno)).lower()
    words = getattr(exc, "strerror", None)
    text = words if isinstance(words, str) and words else str(exc)
    text = re.sub(r"\[Errno -?\d+\]\s*|Error number -?\d+ occurred", "", text).strip(" :")
    return text[:1].lower() + text[1:] if text else "FFmpeg could not decode it"


def _load_av(path: Path) -> Int16Array:
    import av

    name = str(path)
    if not path.is_file():
        raise AudioFormatError(f"{name}: no such file; check the path")
    blocks: list[Int16Array] = []
    try:
        with av.open(name, metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise AudioFormatError(
                    f"{name}: holds no audio stream; give a recording (WAV, FLAC, MP3, OGG, M4A)"
                )
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE_HZ)
            total = 0
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    blocks.append(out.to_ndarray().reshape(-1).astype(np.int16, copy=False))
                    total += len(blocks[-1])
                if total > MAX_FILE_S * RATE_HZ:
                    raise AudioFormatError(
                        f"{name}: longer than the limit of {MAX_FILE_S:.0f} s; cut it into parts"
                    )
            for out in resampler.resample(None):
                blocks.append(out.to_ndarray().reshape(-1).astype(np.int16, copy=False))
    except AudioFormatError:
        raise
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise AudioFormatError(
            f"{name}: cannot decode it ({ffmpeg_words(exc)}); the file is damaged or not a "
            "recording FFmpeg knows: check it plays, or convert it to WAV"
        ) from exc
    samples = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.int16)
    if len(samples) == 0:
        raise AudioFormatError(f"{name}: decoded to no audio samples; the recording is empty")
    return samples


def probe_duration_s(path: Path) -> float | None:
    """The duration from the file's header (cheap; for the progress bar), or None."""
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if container.streams.audio:
                stream = container.streams.audio[0]
                if stream.duration is not None and stream.time_base is not None:
                    return float(stream.duration * stream.time_base)
            if container.duration is not None:
                return float(container.duration) / 1_000_000.0
    except (av.FFmpegError, ValueError, OSError):
        return None
    return None
