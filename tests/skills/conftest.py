"""Fixtures for the skill tests: a clock the test moves by hand, a context in tmp_path."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hearthvox.skills.base import SkillContext

# Saturday, November 28, 2026, 23:04:00 UTC
T0 = 1795907040.0


@dataclass
class FakeClock:
    """A clock that only moves when the test says so."""

    t: float = T0

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ctx(clock: FakeClock, tmp_path: Path) -> SkillContext:
    return SkillContext(clock=clock, state_dir=tmp_path / "state", timezone=ZoneInfo("UTC"))
