"""RIFF/WAVE header parsing and sample decoding, shared by file and stream readers.

Python's ``wave`` module reads neither IEEE float nor WAVE_FORMAT_EXTENSIBLE files, so
this is a small chunk parser of its own. It reads sequentially through a ``read(n)``
callable, so the same code serves seekable files and pipes: unknown chunks are
skipped (with their pad byte when the size is odd) until the ``data`` chunk.

Every problem is an :class:`AudioFormatError` with one line that names the input,
says what is wrong and what to do.
"""

from __future__ import annotations

import shlex
import struct
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hearthvox.audio.resample import (
    MAX_SOURCE_RATE_HZ,
    MIN_SOURCE_RATE_HZ,
    round_to_int16,
    source_rate_ok,
    to_int16,
)
from hearthvox.errors import AudioFormatError
from hearthvox.events import Int16Array

Reader = Callable[[int], bytes]

FORMAT_PCM = 0x0001
FORMAT_FLOAT = 0x0003
FORMAT_EXTENSIBLE = 0xFFFE
MAX_CHANNELS = 32
MAX_FMT_BYTES = 1024
"""A fmt chunk is 16 to 40 bytes; a larger one is refused before it is read."""
UNKNOWN_SIZES = (0, 0xFFFFFFFF)
"""A data size streaming writers leave in the header: the audio runs to the end."""

_GUID_TAIL = bytes.fromhex("000000001000800000aa00389b71")
_CODECS = {
    0x0002: "Microsoft ADPCM",
    0x0006: "A-law",
    0x0007: "mu-law",
    0x0011: "IMA ADPCM",
    0x0031: "GSM 6.10",
    0x0050: "MPEG audio",
    0x0055: "MP3",
    0x0161: "Windows Media Audio",
    0x2000: "AC-3",
    0xF1AC: "FLAC",
}
_PCM_FORMATS = {1: "pcm_u8", 2: "pcm_s16", 3: "pcm_s24", 4: "pcm_s32"}
_FLOAT_FORMATS = {4: "float32", 8: "float64"}
_NOTES = {
    "pcm_u8": "converted 8-bit PCM to 16-bit",
    "pcm_s24": "converted 24-bit PCM to 16-bit",
    "pcm_s32": "converted 32-bit PCM to 16-bit",
    "float32": "converted 32-bit float to 16-bit PCM",
    "float64": "converted 64-bit float to 16-bit PCM",
}
_SIGNATURES = [
    (0, b"ID3", "an MP3 file"),
    (0, b"\xff\xfb", "an MP3 file"),
    (0, b"OggS", "an Ogg file"),
    (0, b"fLaC", "a FLAC file"),
    (4, b"ftyp", "an MP4/M4A file"),
    (0, b"FORM", "an AIFF file"),
    (0, b"RIFX", "a big-endian RIFX file, which is not supported"),
    (0, b"RF64", "an RF64 (over 4 GiB) WAV, which is not supported"),
]


@dataclass(frozen=True)
class WavHeader:
    """What the header says, up to the start of the ``data`` chunk's payload."""

    name: str
    channels: int
    rate_hz: int
    sample_bytes: int
    """Container size of one sample of one channel."""
    source_format: str
    """One of pcm_u8, pcm_s16, pcm_s24, pcm_s32, float32, float64."""
    data_size: int | None
    """Bytes of audio the header promises; None when it leaves the size open."""

    @property
    def frame_bytes(self) -> int:
        return self.sample_bytes * self.channels


def convert_hint(name: str, verb: str = "convert it") -> str:
    """``verb`` plus an ffmpeg command line that turns ``name`` into a 16 kHz mono WAV."""
    if name.startswith("<"):
        src, dst = "INPUT", "OUTPUT.wav"
    else:
        src = name
        stem = name[:-4] if name.lower().endswith(".wav") else name.rsplit(".", 1)[0]
        dst = f"{stem}-16k.wav" if name.lower().endswith(".wav") else f"{stem}.wav"
    return (
        f"{verb}, e.g. `ffmpeg -i {shlex.quote(src)} -ar 16000 -ac 1 -c:a pcm_s16le "
        f"{shlex.quote(dst)}`"
    )


