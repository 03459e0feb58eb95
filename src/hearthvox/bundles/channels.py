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
        return cls(str(raw["bundle"]), int(raw["version"]), str(raw["manifest"]))


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

    def rollback(self, to: Ref | None, tries: int, now: datetime, action: str) -> ChannelState:
        """Back to *to* (an earlier entry of the history), or to the previous bundle."""
        if len(self.stack) < 2:
            raise ModelError(
                f"channel {self.channel} has no previous bundle to roll back to "
                f"(current: {self.current or 'none'})"
            )
        if to is None:
            stack = self.stack[:-1]
        else:
            earlier = [i for i, r in enumerate(self.stack[:-1]) if r == to]
            if not earlier:
                history = ", ".join(str(r) for r in self.stack)
                raise ModelError(
                    f"{to} is not in channel {self.channel}'s history ({history}); "
                    f"roll back to one of those"
                )
            stack = self.stack[: earlier[-1] + 1]
        target = stack[-1]
        trial = (
            Trial("passed") if target.manifest in self.passed else Trial("pending", tries, tries)
        )
        state = replace(self, stack=stack, trial=trial)
        return state.noted(now, action, target, f"from {self.current}")

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
        failed = self.current
        state = self.rollback(None, 0, now, "auto-rollback")
        tries = self.trial.tries if self.trial else 0
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
    def from_dict(cls, raw: dict[str, Any]) -> ChannelState:
        t = raw.get("trial")
        trial = None
        if t is not None:
            back = t.get("rolled_back_from")
            trial = Trial(
                cast(TrialState, t["state"]),
                int(t["tries_left"]),
                int(t["tries"]),
                str(t.get("message", "")),
                Ref.from_dict(back) if back else None,
            )
        return cls(
            channel=str(raw["channel"]),
            stack=tuple(Ref.from_dict(r) for r in raw["stack"]),
            highest_version=int(raw["highest_version"]),
            trial=trial,
            passed=tuple(str(p) for p in raw.get("passed", [])),
            log=tuple(raw.get("log", [])),
        )
