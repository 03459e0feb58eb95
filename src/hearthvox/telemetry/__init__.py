"""Privacy-safe local telemetry: where every millisecond of a turn goes, nothing said kept.

- :mod:`.observer`: pipeline events -> per-turn records (numbers and labels only);
- :mod:`.writer`: a dedicated thread with a bounded queue, so no stage ever waits;
- :mod:`.store`: SQLite in the state directory, schema version, retention, recovery;
- :mod:`.privacy`: the allow-list of fields and their categories;
- :mod:`.stats`, :mod:`.check`, :mod:`.export`: summary, alert rules, JSONL/Prometheus;
- :mod:`.session`: wires them to a running assistant (``hearthvox run`` / ``demo``).

See docs/telemetry.md.
"""

from hearthvox.telemetry.privacy import PrivacyError
from hearthvox.telemetry.session import TelemetrySession, open_session
from hearthvox.telemetry.store import TelemetryError, TelemetryStore

__all__ = ["PrivacyError", "TelemetryError", "TelemetrySession", "TelemetryStore", "open_session"]
