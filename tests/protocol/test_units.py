"""The pieces without a network: PCM conversion, sentence cutting, addresses."""

from __future__ import annotations

import numpy as np
import pytest

from hearthvox.errors import ConfigError
from hearthvox.protocol.framing import ProtocolError
from hearthvox.protocol.pcm import PcmConverter, PcmFormat
from hearthvox.protocol.server import TcpAddress, UnixAddress, check_bind, is_loopback, parse_uri
from hearthvox.protocol.tts_stream import split_sentences

RNG = np.random.default_rng(7)
X = RNG.integers(-30000, 30000, 4000).astype(np.int16)


def _convert(raw: bytes, fmt: PcmFormat, pieces: int = 7) -> np.ndarray:
    conv = PcmConverter(fmt)
    cuts = np.linspace(0, len(raw), pieces + 1).astype(int)  # cuts fall inside frames
    out = [conv.convert(raw[a:b]) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
    return np.concatenate([*out, conv.flush()])


def test_16_bit_mono_at_16_khz_passes_through_exactly() -> None:
    got = _convert(X.astype("<i2").tobytes(), PcmFormat(16000, 2, 1))
    assert np.array_equal(got, X)


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_widths_and_channels_are_read_as_signed_little_endian(width: int) -> None:
    wide = X.astype(np.int64) << (8 * (width - 2)) if width >= 2 else X.astype(np.int64) >> 8
    stereo = np.stack([wide, wide], axis=1).reshape(-1)
    if width == 1:
        raw = stereo.astype(np.int8).tobytes()
    elif width == 3:
        raw = stereo.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    else:
        raw = stereo.astype(f"<i{width}").tobytes()
    got = _convert(raw, PcmFormat(16000, width, 2))
    tolerance = 256 if width == 1 else 0
    assert len(got) == len(X)
    assert np.max(np.abs(got.astype(np.int32) - X.astype(np.int32))) <= tolerance


def test_other_rates_are_resampled_to_16_khz() -> None:
    t = np.arange(48000) / 48000
    tone = (np.sin(2 * np.pi * 440 * t) * 10000).astype("<i2")
    got = _convert(tone.tobytes(), PcmFormat(48000, 2, 1), pieces=30)
    assert abs(len(got) - 16000) <= 2
    spectrum = np.abs(np.fft.rfft(got[1000:15000].astype(np.float64)))
    assert abs(np.argmax(spectrum) * 16000 / 14000 - 440) < 3


@pytest.mark.parametrize(
    "data",
    [
        {"rate": 16000, "width": 5, "channels": 1},
        {"rate": 0, "width": 2, "channels": 1},
        {"rate": 16000, "width": 2, "channels": 0},
        {"rate": "16000", "width": 2, "channels": 1},
        {"rate": 16000, "width": True, "channels": 1},
        {"width": 2, "channels": 1},
    ],
)
def test_bad_audio_formats_are_refused(data: dict[str, object]) -> None:
    with pytest.raises(ProtocolError) as info:
        PcmFormat.from_data(data)
    assert info.value.code == "bad-event" and info.value.close


def test_sentences_are_cut_only_where_they_end() -> None:
    done, rest = split_sentences("Dr. Smith arrived at 3.15 p.m. today. Then he left! And")
    assert done == ["Dr. Smith arrived at 3.15 p.m. today.", "Then he left!"]
    assert rest == "And"
    assert split_sentences("No end yet.") == ([], "No end yet.")
    assert split_sentences('He said "stop." Then silence.\n\nNext') == (
        ['He said "stop."', "Then silence."],
        "Next",
    )
    assert split_sentences("e.g. this one, i.e. that. Yes? ") == (
        ["e.g. this one, i.e. that.", "Yes?"],
        "",
    )


def test_uris() -> None:
    assert parse_uri("tcp://127.0.0.1:10700") == TcpAddress("127.0.0.1", 10700)
    assert parse_uri("tcp://[::1]:0") == TcpAddress("::1", 0)
    assert parse_uri("tcp://[::1]:5").uri() == "tcp://[::1]:5"
    assert parse_uri("unix:///run/hv.sock") == UnixAddress(parse_uri("unix:///run/hv.sock").path)
    assert str(parse_uri("unix://relative.sock").path) == "relative.sock"
    for host in ("127.0.0.1", "127.1.2.3", "::1", "localhost"):
        assert is_loopback(host)
    for host in ("0.0.0.0", "::", "10.0.0.2", "example.org"):
        assert not is_loopback(host)
    check_bind(parse_uri("unix:///tmp/x.sock"), allow_remote=False)
    check_bind(parse_uri("tcp://0.0.0.0:1"), allow_remote=True)
    with pytest.raises(ConfigError, match="no authentication"):
        check_bind(parse_uri("tcp://[::]:1"), allow_remote=False)
