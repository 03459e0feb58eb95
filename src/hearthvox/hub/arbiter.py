"""Wake arbitration: the same wake word heard by several satellites answers once.

The first detection opens a window (``[hub] arbitration_window_ms``, 300 ms by
default); every satellite that detects the wake word within it makes a claim with
its evidence, and when the window closes exactly one claim wins:

1. the claims whose wake score is within :data:`SCORE_BAND` of the best score are
   the confident ones (a much clearer wake word wins outright);
2. of those, the one with the highest speech level wins (the RMS, in dBFS, of the
   second of audio that ends where the wake word fired: the satellite nearest the
   speaker hears the phrase loudest);
3. a tie goes to the higher score, then to the earlier claim.

The others stand down: their turn is dropped and they go back to waiting without a
reply. A claim made after its window closed opens a window of its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass

log = logging.getLogger(__name__)

SCORE_BAND = 0.1
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


class _Round:
    def __init__(self) -> None:
        self.claims: list[Claim] = []
        self.verdicts: list[asyncio.Future[bool]] = []


class Arbiter:
    """Collects claims for ``window_ms`` after the first, then tells each whether it won.

    Counts outcomes per area (``won`` / ``stood_down``) for the hub's summary; no
    audio and no text are kept."""

    def __init__(self, window_ms: float) -> None:
        self.window_s = window_ms / 1000.0
        self._round: _Round | None = None
        self.counts: Counter[tuple[str, str]] = Counter()
        """(area, "won" | "stood_down") -> how many times."""

    async def claim(self, claim: Claim) -> bool:
        """Whether ``claim`` wins; returns when its window closes (at once with no window)."""
        loop = asyncio.get_running_loop()
        if self._round is None:
            self._round = _Round()
            loop.call_later(self.window_s, self._decide, self._round)
        verdict: asyncio.Future[bool] = loop.create_future()
        self._round.claims.append(claim)
        self._round.verdicts.append(verdict)
        return await verdict

    def _decide(self, round_: _Round) -> None:
        if self._round is round_:
            self._round = None
        claims = round_.claims
        winner = best(claims)
        for i, (claim, verdict) in enumerate(zip(claims, round_.verdicts, strict=True)):
            won = i == winner
            self.counts[(claim.area, "won" if won else "stood_down")] += 1
            if not verdict.done():  # a claimant cancelled (its satellite went away)
                verdict.set_result(won)
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
