"""Optional mDNS announcement (``_wyoming._tcp.local.``) so Home Assistant discovers the server.

Needs the ``zeroconf`` package (``pip install 'hearthvox[zeroconf]'``), imported
only when asked for. Announcing sends multicast packets on the local network.
"""

from __future__ import annotations

import importlib
import socket
from typing import Any

from hearthvox.errors import ConfigError

SERVICE_TYPE = "_wyoming._tcp.local."
_MDNS_GROUP = "224.0.0.251"


def zeroconf_module() -> Any:
    """``zeroconf.asyncio``, or a :class:`ConfigError` that says how to install it."""
    try:
        return importlib.import_module("zeroconf.asyncio")
    except ImportError:
        raise ConfigError(
            "--zeroconf needs the zeroconf package: pip install 'hearthvox[zeroconf]'"
        ) from None


def lan_address() -> str:
    """The address of the interface that routes to the mDNS group (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((_MDNS_GROUP, 1))
        address: str = probe.getsockname()[0]
        return address


class Announcement:
    """Register the service on start, unregister it on close."""

    def __init__(self, name: str, host: str, port: int) -> None:
        self._module = zeroconf_module()
        self.name = name
        self.host = lan_address() if host in ("0.0.0.0", "::", "") else host
        self.port = port
        self._zc: Any = None

    async def start(self) -> None:
        info = self._module.AsyncServiceInfo(
            SERVICE_TYPE,
            f"{self.name}.{SERVICE_TYPE}",
            addresses=[socket.inet_aton(self.host)],
            port=self.port,
        )
        self._zc = self._module.AsyncZeroconf()
        await self._zc.async_register_service(info)

    async def close(self) -> None:
        if self._zc is not None:
            await self._zc.async_unregister_all_services()
            await self._zc.async_close()
            self._zc = None
