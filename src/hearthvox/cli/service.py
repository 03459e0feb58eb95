"""``hearthvox service install|uninstall|status``: the daemon as a systemd user service."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import click

from hearthvox.batch.guard import daemon_lock_path, daemon_running
from hearthvox.cli.options import json_option, quiet, refuse
from hearthvox.errors import HearthvoxError, OutputError
from hearthvox.service.lock import holder_pid
from hearthvox.service.units import UNIT_NAME, this_command, user_unit, user_unit_dir

ENABLE_BY_HAND = f"systemctl --user daemon-reload && systemctl --user enable --now {UNIT_NAME}"


def _systemctl(*args: str) -> subprocess.CompletedProcess[str] | None:
    """``systemctl --user ARGS``; None when there is no systemctl."""
    exe = shutil.which("systemctl")
    if exe is None:
        return None
    try:
        return subprocess.run(
            [exe, "--user", *args], capture_output=True, text=True, timeout=60, check=False
        )
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess([exe, *args], 1, "", "systemctl did not answer in 60 s")


def _failed(proc: subprocess.CompletedProcess[str] | None) -> str | None:
    """Why a systemctl call failed, or None when it worked."""
    if proc is None:
        return "there is no systemctl on this machine"
    if proc.returncode != 0:
        return (proc.stderr.strip() or proc.stdout.strip() or f"status {proc.returncode}").split(
            "\n"
        )[0]
    return None


@click.group()
def service() -> None:
    """Run the assistant as a systemd user service (starts at login, restarts when hung).

    \b
    hearthvox service install      # write ~/.config/systemd/user/hearthvox.service, enable, start
    hearthvox service status       # the unit, systemd's view, the running daemon
    hearthvox service uninstall    # stop, disable, remove the unit
    journalctl --user -u hearthvox -f   # its log

    For the system-wide service of the Debian package see docs/service.md.
    """


@service.command()
@click.option(
    "--enable/--no-enable",
    default=True,
    show_default=True,
    help="Enable and start it now (--no-enable: only write the unit).",
)
@click.option(
    "--command",
    "command",
    metavar="CMD",
    help="The hearthvox command the unit starts (default: the one running now).",
)
@click.option("--dry-run", is_flag=True, help="Print the unit and its path; change nothing.")
@json_option("One JSON object: the unit written and whether it was enabled.")
def install(enable: bool, command: str | None, dry_run: bool, as_json: bool) -> None:
    """Write the user unit, then enable and start it (systemctl --user enable --now)."""
    if dry_run and as_json:
        raise refuse("--dry-run prints the unit itself; --json reports a real install")
    text = user_unit(command or this_command())
    path = user_unit_dir() / UNIT_NAME
    if dry_run:
        click.echo(f"# {path}")
        click.echo(text, nl=False)
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{UNIT_NAME}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror}") from exc
    say = (lambda _msg: None) if as_json else click.echo
    say(f"wrote {path}")
    if enable:
        why = _failed(_systemctl("daemon-reload")) or _failed(
            _systemctl("enable", "--now", UNIT_NAME)
        )
        if why is not None:
            raise HearthvoxError(
                f"the unit is written, but systemctl --user failed: {why}. In your desktop "
                f"session (or after loginctl enable-linger $USER) run: {ENABLE_BY_HAND}"
            )
        say(f"enabled and started; its log: journalctl --user -u {UNIT_NAME} -f")
    else:
        say(f"to start it: {ENABLE_BY_HAND}")
    if as_json:
        click.echo(json.dumps({"unit": str(path), "written": True, "enabled": enable}))


@service.command()
@json_option("One JSON object: whether the unit was there and is removed.")
def uninstall(as_json: bool) -> None:
    """Stop and disable the user service and remove its unit."""
    path = user_unit_dir() / UNIT_NAME
    stopped = _failed(_systemctl("disable", "--now", UNIT_NAME))
    existed = path.exists()
    if stopped is not None and existed and not quiet():
        click.echo(f"note: systemctl --user disable --now failed ({stopped})", err=True)
    if existed:
        path.unlink()
    _systemctl("daemon-reload")
    if as_json:
        click.echo(json.dumps({"unit": str(path), "removed": existed, "disabled": stopped is None}))
    elif existed:
        click.echo(f"removed {path}")
    else:
        click.echo(f"no user unit at {path}")


def _state(*args: str) -> str | None:
    proc = _systemctl(*args, UNIT_NAME)
    if proc is None:
        return None
    return proc.stdout.strip() or None


def _status() -> dict[str, Any]:
    path = user_unit_dir() / UNIT_NAME
    lock = daemon_lock_path()
    running = daemon_running(lock)
    installed = path.is_file()
    return {
        "unit": str(path),
        "installed": installed,
        "current": installed and path.read_text(encoding="utf-8") == user_unit(this_command()),
        "enabled": _state("is-enabled"),
        "active": _state("is-active"),
        "daemon_running": running,
        "pid": holder_pid(lock) if running else None,
        "lock": str(lock),
    }


@service.command()
@json_option("One JSON object.")
def status(as_json: bool) -> None:
    """The user unit (installed? current?), what systemd says, and the running daemon."""
    st = _status()
    if as_json:
        click.echo(json.dumps(st))
        return
    unit = Path(st["unit"])
    if not st["installed"]:
        click.echo(f"unit:    not installed ({unit}); hearthvox service install")
    else:
        stale = "" if st["current"] else " (differs from what install writes now)"
        click.echo(f"unit:    {unit}{stale}")
    enabled, active = st["enabled"] or "unknown", st["active"] or "unknown"
    click.echo(f"systemd: {enabled}, {active}")
    daemon = f"running (pid {st['pid']})" if st["daemon_running"] else "not running"
    click.echo(f"daemon:  {daemon}; lock {st['lock']}")
