"""hearthvox.engines."""
