"""hearthvox.bundles."""
