"""sd_notify over a real datagram socket; a no-op without one."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from hearthvox.service.notify import Notifier, ServiceEnv, monotonic_usec


def _bound(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(5)
    return sock


def _fields(sock: socket.socket) -> dict[str, str]:
    return dict(line.split("=", 1) for line in sock.recv(4096).decode().split("\n"))


def test_messages_arrive_as_one_datagram_each(tmp_path: Path) -> None:
    sock = _bound(tmp_path / "notify.sock")
    notifier = Notifier(str(tmp_path / "notify.sock"))
    assert notifier.enabled
    assert notifier.ready("listening\non two lines")
    assert _fields(sock) == {"READY": "1", "STATUS": "listening on two lines"}
    before = monotonic_usec()
    notifier.reloading("reloading")
    fields = _fields(sock)
    assert fields["RELOADING"] == "1"
    assert before <= int(fields["MONOTONIC_USEC"]) <= monotonic_usec()
    notifier.watchdog()
    assert _fields(sock) == {"WATCHDOG": "1"}
    notifier.stopping("stopping")
    assert _fields(sock)["STOPPING"] == "1"
    notifier.close()
    sock.close()


def test_abstract_socket_names_start_with_an_at_sign() -> None:
    name = f"hearthvox-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(5)
    Notifier("@" + name).status("hello")
    assert _fields(sock) == {"STATUS": "hello"}
    sock.close()


def test_without_a_service_manager_nothing_is_sent() -> None:
    notifier = Notifier(None)
    assert not notifier.enabled
    assert not notifier.ready("listening") and not notifier.watchdog()


def test_a_vanished_socket_is_reported_once_and_not_fatal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = Notifier(str(tmp_path / "gone.sock"))
    assert not notifier.watchdog() and not notifier.watchdog()
    assert len([r for r in caplog.records if "cannot notify" in r.message]) == 1


def test_the_environment_is_taken_and_the_watchdog_is_ours_only() -> None:
    env = {"NOTIFY_SOCKET": "/run/n", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}
    taken = ServiceEnv.take(env)
    assert taken == ServiceEnv("/run/n", 30_000_000) and taken.watchdog_s == 30.0
    assert env == {}  # children do not inherit them
    other = ServiceEnv.take({"NOTIFY_SOCKET": "/run/n", "WATCHDOG_USEC": "5", "WATCHDOG_PID": "1"})
    assert other.watchdog_usec is None  # meant for another process
    assert ServiceEnv.take({"WATCHDOG_USEC": "soon"}).watchdog_usec is None
    assert ServiceEnv.take({}) == ServiceEnv()
