"""hearthvox.telemetry."""
