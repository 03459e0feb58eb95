"""The satellite's limits and timings, one frozen dataclass: every wait is bounded."""

from __future__ import annotations

from dataclasses import dataclass, field

from hearthvox.protocol.framing import FrameLimits

DEFAULT_PORT = 10700
"""The port Wyoming satellites use by convention (Home Assistant's default for them)."""
DEFAULT_URI = f"tcp://127.0.0.1:{DEFAULT_PORT}"


@dataclass(frozen=True)
class SatelliteOptions:
    name: str = "hearthvox"
    """The satellite's name in ``info`` (Home Assistant shows it)."""
    area: str = ""
    """The area (room) it is in, if any."""
    limits: FrameLimits = field(default_factory=FrameLimits)
    """Frame sizes and timeouts of every connection (``idle_timeout_s`` for one that
    has not become the server connection: a ``describe`` probe)."""
    server_idle_s: float = 24 * 3600.0
    """The server connection may say nothing this long (it waits for our wake word)."""
    reply_timeout_s: float = 15.0
    """After the command: no event from the server for this long ends the turn."""
    max_reply_s: float = 300.0
    """At most this much reply audio is played per turn; the rest is dropped."""
    wake_on: str = "local"
    """``local``: the wake word is found here, only the command is streamed; ``server``:
    everything heard after ``run-satellite`` is streamed and the server finds it."""
    end_stage: str = "tts"
    """``tts`` (the reply is played here) or ``handle`` (no output: text only)."""
    barge_in: bool = True
    """The wake word heard while a reply plays stops it and starts a new command
    (live input only: a file is read turn by turn)."""
    barge_in_threshold: float = 0.8
    """The wake threshold while the reply plays."""
    earcons: bool = False
    """Play the start/stop listening sounds (a speaker only)."""
    wake_settle_ms: float = 400.0
    """Voiced frames this soon after the wake word are the phrase's tail, not the command."""
