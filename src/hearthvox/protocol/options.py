"""Server limits and tunables, one frozen dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field

from hearthvox.protocol.framing import FrameLimits


@dataclass(frozen=True)
class ServerOptions:
    limits: FrameLimits = field(default_factory=FrameLimits)
    max_connections: int = 32
    """Connections beyond this get a ``busy`` error and are closed ..."""
    evict_idle_s: float = 5.0
    """... unless one of them has waited this long for an event: it is closed instead."""
    max_audio_s: float = 60.0
    """Longest audio one transcription request may send (after conversion to 16 kHz)."""
    max_text_chars: int = 20_000
    """Longest text one synthesis request may send or have waiting."""
    send_buffer_bytes: int = 256 * 1024
    """Kernel send buffer per TCP connection: a client that stops reading blocks the
    server's writes after this much (plus what its own receive buffer takes), and is
    dropped ``write_timeout_s`` later."""
    samples_per_chunk: int = 1024
    """Samples per ``audio-chunk`` the server sends."""
    segment_silence_ms: float = 600.0
    """Streaming transcription cuts a segment after a pause this long."""
