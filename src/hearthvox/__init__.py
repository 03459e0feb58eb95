"""hearthvox: an on-device voice assistant runtime."""

__version__ = "0.1.0"
