"""hearthvox.protocol."""
