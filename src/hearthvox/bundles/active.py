"""The daemon's side of the store: first-run set-up, the active bundle, trial and rollback.

At the first start the store is created: the default bundle is built from the
installed packages (models.lock), signed with this device's key (created then)
and activated on ``stable``. After that every start loads the current bundle of
the configured channel, after checking its signature and that no file changed.
A bundle on trial gets a health check; see :func:`start_active_bundle`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from hearthvox import config as config_mod
from hearthvox.bundles.channels import ChannelState, Ref, restore_hint
from hearthvox.bundles.default import ModelPaths, paths_for
from hearthvox.bundles.install import HardwareCheck, Policy, built_here, install_bundle
from hearthvox.bundles.lock import load_lock
from hearthvox.bundles.manifest import manifest_from_lock, now_utc
from hearthvox.bundles.signing import (
    TrustedKeys,
    envelope_bytes,
    load_or_create_local_key,
    local_public,
    open_envelope,
    parse_public,
    sign,
)
from hearthvox.bundles.store import Installed, Store
from hearthvox.config import Config
from hearthvox.errors import ConfigError, HearthvoxError, ModelError
from hearthvox.paths import Paths, user_paths

log = logging.getLogger(__name__)
T = TypeVar("T")


def open_store(paths: Paths | None = None) -> Store:
    return Store.open((paths or user_paths()).data_dir)


def trusted_keys(cfg: Config, store: Store) -> TrustedKeys:
    keys = [parse_public(k) for k in cfg.models.trusted_keys]
    local = local_public(store.keys) if cfg.models.trust_local_key else None
    return TrustedKeys.of(*keys, *([local] if local else []))


def policy(cfg: Config, store: Store, hardware: HardwareCheck) -> Policy:
    """The keys, trial tries and time of *cfg*, with *hardware* as the device's check
    (:func:`hearthvox.compat.refusal.check_manifest`)."""
    return Policy(trusted_keys(cfg, store), cfg.models.trial_tries, now_utc(), hardware)


def default_bundle_bytes(store: Store) -> bytes:
    """The default bundle of the packaged models.lock, signed by this device's key."""
    key = load_or_create_local_key(store.keys)
    manifest = manifest_from_lock(load_lock(), "default", channel="stable", now=now_utc())
    for installed in store.installed():  # built before: the same bytes, so a no-op install
        if installed.manifest.ref == manifest.ref and installed.manifest.channel == "stable":
            with contextlib.suppress(ModelError):
                open_envelope(installed.data, TrustedKeys.of(key.public), "")
                return installed.data
    return envelope_bytes(sign(manifest.to_dict(), key.private))


def ensure_initialised(store: Store, cfg: Config) -> None:
    """First run: install the default bundle from the installed packages on ``stable``."""
    if store.read_channel("stable").current is not None:
        return
    with store.writer():
        if store.read_channel("stable").current is not None:
            return  # another process did it while we waited
        log.info("first start: building the default bundle from the installed packages")
        data = default_bundle_bytes(store)
        install_bundle(store, data, None, "stable", policy(cfg, store, built_here), activate=True)


def active_model_paths(cfg: Config, paths: Paths | None = None) -> ModelPaths:
    """The model paths of the current bundle of the configured channel, checked."""
    store = open_store(paths)
    ensure_initialised(store, cfg)
    return _current_paths(store, cfg)


def _current_paths(store: Store, cfg: Config) -> ModelPaths:
    channel = cfg.models.channel
    state = store.read_channel(channel)
    if state.current is None:
        raise ModelError(
            f"channel {channel} has no bundle; install one with: hearthvox models install SOURCE "
            f'--channel {channel} --activate (or set [models] channel = "stable")'
        )
    return installed_paths(store, cfg, store.get(state.current.manifest), channel)


def installed_paths(store: Store, cfg: Config, installed: Installed, channel: str) -> ModelPaths:
    """The model paths of an installed bundle, after checking its signature and files."""
    manifest = installed.manifest
    open_envelope(installed.data, trusted_keys(cfg, store), f"the manifest of {manifest.ref}")
    problems = store.check_objects(manifest.objects(), False, manifest.ref)
    problems += store.check_tree(installed)
    if problems:
        raise ModelError(
            f"{problems[0]}; the bundle is not used. Run: hearthvox models verify --repair "
            f"(or roll back: hearthvox models rollback --channel {channel})"
        )
    return _paths(store, installed)


def _paths(store: Store, installed: Installed) -> ModelPaths:
    manifest = installed.manifest
    files = store.bundle_files(installed.sha256)
    return paths_for(
        manifest.spec(),
        manifest.artifact,
        lambda a: files / a.id,
        bundle_id=manifest.ref,
        settings=manifest.settings(),
        hardware=manifest.hardware,
    )


def check_config_fits(cfg: Config, models: ModelPaths) -> None:
    """What the user's config asks of the bundle (its wake words) is there: a mistake in the
    config is the user's, reported as such (exit 2), and never held against the bundle."""
    if "wake.models" not in config_mod.user_keys(cfg):
        return
    missing = [m for m in cfg.wake.models if m not in models.wake_models]
    if missing:
        known = ", ".join(sorted(models.wake_models))
        raise ConfigError(
            f"[wake] models: {missing[0]!r} is not a wake word of bundle {models.bundle_id} "
            f"(it has: {known})"
        )


