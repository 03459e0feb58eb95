"""Build WAV bytes of any layout for tests (the stdlib ``wave`` writes only PCM)."""

from __future__ import annotations

import struct

GUID_TAIL = bytes.fromhex("000000001000800000aa00389b71")


def fmt_chunk(
    tag: int,
    channels: int,
    rate_hz: int,
    bits: int,
    *,
    extensible: bool = False,
) -> bytes:
    """A ``fmt `` chunk; with ``extensible`` the tag goes into the subformat GUID."""
    block_align = channels * ((bits + 7) // 8)
    outer = 0xFFFE if extensible else tag
    body = struct.pack(
        "<HHIIHH", outer, channels, rate_hz, rate_hz * block_align, block_align, bits
    )
    if extensible:
        mask = (1 << channels) - 1
        body += struct.pack("<HHI", 22, bits, mask) + struct.pack("<H", tag) + GUID_TAIL
    return chunk(b"fmt ", body)


def chunk(cid: bytes, body: bytes, size: int | None = None) -> bytes:
    """A RIFF chunk with its pad byte when the body's length is odd."""
    n = len(body) if size is None else size
    return cid + struct.pack("<I", n) + body + (b"\0" if len(body) % 2 else b"")


def build_wav(
    data: bytes,
    *,
    tag: int = 1,
    channels: int = 1,
    rate_hz: int = 16000,
    bits: int = 16,
    extensible: bool = False,
    before_data: bytes = b"",
    after_data: bytes = b"",
    data_size: int | None = None,
    riff_size: int | None = None,
) -> bytes:
    """A whole WAV file; ``data_size``/``riff_size`` override the header's sizes."""
    n = len(data) if data_size is None else data_size
    data_part = b"data" + struct.pack("<I", n) + data + (b"\0" if len(data) % 2 else b"")
    body = (
        b"WAVE"
        + fmt_chunk(tag, channels, rate_hz, bits, extensible=extensible)
        + before_data
        + data_part
        + after_data
    )
    size = len(body) if riff_size is None else riff_size
    return b"RIFF" + struct.pack("<I", size) + body