def read_exact(read: Reader, n: int) -> bytes:
    """Read ``n`` bytes, fewer only at the end of the input (pipes return short reads)."""
    parts: list[bytes] = []
    got = 0
    while got < n:
        part = read(n - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _skip(read: Reader, n: int) -> bool:
    """Skip ``n`` bytes; False when the input ends first."""
    while n > 0:
        part = read(min(n, 1 << 16))
        if not part:
            return False
        n -= len(part)
    return True


def _not_wav(name: str, head: bytes) -> AudioFormatError:
    looks = next((what for off, sig, what in _SIGNATURES if head[off:].startswith(sig)), "")
    detail = f"no RIFF/WAVE header; it looks like {looks}" if looks else "no RIFF/WAVE header"
    return AudioFormatError(f"{name}: not a WAV file ({detail}); {convert_hint(name)}")


def _parse_fmt(name: str, body: bytes) -> tuple[int, int, int, str]:
    """(channels, rate_hz, sample_bytes, source_format) from a fmt chunk body."""
    if len(body) < 16:
        raise AudioFormatError(
            f"{name}: the fmt chunk is too short ({len(body)} bytes, need 16): "
            f"the WAV header is damaged; {convert_hint(name)}"
        )
    tag, channels, rate_hz, _byte_rate, block_align, bits = struct.unpack("<HHIIHH", body[:16])
    where = ""
    if tag == FORMAT_EXTENSIBLE:
        if len(body) < 40:
            raise AudioFormatError(
                f"{name}: the WAVE_FORMAT_EXTENSIBLE fmt chunk is too short ({len(body)} "
                f"bytes, need 40): the WAV header is damaged; {convert_hint(name)}"
            )
        guid = body[24:40]
        if guid[2:] != _GUID_TAIL:
            raise AudioFormatError(
                f"{name}: unsupported WAVE_FORMAT_EXTENSIBLE subformat {guid.hex()} "
                f"(only PCM and IEEE float are supported); {convert_hint(name)}"
            )
        tag = struct.unpack("<H", guid[:2])[0]
        where = "WAVE_FORMAT_EXTENSIBLE subformat "
    if tag not in (FORMAT_PCM, FORMAT_FLOAT):
        codec = _CODECS.get(tag, "an unknown codec")
        raise AudioFormatError(
            f"{name}: unsupported WAV encoding {codec} ({where}format tag 0x{tag:04X}); "
            f"only PCM and IEEE float WAVs are supported; {convert_hint(name)}"
        )
    if channels == 0:
        raise AudioFormatError(
            f"{name}: the WAV header says 0 channels: the file is damaged; {convert_hint(name)}"
        )
    if rate_hz == 0:
        raise AudioFormatError(
            f"{name}: the WAV header says a sample rate of 0 Hz: the file is damaged; "
            f"{convert_hint(name)}"
        )
    if not source_rate_ok(rate_hz):
        raise AudioFormatError(
            f"{name}: the WAV header says a sample rate of {rate_hz} Hz, outside the supported "
            f"{MIN_SOURCE_RATE_HZ} to {MAX_SOURCE_RATE_HZ} Hz; {convert_hint(name)}"
        )
    if channels > MAX_CHANNELS:
        raise AudioFormatError(
            f"{name}: the WAV header says {channels} channels, more than the supported "
            f"{MAX_CHANNELS}; {convert_hint(name)}"
        )
    if bits:
        sample_bytes = (bits + 7) // 8
    else:
        sample_bytes = block_align // channels
    table = _PCM_FORMATS if tag == FORMAT_PCM else _FLOAT_FORMATS
    if sample_bytes not in table:
        kind = "PCM" if tag == FORMAT_PCM else "float"
        raise AudioFormatError(
            f"{name}: unsupported sample size for {kind} WAV ({bits} bits per sample; "
            f"supported: 8/16/24/32-bit PCM, 32/64-bit float); {convert_hint(name)}"
        )
    return channels, rate_hz, sample_bytes, table[sample_bytes]


def read_header(read: Reader, name: str) -> WavHeader:
    """Parse up to the ``data`` chunk's payload; the next ``read`` returns audio bytes."""
    head = read_exact(read, 12)
    if not head:
        raise AudioFormatError(f"{name}: empty file (0 bytes); record or export the audio again")
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise _not_wav(name, head)
    riff_size = struct.unpack("<I", head[4:8])[0]
    pos = 12
    fmt: tuple[int, int, int, str] | None = None
    while True:
        chunk = read_exact(read, 8)
        if len(chunk) < 8:
            what = "no fmt or data chunk" if fmt is None else "no data chunk"
            raise AudioFormatError(
                f"{name}: WAV header but {what} (no audio in it): the file is incomplete; "
                "record or export it again"
            )
        cid, size = chunk[:4], struct.unpack("<I", chunk[4:8])[0]
        pos += 8
        if cid == b"data":
            if fmt is None:
                raise AudioFormatError(
                    f"{name}: the data chunk comes before the fmt chunk, so its format is "
                    f"unknown; {convert_hint(name)}"
                )
            data_size: int | None = size
            if size in UNKNOWN_SIZES:
                # 0 with a RIFF size that ends right here is a really empty data chunk
                empty = size == 0 and riff_size not in UNKNOWN_SIZES and riff_size + 8 <= pos
                data_size = 0 if empty else None
            channels, rate_hz, sample_bytes, source_format = fmt
            return WavHeader(name, channels, rate_hz, sample_bytes, source_format, data_size)
        if cid == b"fmt ":
            if size > MAX_FMT_BYTES:
                raise AudioFormatError(
                    f"{name}: the fmt chunk says it is {size} bytes (at most {MAX_FMT_BYTES}): "
                    f"the WAV header is damaged; {convert_hint(name)}"
                )
            body = read_exact(read, size)
            if len(body) < size:
                raise AudioFormatError(
                    f"{name}: the file ends inside its fmt chunk: it is truncated; "
                    "record or export it again"
                )
            fmt = _parse_fmt(name, body)
            if size % 2:
                read_exact(read, 1)
        elif not _skip(read, size + size % 2):
            raise AudioFormatError(
                f"{name}: the file ends inside its {cid.decode('latin-1')!r} chunk before any "
                "data chunk: it is truncated; record or export it again"
            )
        pos += size + size % 2


def format_notes(header: WavHeader, rate_hz: int) -> list[str]:
    """Human notes on what turning this input into mono int16 at ``rate_hz`` does."""
    notes = []
    if header.source_format in _NOTES:
        notes.append(_NOTES[header.source_format])
    if header.channels > 1:
        notes.append(f"mixed {header.channels} channels down to mono")
    if header.rate_hz != rate_hz:
        notes.append(f"resampled {header.rate_hz} Hz to {rate_hz} Hz")
    return notes


def _int_frames(raw: memoryview, header: WavHeader) -> tuple[npt.NDArray[np.int64], float]:
    """Integer samples as (frames, channels) and the divisor that scales them to int16."""
    fmt = header.source_format
    if fmt == "pcm_u8":
        a = np.frombuffer(raw, dtype=np.uint8).astype(np.int64) - 128
        return a.reshape(-1, header.channels), 1.0 / 256.0
    if fmt == "pcm_s24":
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = (b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)) << 8
        return (v >> 8).astype(np.int64).reshape(-1, header.channels), 256.0
    a = np.frombuffer(raw, dtype="<i4").astype(np.int64)
    return a.reshape(-1, header.channels), 65536.0


def decode(raw: bytes | memoryview, header: WavHeader) -> Int16Array:
    """Whole frames of ``raw`` (a trailing partial frame is ignored) to mono int16."""
    n_frames = len(raw) // header.frame_bytes
    view = memoryview(raw)[: n_frames * header.frame_bytes]
    ch = header.channels
    fmt = header.source_format
    if fmt == "pcm_s16":
        a16 = np.frombuffer(view, dtype="<i2").reshape(-1, ch)
        if ch == 1:
            return a16[:, 0].astype(np.int16)
        return round_to_int16(a16.sum(axis=1, dtype=np.int32) / ch)
    if fmt in ("float32", "float64"):
        af = np.frombuffer(view, dtype="<f4" if fmt == "float32" else "<f8").reshape(-1, ch)
        mixed_f = af[:, 0] if ch == 1 else af.mean(axis=1)
        return to_int16(mixed_f.astype(np.float32))
    ints, divisor = _int_frames(view, header)
    return round_to_int16(ints.sum(axis=1) / (ch * divisor))