def start_active_bundle(
    cfg: Config,
    paths: Paths | None,
    load: Callable[[ModelPaths], T],
    check: Callable[[T], object],
) -> tuple[ModelPaths, T]:
    """Load the active bundle with *load*; a bundle on trial must also pass *check*.

    The config is checked against the bundle first: a config mistake is reported
    (ConfigError) before any trial logic and never uses up a try. Each start of a
    bundle on trial uses up one try before the check runs (so a crash counts too). A
    failed check stops the start with a ModelError while tries are left; the failure
    that uses the last try rolls the channel back to the latest bundle that passed its
    health check on this device, says so in the log and in ``models status``, and the
    start goes on with that bundle. With no such bundle the start is refused.
    """
    store = open_store(paths)
    ensure_initialised(store, cfg)
    channel = cfg.models.channel
    state = store.read_channel(channel)
    if state.current is not None:
        try:
            current = _paths(store, store.get(state.current.manifest))
        except ModelError:
            current = None  # the bundle's own fault: the trial below sees it too
        if current is not None:
            check_config_fits(cfg, current)
    if state.trial_state != "pending":
        return _load_checked(store, cfg, load)
    with store.writer():
        state = store.read_channel(channel)
        pending = state.trial is not None and state.trial.state == "pending"
        if pending and state.trial is not None and state.trial.tries_left <= 0:
            state = state.auto_rollback(now_utc(), "the daemon stopped during its checks")
            store.write_channel(state)
            _warn_rolled_back(state)
            pending = False
        elif pending:
            state = state.trial_started(now_utc())
            store.write_channel(state)
    if not pending:
        return _load_checked(store, cfg, load)
    on_trial = state.current
    try:
        models = _current_paths(store, cfg)
        engines = load(models)
        check(engines)
    except ConfigError:
        _give_back_try(store, channel, on_trial)
        raise
    except HearthvoxError as exc:
        why = str(exc)
        with store.writer():
            state = store.read_channel(channel)
            if state.current != on_trial or state.trial is None:
                raise
            state = state.trial_failed(now_utc(), why)
            if state.trial is not None and state.trial.tries_left <= 0:
                state = state.auto_rollback(now_utc(), why)
                store.write_channel(state)
                _warn_rolled_back(state)
                if not state.runnable():
                    raise ModelError(state.trial.message if state.trial else why) from exc
                models = _current_paths(store, cfg)
                return models, load(models)
            store.write_channel(state)
        left = state.trial.tries_left if state.trial else 0
        good = state.good_history()
        back = (
            f"channel {channel} rolls back to the latest bundle that passed here ({good})"
            if good != "none"
            else "the channel stops: no earlier bundle passed its health check here"
        )
        raise ModelError(
            f"bundle {on_trial} is on trial and failed its health check: {why}. "
            f"{left} start(s) left before {back}; to roll back now: "
            f"hearthvox models rollback --channel {channel}"
        ) from exc
    with store.writer():
        state = store.read_channel(channel)
        if state.current == on_trial and state.trial_state == "pending":
            store.write_channel(state.trial_passed(now_utc()))
    log.info("bundle %s passed its health check; it is no longer on trial", on_trial)
    return models, engines


def _load_checked(
    store: Store, cfg: Config, load: Callable[[ModelPaths], T]
) -> tuple[ModelPaths, T]:
    """Load the current bundle, which must have passed its health check on this device."""
    state = store.read_channel(cfg.models.channel)
    if state.current is not None and not state.runnable():
        why = state.trial.message if state.trial and state.trial.message else ""
        raise ModelError(
            why
            or f"bundle {state.current} of channel {state.channel} never passed its health check "
            f"on this device: refused to start. {restore_hint(state.channel)}"
        )
    models = _current_paths(store, cfg)
    return models, load(models)


def _give_back_try(store: Store, channel: str, on_trial: Ref | None) -> None:
    """A config error stopped the start: the try it used does not count."""
    with store.writer():
        state = store.read_channel(channel)
        if state.current == on_trial and state.trial is not None and state.trial_state == "pending":
            trial = dataclasses.replace(state.trial, tries_left=state.trial.tries_left + 1)
            state = dataclasses.replace(state, trial=trial)
            store.write_channel(state.noted(now_utc(), "trial-not-counted", on_trial, "config"))


def _warn_rolled_back(state: ChannelState) -> None:
    message = state.trial.message if state.trial else ""
    if state.runnable():
        log.warning("automatic rollback: %s", message)
    else:
        log.error("no automatic rollback: %s", message)


# ---------------------------------------------------------------- which bundle is in use


def record_in_use(paths: Paths, channel: str, bundle: str) -> Path:
    """Note (for ``models status``) that this process runs *bundle*; removed at exit."""
    import atexit

    folder = paths.state_dir / "models-in-use"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{os.getpid()}.json"
    path.write_text(json.dumps({"pid": os.getpid(), "channel": channel, "bundle": bundle}))
    atexit.register(path.unlink, missing_ok=True)
    return path


def in_use(paths: Paths) -> list[dict[str, Any]]:
    """The bundles live hearthvox processes run (stale records are skipped)."""
    folder = paths.state_dir / "models-in-use"
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            record = json.loads(path.read_text())
            os.kill(int(record["pid"]), 0)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        found.append(record)
    return found
