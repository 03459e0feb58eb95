"""Reading and writing WAV files: whole files, pipes (stdin) and atomic writers.

Every input becomes mono int16 at the pipeline rate: 8/16/24/32-bit PCM and
32/64-bit float, plain or WAVE_FORMAT_EXTENSIBLE, any channel count (averaged),
any rate (resampled with soxr). Writers never leave a half-written file: they write
a hidden temp file next to the target, fsync it and rename it into place.
"""

from __future__ import annotations

import os
import secrets
import shlex
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, BinaryIO

import numpy as np

from hearthvox.audio.buffers import Rechunker
from hearthvox.audio.resample import StreamResampler
from hearthvox.audio.wavformat import (
    WavHeader,
    convert_hint,
    decode,
    format_notes,
    read_exact,
    read_header,
)
from hearthvox.errors import AudioFormatError, OutputError
from hearthvox.events import Int16Array

__all__ = [
    "LoadedAudio",
    "WavStream",
    "WavWriter",
    "load_wav",
    "open_wav_stream",
    "write_wav",
]

_MAX_DATA_BYTES = 0xFFFFFFFF - 36


@dataclass(frozen=True, eq=False)
class LoadedAudio:
    samples: Int16Array
    """Mono, at ``rate_hz``."""
    rate_hz: int
    source_rate_hz: int
    source_channels: int
    source_format: str
    """pcm_u8 | pcm_s16 | pcm_s24 | pcm_s32 | float32 | float64"""
    duration_s: float
    """Duration of the audio in the file (source frames / source rate)."""
    conversions: tuple[str, ...]
    """Human notes on what was done to the audio, e.g. "resampled 44100 Hz to 16000 Hz"."""


def _check_rate(rate_hz: int) -> None:
    if rate_hz <= 0:
        raise ValueError(f"rate_hz must be positive, got {rate_hz}")


MAX_FILE_S = 4 * 3600.0
"""The longest recording :func:`load_wav` takes by default (4 h: about 460 MB at 16 kHz)."""
BLOCK_FRAMES = 1 << 16
"""Source frames decoded and resampled at a time: memory follows the output, not the input."""


class _Decoder:
    """Raw bytes in any supported layout, block by block, to mono int16 at ``rate_hz``."""

    def __init__(self, header: WavHeader, rate_hz: int) -> None:
        self._header = header
        self._resampler = StreamResampler(header.rate_hz, rate_hz)
        self.leftover = b""
        self.frames = 0

    def push(self, data: bytes) -> Int16Array:
        fb = self._header.frame_bytes
        buf = self.leftover + data
        whole = len(buf) // fb * fb
        self.leftover = buf[whole:]
        if not whole:
            return np.zeros(0, dtype=np.int16)
        self.frames += whole // fb
        return self._resampler.process(decode(memoryview(buf)[:whole], self._header))

    def flush(self) -> Int16Array:
        return self._resampler.flush()


def _over_budget(name: str, frames: int, header: WavHeader, max_s: float) -> AudioFormatError:
    return AudioFormatError(
        f"{name}: {frames / header.rate_hz:.0f} s of audio ({frames} frames at "
        f"{header.rate_hz} Hz) is longer than the limit of {max_s:.0f} s; cut it into parts, "
        f"e.g. `ffmpeg -i {shlex.quote(name)} -f segment -segment_time {max(1, int(max_s) // 2)} "
        f"-ar 16000 -ac 1 -c:a pcm_s16le {shlex.quote(name + '-part%03d.wav')}`"
    )


