"""A hearthvox Wyoming server on 127.0.0.1 port 0 with the real engines, shared by the tests."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator

import pytest

from hearthvox.bundles.default import ModelPaths, default_model_paths
from hearthvox.config import Config
from hearthvox.engines import Engines
from hearthvox.protocol.framing import FrameLimits
from hearthvox.protocol.options import ServerOptions
from hearthvox.protocol.services import Services, make_services

from .wyclient import ServerThread

# a short frame timeout, so that the fuzz's stalled frames end quickly
LIMITS = FrameLimits(frame_timeout_s=0.5, idle_timeout_s=30.0, write_timeout_s=5.0)
OPTIONS = ServerOptions(limits=LIMITS, max_connections=64)

ServicesMaker = Callable[..., Services]


@pytest.fixture(scope="session")
def model_paths() -> ModelPaths:
    return default_model_paths()


@pytest.fixture(scope="session")
def new_services(engines: Engines, model_paths: ModelPaths) -> ServicesMaker:
    """Fresh Services (their locks belong to one event loop) over the shared engines."""
    return functools.partial(make_services, engines, model_paths, Config())


@pytest.fixture(scope="session")
def wyoming_server(new_services: ServicesMaker) -> Iterator[ServerThread]:
    with ServerThread(new_services(), OPTIONS) as server:
        yield server
