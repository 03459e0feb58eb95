"""hearthvox.evaluation."""
