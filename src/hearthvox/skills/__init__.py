"""hearthvox.skills."""
