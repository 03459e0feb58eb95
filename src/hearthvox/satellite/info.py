"""The ``info`` answer to ``describe``: a ``satellite`` section (name, area, VAD, wake words)."""

from __future__ import annotations

from wyoming.info import Attribution, Info, Satellite

from hearthvox import __version__
from hearthvox.protocol.info import PROJECT_URL


def satellite_info(name: str, area: str, wake_words: list[str]) -> Info:
    """What Home Assistant (or a hearthvox hub) reads before it adopts the satellite."""
    return Info(
        satellite=Satellite(
            name=name,
            area=area or None,
            description="hearthvox satellite ("
            + (f"local wake word: {', '.join(wake_words)})" if wake_words else "server wake word)"),
            attribution=Attribution(name="hearthvox", url=PROJECT_URL),
            installed=True,
            version=__version__,
            has_vad=True,
            active_wake_words=list(wake_words),
            max_active_wake_words=len(wake_words) or None,
            supports_trigger=False,
        )
    )
