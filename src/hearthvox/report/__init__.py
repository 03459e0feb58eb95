"""hearthvox.report."""
