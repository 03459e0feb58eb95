"""``hearthvox run`` as a service: systemd readiness, watchdog, reload, drain, one instance.

- :mod:`.notify`: sd_notify over ``NOTIFY_SOCKET`` (a no-op outside systemd);
- :mod:`.heartbeat`, :mod:`.watchdog`: workers' signs of life, ``WATCHDOG=1`` pings;
- :mod:`.feed`: the input read ahead of the pipeline, one generation per run (what a
  drained run did not hear is put back);
- :mod:`.daemon`: the lifecycle (READY, RELOADING, STOPPING, signals);
- :mod:`.reload`: a new config applied to the running assistant;
- :mod:`.lock`: one daemon at a time (``fcntl.flock``, shared with the batch guard);
- :mod:`.logs`: journald's format and one line per state change;
- :mod:`.units`: the systemd unit files (``hearthvox service install``);
- :mod:`.debug`: a test hook that hangs a stage.

See docs/service.md.
"""

from hearthvox.bundles.health import health_check
from hearthvox.service.daemon import Daemon, DaemonOptions
from hearthvox.service.debug import install_debug_hooks
from hearthvox.service.lock import DaemonLock, DaemonRunningError
from hearthvox.service.logs import StateLog, to_journal, use_journal_format
from hearthvox.service.notify import Notifier, ServiceEnv

__all__ = [
    "Daemon",
    "DaemonLock",
    "DaemonOptions",
    "DaemonRunningError",
    "Notifier",
    "ServiceEnv",
    "StateLog",
    "health_check",
    "install_debug_hooks",
    "to_journal",
    "use_journal_format",
]
