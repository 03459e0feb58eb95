"""Wake arbitration: the same wake word heard by several satellites answers once.

The first detection opens a window (``[hub] arbitration_window_ms``, 300 ms by
default); every satellite that hears the first one's room (:class:`Hearing`) and
detects the wake word within the window makes a claim in it with its evidence, and
when the window closes exactly one claim of it wins:

1. the claims whose wake score is within :data:`SCORE_BAND` of the best score are
   the confident ones (a much clearer wake word wins outright; the score is the one
   of the frame that fired, anywhere between the threshold and 1, so only a wide gap
   says something);
2. of those, the one with the highest speech level wins (the 90th percentile of the
   20 ms frame levels, in dBFS, of the second of audio that ends where the wake word
   fired: the loud part of the phrase, however much room tone the second holds; the
   satellite nearest the speaker hears the phrase loudest);
3. a tie goes to the higher score, then to the earlier claim.

The others stand down: their turn is dropped and they go back to waiting without a
reply. A claim made after its window closed, or by a satellite that does not hear
the rooms of the open window's claims, opens a window of its own: two people in two
rooms that do not hear each other both get their answer, however close in time.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass

log = logging.getLogger(__name__)

SCORE_BAND = 0.3
"""Wake scores this close to the best count as equally sure; the level decides."""


@dataclass(frozen=True)
class Claim:
    """A satellite's wake detection, with the evidence it is judged by."""

    area: str
    score: float
    level_dbfs: float


def best(claims: list[Claim]) -> int:
    """The index of the winning claim (the rule in this module's docstring)."""
    top = max(c.score for c in claims)
    confident = [i for i, c in enumerate(claims) if c.score >= top - SCORE_BAND]
    return max(confident, key=lambda i: (claims[i].level_dbfs, claims[i].score, -i))


@dataclass(frozen=True)
class Verdict:
    """What a claim was told: whether it answers, and how many claims its window had."""

    won: bool
    claims: int


class Hearing:
    """Which satellites' microphones hear each other's rooms, from ``[[hub.satellites]]``
    ``hears`` lists (either side listing the other is enough). When no satellite says
    what it hears, each hears every other."""

    def __init__(self, hears: dict[str, tuple[str, ...] | None] | None = None) -> None:
        said = {a: h for a, h in (hears or {}).items() if h is not None}
        self.everyone = not said
        self._pairs = {frozenset((a, b)) for a, h in said.items() for b in h if b != a}

    def __call__(self, a: str, b: str) -> bool:
        return a == b or self.everyone or frozenset((a, b)) in self._pairs


class _Round:
    def __init__(self) -> None:
        self.claims: list[Claim] = []
        self.verdicts: list[asyncio.Future[Verdict]] = []


class Arbiter:
    """Collects claims for ``window_ms`` after the first, then tells each whether it won.

    Counts outcomes per area (``won`` / ``stood_down``) for the hub's summary; no
    audio and no text are kept."""

    def __init__(self, window_ms: float, hearing: Hearing | None = None) -> None:
        self.window_s = window_ms / 1000.0
        self.hearing = hearing or Hearing()
        self._rounds: list[_Round] = []
        self.counts: Counter[tuple[str, str]] = Counter()
        """(area, "won" | "stood_down") -> how many times."""

    def _round_for(self, area: str) -> _Round | None:
        for round_ in self._rounds:
            if any(self.hearing(area, c.area) for c in round_.claims):
                return round_
        return None

    async def claim(self, claim: Claim) -> Verdict:
        """The verdict on ``claim``; returns when its window closes (at once with no window)."""
        loop = asyncio.get_running_loop()
        round_ = self._round_for(claim.area)
        if round_ is None:
            round_ = _Round()
            self._rounds.append(round_)
            loop.call_later(self.window_s, self._decide, round_)
        verdict: asyncio.Future[Verdict] = loop.create_future()
        round_.claims.append(claim)
        round_.verdicts.append(verdict)
        return await verdict

    def _decide(self, round_: _Round) -> None:
        if round_ in self._rounds:
            self._rounds.remove(round_)
        claims = round_.claims
        winner = best(claims)
        for i, (claim, verdict) in enumerate(zip(claims, round_.verdicts, strict=True)):
            won = i == winner
            self.counts[(claim.area, "won" if won else "stood_down")] += 1
            if not verdict.done():  # a claimant cancelled (its satellite went away)
                verdict.set_result(Verdict(won, len(claims)))
        if len(claims) > 1:
            log.info(
                "arbitration: %s answers; %s stood down (%d claims in %.0f ms)",
                claims[winner].area,
                ", ".join(c.area for i, c in enumerate(claims) if i != winner),
                len(claims),
                self.window_s * 1000,
                extra={
                    "arbitration": {
                        "winner": claims[winner].area,
                        "stood_down": [c.area for i, c in enumerate(claims) if i != winner],
                        "claims": [
                            {"area": c.area, "score": round(c.score, 3), "level_dbfs": c.level_dbfs}
                            for c in claims
                        ],
                    }
                },
            )

    def summary(self) -> dict[str, dict[str, int]]:
        """area -> {"won": n, "stood_down": n}."""
        out: dict[str, dict[str, int]] = {}
        for (area, outcome), n in sorted(self.counts.items()):
            out.setdefault(area, {"won": 0, "stood_down": 0})[outcome] = n
        return out