def _read_samples(fh: BinaryIO, header: WavHeader, rate_hz: int, max_s: float) -> LoadedAudio:
    """Decode the data chunk block by block; the duration budget is checked from the
    declared size before anything is read, and again as an open-sized file is read."""
    name = header.name
    fb = header.frame_bytes
    max_frames = int(max_s * header.rate_hz)
    if header.data_size is not None and header.data_size // fb > max_frames:
        raise _over_budget(name, header.data_size // fb, header, max_s)
    decoder = _Decoder(header, rate_hz)
    parts: list[Int16Array] = []
    remaining = header.data_size
    got = 0
    while remaining is None or remaining > 0:
        want = BLOCK_FRAMES * fb if remaining is None else min(BLOCK_FRAMES * fb, remaining)
        data = read_exact(fh.read, want)
        got += len(data)
        if remaining is not None:
            remaining -= len(data)
        parts.append(decoder.push(data))
        if decoder.frames > max_frames:
            raise _over_budget(name, decoder.frames, header, max_s)
        if len(data) < want:
            break
    notes: list[str] = []
    if header.data_size is not None and got < header.data_size:
        raise AudioFormatError(
            f"{name}: header promises {header.data_size} bytes of audio but the file holds "
            f"only {got}: the file is truncated; copy it again, or "
            + convert_hint(name, "salvage what is there")
        )
    if header.data_size is None:
        notes.append("the header leaves the data size open: read audio to the end of the file")
    if decoder.frames == 0:
        raise AudioFormatError(
            f"{name}: the WAV file holds no samples (its data chunk is empty); "
            "record or export the audio again"
        )
    if decoder.leftover:
        notes.append(f"ignored {len(decoder.leftover)} trailing bytes (an incomplete sample frame)")
    parts.append(decoder.flush())
    return LoadedAudio(
        samples=np.concatenate(parts),
        rate_hz=rate_hz,
        source_rate_hz=header.rate_hz,
        source_channels=header.channels,
        source_format=header.source_format,
        duration_s=decoder.frames / header.rate_hz,
        conversions=tuple(format_notes(header, rate_hz) + notes),
    )


def load_wav(path: Path, rate_hz: int = 16000, max_s: float = MAX_FILE_S) -> LoadedAudio:
    """Read a whole WAV file as mono int16 at ``rate_hz``; refuse one over ``max_s``."""
    _check_rate(rate_hz)
    path = Path(path)
    name = str(path)
    try:
        # a pipe would block until a writer came, a device never ends: only regular
        # files are read whole (a stream goes through open_wav_stream: `--input -`)
        if path.exists() and not path.is_dir() and not path.is_file():
            raise AudioFormatError(
                f"{name}: not a regular file (a device, a pipe, a socket); "
                "to stream a WAV, pipe it to `--input -`"
            )
        with path.open("rb") as fh:
            return _read_samples(fh, read_header(fh.read, name), rate_hz, max_s)
    except FileNotFoundError:
        raise AudioFormatError(f"{name}: no such file; check the path") from None
    except IsADirectoryError:
        raise AudioFormatError(
            f"{name}: is a directory, not a WAV file; give the path of a .wav file"
        ) from None
    except PermissionError:
        raise AudioFormatError(
            f"{name}: permission denied; make the file readable or copy it somewhere readable"
        ) from None
    except OSError as exc:
        raise AudioFormatError(f"{name}: cannot read it ({exc.strerror or exc})") from exc


class WavStream:
    """A WAV arriving on a non-seekable binary stream, decoded block by block.

    Running out of data before the declared size is a normal end (live recorders
    write a header before they know how long they will record).
    """

    def __init__(self, stream: IO[bytes], header: WavHeader, rate_hz: int) -> None:
        self._stream = stream
        self._header = header
        self._consumed = False
        self.name = header.name
        self.rate_hz = rate_hz
        self.source_rate_hz = header.rate_hz
        self.source_channels = header.channels
        self.source_format = header.source_format
        self.declared_bytes = header.data_size
        """Audio bytes the header promises; None when it leaves the size open."""
        self.conversions = tuple(format_notes(header, rate_hz))
        self.source_frames = 0
        """Source frames read so far."""

    def chunks(self, n_samples: int) -> Iterator[Int16Array]:
        """Mono int16 blocks of ``n_samples`` at ``rate_hz``; the last may be shorter.

        Blocks on the stream; iterate it off the event loop. Can be iterated once.
        """
        if n_samples <= 0:
            raise ValueError(f"n_samples must be positive, got {n_samples}")
        if self._consumed:
            raise RuntimeError(f"{self.name}: the stream has already been read")
        self._consumed = True
        header = self._header
        frames = -(-n_samples * self.source_rate_hz // self.rate_hz)
        block = max(1, frames) * header.frame_bytes
        remaining = header.data_size
        decoder = _Decoder(header, self.rate_hz)
        rechunker = Rechunker(n_samples)
        while remaining is None or remaining > 0:
            want = block if remaining is None else min(block, remaining)
            data = read_exact(self._stream.read, want)
            if remaining is not None:
                remaining -= len(data)
            yield from rechunker.push(decoder.push(data))
            self.source_frames = decoder.frames
            if len(data) < want:
                break
        yield from rechunker.push(decoder.flush())
        rest = rechunker.rest()
        if len(rest):
            yield rest


def open_wav_stream(stream: IO[bytes], rate_hz: int = 16000) -> WavStream:
    """Read the WAV header from ``stream`` (e.g. ``sys.stdin.buffer``)."""
    _check_rate(rate_hz)
    label = getattr(stream, "name", None)
    name = label if isinstance(label, str) else "<stream>"
    header = read_header(stream.read, name)
    if header.data_size == 0:
        raise AudioFormatError(
            f"{name}: the WAV stream holds no samples (its data chunk is empty); "
            "record or export the audio again"
        )
    return WavStream(stream, header, rate_hz)


def _header(rate_hz: int, data_bytes: int) -> bytes:
    return b"RIFF" + struct.pack(
        "<I4s4sIHHIIHH4sI",
        36 + data_bytes,
        b"WAVE",
        b"fmt ",
        16,
        1,
        1,
        rate_hz,
        rate_hz * 2,
        2,
        16,
        b"data",
        data_bytes,
    )


class WavWriter:
    """Incremental atomic writer of a mono 16-bit PCM WAV at a fixed rate.

    Writes go to a hidden ``.NAME.XXXX.part`` file in the target's folder;
    :meth:`commit` fixes the header, fsyncs and renames it into place, :meth:`abort`
    removes it. As a context manager it commits on success and aborts on an exception.
    """

    def __init__(self, path: Path, rate_hz: int) -> None:
        _check_rate(rate_hz)
        self.path = Path(path)
        self.rate_hz = rate_hz
        self.temp_path = self.path.parent / f".{self.path.name}.{secrets.token_hex(4)}.part"
        self._data_bytes = 0
        try:
            fd = os.open(self.temp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except OSError as exc:
            raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        self._fh: BinaryIO | None = os.fdopen(fd, "wb")
        self._guard(lambda fh: fh.write(_header(rate_hz, 0)))

    @property
    def samples_written(self) -> int:
        return self._data_bytes // 2

    def _guard(self, action: Callable[[BinaryIO], object]) -> None:
        """Run ``action(fh)``; on OSError remove the temp file and raise OutputError."""
        if self._fh is None:
            raise RuntimeError(f"{self.path}: the writer is already committed or aborted")
        try:
            action(self._fh)
        except OSError as exc:
            self.abort()
            raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}") from exc

    def write(self, samples: Int16Array) -> None:
        arr = np.asarray(samples)
        if arr.dtype != np.int16 or arr.ndim != 1:
            raise TypeError(f"WavWriter takes 1-D int16 samples, got {arr.dtype} {arr.shape}")
        if self._data_bytes + arr.nbytes > _MAX_DATA_BYTES:
            self.abort()
            raise OutputError(f"cannot write {self.path}: a WAV file holds at most 4 GiB")
        self._guard(lambda fh: fh.write(arr.astype("<i2", copy=False).tobytes()))
        self._data_bytes += arr.nbytes

    def commit(self) -> None:
        """Fix the header sizes, fsync and rename the file into place."""

        def finish(fh: BinaryIO) -> None:
            fh.seek(0)
            fh.write(_header(self.rate_hz, self._data_bytes))
            fh.flush()
            os.fsync(fh.fileno())
            fh.close()
            os.replace(self.temp_path, self.path)

        self._guard(finish)
        self._fh = None
        try:
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
        except OSError:
            return  # the rename is done; a folder we cannot open just is not fsynced
        try:
            os.fsync(dir_fd)
        except OSError:
            pass  # some file systems refuse fsync on a folder; the rename still stands
        finally:
            os.close(dir_fd)

    def abort(self) -> None:
        """Drop everything written; leaves no file behind. Safe to call twice."""
        fh, self._fh = self._fh, None
        if fh is None:
            return
        try:
            fh.close()
        except OSError:
            pass  # closing a file we are about to delete: its errors do not matter
        self.temp_path.unlink(missing_ok=True)

    def __enter__(self) -> WavWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def write_wav(path: Path, samples: Int16Array, rate_hz: int) -> None:
    """Write mono int16 samples as a 16-bit PCM WAV, atomically."""
    with WavWriter(path, rate_hz) as writer:
        writer.write(samples)
