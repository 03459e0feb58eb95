"""sd_notify(3) over the AF_UNIX datagram socket systemd names in ``NOTIFY_SOCKET``.

Outside systemd (no ``NOTIFY_SOCKET``) every call is a no-op. The variables are
taken out of the environment when read, as ``sd_notify(unset_environment=1)``
does, so that child processes do not talk to the service manager in our name.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import MutableMapping
from dataclasses import dataclass

log = logging.getLogger(__name__)

NOTIFY_ENV = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


def monotonic_usec() -> int:
    """``CLOCK_MONOTONIC`` in microseconds (what ``MONOTONIC_USEC=`` carries)."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def _address(value: str) -> str | None:
    if value.startswith("@"):  # an abstract socket
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    return None  # vsock: and other transports are not spoken here


@dataclass(frozen=True)
class ServiceEnv:
    """What the service manager told this process through its environment."""

    notify_socket: str | None = None
    watchdog_usec: int | None = None
    """The watchdog period when this process is the one that must ping, else None."""

    @classmethod
    def take(cls, environ: MutableMapping[str, str] | None = None) -> ServiceEnv:
        """Read (and remove) ``NOTIFY_SOCKET``, ``WATCHDOG_USEC`` and ``WATCHDOG_PID``."""
        env = os.environ if environ is None else environ
        raw = {k: env.pop(k, None) for k in NOTIFY_ENV}
        usec: int | None = None
        try:
            usec = int(raw["WATCHDOG_USEC"] or 0) or None
            pid = raw["WATCHDOG_PID"]
            if pid and int(pid) != os.getpid():
                usec = None  # the watchdog is meant for another process
        except ValueError:
            log.warning("ignoring malformed WATCHDOG_USEC/WATCHDOG_PID")
            usec = None
        return cls(raw["NOTIFY_SOCKET"] or None, usec)

    @property
    def watchdog_s(self) -> float | None:
        return self.watchdog_usec / 1e6 if self.watchdog_usec else None


class Notifier:
    """Sends ``KEY=VALUE`` lines to the service manager; silent when there is none."""

    def __init__(self, socket_path: str | None) -> None:
        self._address = _address(socket_path) if socket_path else None
        if socket_path and self._address is None:
            log.warning("NOTIFY_SOCKET %r is not a unix socket; not notifying", socket_path)
        self._sock: socket.socket | None = None
        if self._address is not None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self._failed = False

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def send(self, *lines: str) -> bool:
        """One datagram with ``lines`` (``"READY=1"``, ``"STATUS=..."``); False if not sent."""
        if self._address is None or self._sock is None:
            return False
        payload = "\n".join(line.replace("\n", " ") for line in lines).encode("utf-8")
        try:  # sendto on one datagram socket is safe from several threads
            self._sock.sendto(payload, self._address)
        except OSError as exc:
            if not self._failed:  # say it once; the daemon goes on without the manager
                log.warning("cannot notify the service manager (%s)", exc)
                self._failed = True
            return False
        return True

    def ready(self, status: str) -> bool:
        return self.send("READY=1", f"STATUS={status}")

    def reloading(self, status: str) -> bool:
        return self.send("RELOADING=1", f"MONOTONIC_USEC={monotonic_usec()}", f"STATUS={status}")

    def stopping(self, status: str) -> bool:
        return self.send("STOPPING=1", f"STATUS={status}")

    def status(self, status: str) -> bool:
        return self.send(f"STATUS={status}")

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
