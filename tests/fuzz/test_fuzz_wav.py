"""Property-based fuzzing of the WAV reader (files and streams).

Any bytes: either mono int16 audio whose length is bounded by the input (a source
rate of at least 8 kHz can at most double the frames), or one :class:`AudioFormatError`
line. Never another exception, never memory that follows what a header declares.
Failing examples found so far are kept as explicit ``@example`` regression cases.
"""

from __future__ import annotations

import functools
import io
import resource
import struct
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hearthvox.audio.wavio import load_wav, open_wav_stream
from hearthvox.errors import AudioFormatError
from tests.audio.wavfiles import build_wav

EXAMPLES = 150
RSS_GROWTH_MB = 600  # over the process's peak before the first example (a 1 Hz file reached 1.7 GB)


@functools.cache
def _peak_before_mb() -> float:
    """The test process's peak RSS when the first example ran (earlier tests set it)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@st.composite
def wavs(draw: st.DrawFn) -> bytes:
    """A WAV whose header fields are drawn from edge values and anything at all."""
    u32 = st.integers(0, 0xFFFFFFFF)
    tag = draw(st.sampled_from([1, 3, 0xFFFE, 2, 0x55, 0]) | st.integers(0, 0xFFFF))
    channels = draw(st.sampled_from([1, 2, 0, 32, 33]) | st.integers(0, 0xFFFF))
    rate = draw(st.sampled_from([1, 10, 7999, 8000, 16000, 44100, 384_000, 384_001]) | u32)
    bits = draw(st.sampled_from([8, 16, 24, 32, 64, 0, 12]) | st.integers(0, 0xFFFF))
    data = draw(st.binary(max_size=4096))
    data_size = draw(st.none() | st.sampled_from([0, 0xFFFFFFFF, 0xFFFFFF00]) | u32)
    riff_size = draw(st.none() | u32)
    before = draw(st.sampled_from([b"", b"LIST\x04\x00\x00\x00abcd", b"junk\xff\xff\xff\x7f"]))
    try:
        raw = build_wav(
            data,
            tag=tag & 0xFFFF,
            channels=channels,
            rate_hz=rate,
            bits=bits,
            extensible=draw(st.booleans()),
            before_data=before,
            data_size=data_size,
            riff_size=riff_size,
        )
    except struct.error:  # fields the test builder cannot pack (byte rate over 32 bits)
        raw = b"RIFF" + struct.pack("<I", 36) + b"WAVE" + data
    cut = draw(st.none() | st.integers(0, len(raw)))
    return raw if cut is None else raw[:cut]


def _check_error(exc: AudioFormatError) -> None:
    message = str(exc)
    assert message and "\n" not in message and len(message) < 600


def _check_file(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.wav"
        path.write_bytes(raw)
        try:
            audio = load_wav(path)
        except AudioFormatError as exc:
            _check_error(exc)
        else:
            assert audio.samples.dtype.name == "int16"
            assert 0 < len(audio.samples) <= 2 * len(raw) + 64
            assert 8000 <= audio.source_rate_hz <= 384_000


def _check_stream(raw: bytes) -> None:
    try:
        stream = open_wav_stream(io.BytesIO(raw))
        total = sum(len(c) for c in stream.chunks(1280))
    except AudioFormatError as exc:
        _check_error(exc)
    else:
        assert total <= 2 * len(raw) + 64


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wavs())
@example(build_wav(bytes(10_000), rate_hz=1))  # 1.6-1.8 GB before the rate range
@example(build_wav(bytes(10_000), rate_hz=8000, data_size=0xFFFFFF00))  # declares 74 h
@example(b"RIFF\xff\xff\xff\xffWAVEfmt \xf0\xff\xff\x7f" + bytes(64))  # a 2 GB fmt chunk
@example(build_wav(bytes(4096), channels=1000, bits=8))  # 1000 channels
def test_any_wav_header_is_read_or_refused_in_one_line(raw: bytes) -> None:
    _check_file(raw)
    _check_stream(raw)
    assert _rss_mb() < _peak_before_mb() + RSS_GROWTH_MB


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.binary(max_size=2048))
@example(b"")
@example(b"RIFF")
@example(b"RIFF\x00\x00\x00\x00WAVE")
def test_any_bytes_are_read_or_refused_in_one_line(raw: bytes) -> None:
    _check_file(raw)
    _check_stream(raw)
