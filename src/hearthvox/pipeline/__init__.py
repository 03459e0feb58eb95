"""hearthvox.pipeline."""
