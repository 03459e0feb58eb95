"""One conversation with the local language model, under a budget of turns and tokens.

The history is kept as token ids (the model's own encoding of each question and reply,
so that a new turn's prompt starts with exactly the tokens already in the KV cache) and
only in memory: nothing here is written anywhere, and :meth:`Conversation.__repr__`
shows counts, never content.

The policy when a budget is reached: the oldest turns are dropped, whole, until the
history fits; the system prompt is never dropped (it is not part of the history). A
conversation silent for ``idle_timeout_s`` ends: its turns are cleared.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ConversationBudget:
    keep_turns: int = 8
    """Question-and-answer pairs kept as history (0: every question stands alone)."""
    keep_tokens: int = 1024
    """History tokens kept (the system prompt not counted)."""
    idle_timeout_s: float = 300.0


@dataclass(frozen=True)
class Turn:
    """One question and its reply, as the model's token ids (chat template included)."""

    question: tuple[int, ...]
    reply: tuple[int, ...]

    @property
    def tokens(self) -> int:
        return len(self.question) + len(self.reply)


_KEYS = itertools.count(1)


class Conversation:
    """The turns of one conversation (see the module doc). Not thread-safe: one
    conversation is used by one turn at a time."""

    def __init__(
        self, budget: ConversationBudget, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.budget = budget
        self.clock = clock
        self.key = next(_KEYS)
        """Which conversation this is, kept by a copy (a reply started ahead runs on a
        copy that then stands in for it): the engine knows its turns in the KV cache."""
        self._turns: deque[Turn] = deque()
        self._tokens = 0
        self.last_used = clock()
        self.dropped = 0
        """Turns dropped over the budget so far (a count, for telemetry)."""
        self.reported = 0
        """Of those, the ones a reply's figures have counted already."""
        self.dropped_tokens = 0
        """Their tokens: the engine takes them out of its KV cache instead of computing
        the kept turns again."""
        self.ended = 0
        """Times the conversation ended on the idle timeout."""

    def __repr__(self) -> str:  # counts only: the turns are what was said
        return f"Conversation(turns={len(self._turns)}, tokens={self._tokens})"

    @property
    def turns(self) -> int:
        return len(self._turns)

    @property
    def tokens(self) -> int:
        """Tokens of the history kept now."""
        return self._tokens

    def history(self) -> list[int]:
        """The kept turns' tokens, oldest first."""
        out: list[int] = []
        for turn in self._turns:
            out += turn.question
            out += turn.reply
        return out

    def idle(self, now: float | None = None) -> bool:
        now = self.clock() if now is None else now
        return bool(self._turns) and now - self.last_used >= self.budget.idle_timeout_s

    def expire(self, now: float | None = None) -> bool:
        """End the conversation if it has been idle too long (its state is freed)."""
        if not self.idle(now):
            return False
        self.clear()
        self.ended += 1
        return True

    def clear(self) -> None:
        self._turns.clear()
        self._tokens = 0

    def fit(self, room_tokens: int) -> int:
        """Drop the oldest turns until the history is within ``keep_turns`` turns,
        ``keep_tokens`` tokens and ``room_tokens`` (what the context has left beside the
        system prompt, the question and the longest reply). Returns the number dropped."""
        limit = max(0, min(self.budget.keep_tokens, room_tokens))
        return self._drop(self.budget.keep_turns, limit)

    def add(self, turn: Turn) -> int:
        """Keep ``turn`` as the newest, then hold the history to the budget. Returns the
        number of older turns dropped."""
        self.last_used = self.clock()
        if self.budget.keep_turns == 0:
            return 0
        self._turns.append(turn)
        self._tokens += turn.tokens
        return self._drop(self.budget.keep_turns, self.budget.keep_tokens)

    def touch(self) -> None:
        self.last_used = self.clock()

    def _drop(self, max_turns: int, max_tokens: int) -> int:
        n = 0
        while self._turns and (len(self._turns) > max_turns or self._tokens > max_tokens):
            gone = self._turns.popleft().tokens
            self._tokens -= gone
            self.dropped_tokens += gone
            n += 1
        self.dropped += n
        return n
