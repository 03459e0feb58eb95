"""hearthvox.audio."""
