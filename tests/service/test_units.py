"""The systemd units (checked by systemd-analyze verify) and ``hearthvox service``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hearthvox.service.units import PACKAGED_COMMAND, packaged_unit, user_unit

REPO = Path(__file__).resolve().parents[2]
HEARTHVOX = str(Path(sys.executable).parent / "hearthvox")
needs_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed (scripts/setup --dev installs systemd)",
)


def verify(unit: Path, user: bool, tmp_path: Path) -> str:
    """``systemd-analyze [--user] verify``: everything it says (empty when the unit is clean)."""
    runtime = tmp_path / "xdg-runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    proc = subprocess.run(
        ["systemd-analyze", *(["--user"] if user else []), "verify", str(unit)],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "XDG_RUNTIME_DIR": str(runtime), "SYSTEMD_LOG_COLOR": "0"},
    )  # fmt: skip
    said = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 0, said
    return said


def test_packaging_links_to_the_units_the_package_data_holds() -> None:
    for name, kind in (("hearthvox.service", "system"), ("hearthvox-user.service", "user")):
        text = (REPO / "packaging" / "systemd" / name).read_text(encoding="utf-8")
        assert text == packaged_unit(kind)
        for key in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "StartLimitBurst="):
            assert f"\n{key}" in text, (name, key)
        assert f"ExecStart={PACKAGED_COMMAND} run" in text
    system = packaged_unit("system")
    for key in ("NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes", "User=hearthvox"):
        assert f"\n{key}" in system


@needs_analyze
@pytest.mark.parametrize("kind", ["system", "user"])
def test_systemd_analyze_verify_finds_nothing_to_say(kind: str, tmp_path: Path) -> None:
    unit = tmp_path / "hearthvox.service"  # with a command that exists on this machine
    unit.write_text(packaged_unit(kind).replace(PACKAGED_COMMAND, HEARTHVOX))
    assert verify(unit, kind == "user", tmp_path) == ""


def test_a_broken_unit_is_caught_by_the_check(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    unit = tmp_path / "hearthvox.service"
    unit.write_text(user_unit(HEARTHVOX).replace("WatchdogSec=", "WatchdogSecs="))
    assert "Unknown key" in verify(unit, True, tmp_path)


def hv(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hearthvox", "service", *args],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip


@pytest.fixture
def session(tmp_path: Path, hearthvox_home: Path) -> dict[str, str]:
    """A desktop session whose ``systemctl --user`` only records what it is asked (there is
    no user manager in the test machine; the real systemctl is used where it can answer)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "systemctl"
    stub.write_text(
        '#!/bin/sh\necho "$*" >> "$SYSTEMCTL_LOG"\n'
        'case "$2" in is-enabled) echo enabled ;; is-active) echo active ;; esac\n'
        'exit "${SYSTEMCTL_RC:-0}"\n'
    )
    stub.chmod(0o755)
    return {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "SYSTEMCTL_LOG": str(tmp_path / "systemctl.log"),
        "HEARTHVOX_HOME": str(hearthvox_home),
    }


def test_install_status_uninstall(session: dict[str, str], tmp_path: Path) -> None:
    unit = tmp_path / "config" / "systemd" / "user" / "hearthvox.service"
    dry = hv("install", "--dry-run", env=session)
    assert dry.returncode == 0 and not unit.exists() and f"# {unit}" in dry.stdout

    done = hv("install", env=session)
    assert done.returncode == 0, done.stderr
    text = unit.read_text()
    assert f"ExecStart={HEARTHVOX} run\n" in text
    assert f'Environment="HEARTHVOX_HOME={session["HEARTHVOX_HOME"]}"' in text
    log = Path(session["SYSTEMCTL_LOG"])
    assert log.read_text().splitlines() == [
        "--user daemon-reload",
        "--user enable --now hearthvox.service",
    ]

    status = json.loads(hv("status", "--json", env=session).stdout)
    assert status["installed"] and status["current"]
    assert (status["enabled"], status["active"], status["daemon_running"]) == (
        "enabled", "active", False
    )  # fmt: skip
    assert "systemd: enabled, active" in hv("status", env=session).stdout

    gone = hv("uninstall", env=session)
    assert gone.returncode == 0 and not unit.exists()
    assert "--user disable --now hearthvox.service" in log.read_text()


def test_install_without_a_user_manager_says_what_to_run(session: dict[str, str]) -> None:
    failed = hv("install", env={**session, "SYSTEMCTL_RC": "1"})
    assert failed.returncode == 1
    assert "systemctl --user enable --now hearthvox.service" in failed.stderr
    only = hv("install", "--no-enable", env={**session, "SYSTEMCTL_RC": "1"})
    assert only.returncode == 0 and "to start it:" in only.stdout


SERVE_UNIT = REPO / "src" / "hearthvox" / "data" / "hearthvox-serve.service"
# what the Wyoming server needs instead of the daemon's sound devices: the network it serves on
_SERVE_DIFFERS = ("DeviceAllow=", "SupplementaryGroups=", "RestrictAddressFamilies=")


def _settings(text: str) -> set[str]:
    return {ln for ln in text.splitlines() if ln and not ln.startswith(("#", "["))}


def test_the_serve_unit_has_the_daemons_hardening_and_a_watchdog() -> None:
    text = SERVE_UNIT.read_text(encoding="utf-8")
    assert (REPO / "packaging" / "systemd" / "hearthvox-serve.service").read_text() == text
    serve = _settings(text)
    for key in ("Type=notify", "NotifyAccess=main", "WatchdogSec=30", "Restart=on-failure"):
        assert key in serve, key
    assert f"ExecStart={PACKAGED_COMMAND} serve --config /etc/hearthvox/config.toml" in serve
    hardening = {
        s for s in _settings(packaged_unit("system"))
        if s.startswith(("No", "Protect", "Private", "Restrict", "Lock", "Remove", "Capab",
                         "System", "UMask", "IPAddressDeny", "DevicePolicy", "User="))
        and not s.startswith(_SERVE_DIFFERS)
    }  # fmt: skip
    assert len(hardening) > 20 and hardening <= serve, hardening - serve
    assert "RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6" in serve
    assert "IPAddressAllow=localhost" in serve  # loopback by default, as `serve` listens
    assert not any(s.startswith(("DeviceAllow=", "SupplementaryGroups=")) for s in serve)


@needs_analyze
def test_systemd_analyze_verify_passes_the_serve_unit(tmp_path: Path) -> None:
    unit = tmp_path / "hearthvox-serve.service"
    unit.write_text(SERVE_UNIT.read_text(encoding="utf-8").replace(PACKAGED_COMMAND, HEARTHVOX))
    assert verify(unit, False, tmp_path) == ""
