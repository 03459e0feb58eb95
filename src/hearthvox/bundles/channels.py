"""Channel pointers: current bundle, history, highest version seen, trial state.

Pure data and transitions; :mod:`.store` reads and writes them atomically. A
channel's ``stack`` is its activation history: the last entry is the current
bundle, the one before it is where ``rollback`` goes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal, cast

from hearthvox.bundles.manifest import format_time
from hearthvox.errors import ModelError

TrialState = Literal["pending", "passed", "failed"]
_STACK_MAX = 16
_LOG_MAX = 40


@dataclass(frozen=True)
class Ref:
    bundle: str
    version: int
    manifest: str  # sha256 of the signed manifest file

    def __str__(self) -> str:
        return f"{self.bundle}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {"bundle": self.bundle, "version": self.version, "manifest": self.manifest}

    @classmethod
    def from_dict(cls, raw: Any) -> Ref:
        manifest = _sha(raw["manifest"])
        return cls(_str(raw["bundle"]), _int(raw["version"]), manifest)


@dataclass(frozen=True)
class Trial:
    state: TrialState
    tries_left: int = 0
    tries: int = 0
    message: str = ""
    rolled_back_from: Ref | None = None


@dataclass(frozen=True)
class ChannelState:
    channel: str
    stack: tuple[Ref, ...] = ()
    highest_version: int = 0
    trial: Trial | None = None
    passed: tuple[str, ...] = ()  # manifest sha256s that passed a health check here
    log: tuple[dict[str, Any], ...] = ()

    @property
    def current(self) -> Ref | None:
        return self.stack[-1] if self.stack else None

    @property
    def previous(self) -> Ref | None:
        return self.stack[-2] if len(self.stack) > 1 else None

    @property
    def trial_state(self) -> TrialState | None:
        return self.trial.state if self.trial else None

    def noted(self, now: datetime, action: str, ref: Ref | None, note: str = "") -> ChannelState:
        entry = {"time": format_time(now), "action": action, "bundle": str(ref) if ref else None}
        if note:
            entry["note"] = note
        return replace(self, log=(*self.log, entry)[-_LOG_MAX:])

    # ------------------------------------------------------------ transitions

    def activate(self, ref: Ref, tries: int, now: datetime) -> ChannelState:
        """*ref* becomes current, on trial with *tries* health checks to pass."""
        trial = Trial("pending", tries, tries)
        stack = (*self.stack, ref)[-_STACK_MAX:]
        state = replace(
            self, stack=stack, highest_version=max(self.highest_version, ref.version), trial=trial
        )
        return state.noted(now, "activate", ref)

    def rollback(self, to: Ref | None, now: datetime, action: str) -> ChannelState:
        """Back to *to* (an earlier entry of the history), or to the latest earlier bundle that
        passed its health check on this device. Only such a bundle is a rollback target: one
        never checked here is refused (it would run unchecked)."""
        if len(self.stack) < 2:
            raise ModelError(
                f"channel {self.channel} has no previous bundle to roll back to "
                f"(current: {self.current or 'none'})"
            )
        earlier = self.stack[:-1]
        if to is not None:
            found = [i for i, r in enumerate(earlier) if r == to]
            if not found:
                history = ", ".join(str(r) for r in self.stack)
                raise ModelError(
                    f"{to} is not in channel {self.channel}'s history ({history}); "
                    f"roll back to one of those"
                )
            if to.manifest not in self.passed:
                raise ModelError(
                    f"{to} never passed its health check on this device: refused (a rollback "
                    f"goes only to a bundle that did: {self.good_history()})"
                )
            stack = self.stack[: found[-1] + 1]
        else:
            good = [i for i, r in enumerate(earlier) if r.manifest in self.passed]
            if not good:
                raise NoGoodBundle(
                    f"channel {self.channel} has no earlier bundle that passed its health check "
                    f"on this device (history: {', '.join(str(r) for r in self.stack)}); refused. "
                    f"{restore_hint(self.channel)}"
                )
            stack = self.stack[: good[-1] + 1]
        state = replace(self, stack=stack, trial=Trial("passed"))
        return state.noted(now, action, stack[-1], f"from {self.current}")

    def good_history(self) -> str:
        good = [str(r) for r in self.stack[:-1] if r.manifest in self.passed]
        return ", ".join(good) or "none"

    def runnable(self) -> bool:
        """The current bundle passed its health check here, or is on trial to take it."""
        current = self.current
        return current is not None and (
            current.manifest in self.passed or self.trial_state == "pending"
        )

    def trial_started(self, now: datetime) -> ChannelState:
        """One start of the daemon on the bundle under trial: uses up one try."""
        trial = self.trial
        assert trial is not None and trial.state == "pending"
        state = replace(self, trial=replace(trial, tries_left=trial.tries_left - 1))
        return state.noted(now, "trial-start", self.current, f"{trial.tries_left - 1} tries left")

    def trial_passed(self, now: datetime) -> ChannelState:
        current = self.current
        assert current is not None
        passed = tuple(dict.fromkeys((*self.passed, current.manifest)))[-_STACK_MAX:]
        state = replace(self, trial=Trial("passed"), passed=passed)
        return state.noted(now, "trial-passed", current)

    def trial_failed(self, now: datetime, why: str) -> ChannelState:
        trial = self.trial
        assert trial is not None
        state = replace(self, trial=replace(trial, message=why))
        return state.noted(now, "trial-failed", self.current, why)

    def auto_rollback(self, now: datetime, why: str) -> ChannelState:
        """After the last failed try: back to the latest bundle that passed here. With none,
        the channel stays on the failed bundle, marked failed, and nothing runs it
        (:meth:`runnable` is false) until a good bundle is activated."""
        failed = self.current
        tries = self.trial.tries if self.trial else 0
        try:
            state = self.rollback(None, now, "auto-rollback")
        except NoGoodBundle as exc:
            message = f"{failed} failed its health check at {tries} start(s) ({why}); {exc}"
            state = self.noted(now, "trial-failed", failed, "no bundle to roll back to")
            return replace(state, trial=Trial("failed", 0, tries, message))
        message = (
            f"{failed} failed its health check at {tries} start(s) ({why}); "
            f"rolled back to {state.current}"
        )
        return replace(state, trial=Trial("failed", 0, tries, message, failed))

    # ------------------------------------------------------------ JSON

    def to_dict(self) -> dict[str, Any]:
        trial = None
        if self.trial is not None:
            t = self.trial
            trial = {
                "state": t.state,
                "tries_left": t.tries_left,
                "tries": t.tries,
                "message": t.message,
                "rolled_back_from": t.rolled_back_from.to_dict() if t.rolled_back_from else None,
            }
        return {
            "channel": self.channel,
            "stack": [r.to_dict() for r in self.stack],
            "highest_version": self.highest_version,
            "trial": trial,
            "passed": list(self.passed),
            "log": list(self.log),
        }

    @classmethod
    def from_dict(cls, raw: Any) -> ChannelState:
        """Parse a channel file's JSON; anything not of the expected shape raises
        TypeError, ValueError or KeyError."""
        raw = _obj(raw)
        t = raw.get("trial")
        trial = None
        if t is not None:
            t = _obj(t)
            back = t.get("rolled_back_from")
            if t["state"] not in _TRIAL_STATES:
                raise ValueError(f"trial state {str(t['state'])[:40]!r}")
            trial = Trial(
                cast(TrialState, t["state"]),
                _int(t["tries_left"]),
                _int(t["tries"]),
                _str(t.get("message", "")),
                Ref.from_dict(_obj(back)) if back is not None else None,
            )
        stack = _list(raw["stack"])
        if len(stack) > _STACK_MAX:
            raise ValueError(f"a history of {len(stack)} bundles (at most {_STACK_MAX})")
        log = _list(raw.get("log", []))
        return cls(
            channel=_str(raw["channel"]),
            stack=tuple(Ref.from_dict(_obj(r)) for r in stack),
            highest_version=_int(raw["highest_version"]),
            trial=trial,
            passed=tuple(_sha(p) for p in _list(raw.get("passed", []))[-_STACK_MAX:]),
            log=tuple(_obj(e) for e in log[-_LOG_MAX:]),
        )


_TRIAL_STATES = ("pending", "passed", "failed")


class NoGoodBundle(ModelError):
    """A channel has no bundle that passed its health check on this device to go back to."""


def restore_hint(channel: str) -> str:
    return (
        f"Restore a good bundle with: hearthvox models install SOURCE --channel {channel} "
        f"--activate (a bundle with a higher version), or run another channel: "
        f'[models] channel = "stable"'
    )


def _obj(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise TypeError(f"expected an object, found {type(raw).__name__}")
    return raw


def _list(raw: Any) -> list[Any]:
    if not isinstance(raw, list):
        raise TypeError(f"expected a list, found {type(raw).__name__}")
    return raw


def _str(raw: Any) -> str:
    if not isinstance(raw, str):
        raise TypeError(f"expected a string, found {type(raw).__name__}")
    return raw


def _int(raw: Any) -> int:
    if type(raw) is not int or not -(1 << 31) < raw < 1 << 31:
        raise TypeError(f"expected an integer, found {str(raw)[:40]!r}")
    return raw


def _sha(raw: Any) -> str:
    text = _str(raw)
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise ValueError(f"{text[:70]!r} is not a sha256")
    return text
