"""SIGINT and SIGTERM while the daemon starts: remembered, not raised.

Python's default SIGINT handler raises KeyboardInterrupt wherever the main thread
happens to be. While the models load that can be inside a finalizer or a library's
callback, where the exception is printed as "ignored" and the stop is lost: the
daemon then starts and runs as if nothing had been asked. SIGTERM's default action
kills the process without a word. From the start of ``run`` the two signals only
set a flag; the start checks it between its steps (:meth:`StartSignals.check`), and
the daemon's loop, once its own handlers are in, acts on a signal that came before
them. A second Ctrl-C during the start interrupts at once, as before.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

from hearthvox.errors import HearthvoxError

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StoppedBeforeStart(HearthvoxError):
    """A stop signal came while the daemon was starting."""

    def __init__(self, sig: signal.Signals) -> None:
        super().__init__(f"stopped ({sig.name}) before the start had finished")
        self.signal = sig


class StartSignals:
    def __init__(self) -> None:
        self.received: signal.Signals | None = None
        self.installed = False

    def install(self) -> StartSignals:
        """Take SIGINT and SIGTERM over (from the main thread only; elsewhere a no-op)."""
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                signal.signal(sig, self._note)
            self.installed = True
        return self

    def _note(self, signum: int, frame: FrameType | None) -> None:
        if self.received is signal.SIGINT and signum == signal.SIGINT:
            raise KeyboardInterrupt  # asked twice: do not wait for the models
        self.received = signal.Signals(signum)

    def check(self) -> None:
        """Raise StoppedBeforeStart when a stop signal has come."""
        if self.received is not None:
            raise StoppedBeforeStart(self.received)

    def restore(self) -> None:
        """Give the signals back their default handlers (once the start is over)."""
        if self.installed:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            self.installed = False
