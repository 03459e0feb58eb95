"""hearthvox.compat."""
