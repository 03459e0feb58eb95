"""The language model on a server of the user's network (``[llm] backend = "openai"``),
with the local model (:class:`hearthvox.engines.llm.LlamaLlm`) behind it.

A reply is asked of an OpenAI-compatible server (llama.cpp's server, Ollama, vLLM) and
streamed (:mod:`hearthvox.engines.llm_http`): the system prompt, the kept history and
the question go off the device. The local model answers the same question instead when
the server cannot be reached within ``connect_timeout_s``, sends no text within
``first_token_s``, or fails before its first words; after such a failure the server is
not asked again for ``retry_after_s`` (turns go straight to the local model). A reply
whose words have begun and then fail ends there, with one warning line: it is never
started again locally mid-sentence. Without a local model (the ``[llm]`` extra not
installed), a failed reply has no words and the fallback skill's reply is said.

The history sent is kept in memory only, as text, under the same budget as the local
model's (``keep_turns``, ``keep_tokens`` counted as characters / 4); what the engine
reports of a reply holds counts, times and which backend answered, never text.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from hearthvox.config import LlmConfig, ServerUrl, server_url
from hearthvox.engines.executor import EngineExecutor
from hearthvox.engines.llm import MAX_QUESTION_CHARS, SYSTEM_PROMPT, LlamaLlm, ReplyStats
from hearthvox.engines.llm_budget import LlmOptions
from hearthvox.engines.llm_conversation import Conversation, ConversationBudget
from hearthvox.engines.llm_http import Cancelled, ChatStream, StreamError, Timeout

log = logging.getLogger(__name__)

Backend = Literal["openai", "local", "none"]
"""Who answered: the server, the local model, or nobody (the fallback skill's reply)."""

CHARS_PER_TOKEN = 4
"""The history's budget counts text at about four characters a token."""
MAX_CHARS_PER_TOKEN = 32
"""A reply stops at ``max_new_tokens`` times this many characters (a server that sends
more than it was asked for)."""


@dataclass(frozen=True)
class RemoteOptions:
    """The server and its timeouts; :attr:`budgets` are the local model's own
    (``max_new_tokens``, ``reply_wall_s``, the history's ``conversation`` budget)."""

    url: ServerUrl
    model: str = ""
    api_key_env: str = ""
    connect_s: float = 1.0
    first_token_s: float = 1.5
    read_s: float = 2.0
    retry_after_s: float = 30.0
    budgets: LlmOptions = LlmOptions()
    system_prompt: str = SYSTEM_PROMPT

    @classmethod
    def from_config(cls, llm: LlmConfig) -> RemoteOptions:
        return cls(
            server_url(llm.url),
            llm.remote_model,
            llm.api_key_env,
            llm.connect_timeout_s,
            llm.first_token_s,
            llm.read_timeout_s,
            llm.retry_after_s,
            LlmOptions.from_config(llm),
        )

    @property
    def max_events(self) -> int:
        """Events a reply may take: one a token, and a few of framing."""
        return 4 * self.budgets.max_new_tokens + 32


class RemoteConversation:
    """The turns of one conversation as text (for the server), and the local model's own
    conversation (for the turns it answers). In memory only; :meth:`__repr__` shows
    counts, never content. Not thread-safe, like :class:`Conversation`."""

    def __init__(
        self,
        budget: ConversationBudget,
        local: Conversation | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.budget = budget
        self.local = local
        self.clock = clock
        self._turns: deque[tuple[str, str]] = deque()
        self._chars = 0
        self.last_used = clock()
        self.dropped = 0

    def __repr__(self) -> str:
        return f"RemoteConversation(turns={len(self._turns)}, chars={self._chars})"

    @property
    def turns(self) -> int:
        return len(self._turns)

    def messages(self) -> list[dict[str, str]]:
        out = []
        for question, reply in self._turns:
            out += [{"role": "user", "content": question}, {"role": "assistant", "content": reply}]
        return out

    def add(self, question: str, reply: str) -> int:
        """Keep a turn; drop the oldest past the budget. Returns how many were dropped."""
        self.last_used = self.clock()
        if self.budget.keep_turns == 0 or not reply:
            return 0
        self._turns.append((question, reply))
        self._chars += len(question) + len(reply)
        n = 0
        limit = self.budget.keep_tokens * CHARS_PER_TOKEN
        while self._turns and (len(self._turns) > self.budget.keep_turns or self._chars > limit):
            gone = self._turns.popleft()
            self._chars -= len(gone[0]) + len(gone[1])
            n += 1
        self.dropped += n
        return n

    def expire(self) -> bool:
        idle = self.clock() - self.last_used >= self.budget.idle_timeout_s
        if not (self._turns and idle):
            return False
        self.clear()
        return True

    def clear(self) -> None:
        self._turns.clear()
        self._chars = 0


@dataclass
class RemoteReply:
    """A reply's text pieces as they come (iterate it, then :meth:`close` it);
    :attr:`stats`, :attr:`backend` and :attr:`error` are filled as it runs."""

    pieces: Generator[str, None, None] = field(default_factory=lambda: _nothing())
    stats: ReplyStats = field(default_factory=ReplyStats)
    backend: Backend = "openai"
    error: str | None = None
    """Why the reply failed (the server mid-reply, or with no local model to answer)."""

    def __iter__(self) -> Iterator[str]:
        return self.pieces

    def close(self) -> None:
        self.pieces.close()


@dataclass
class _Turn:
    """One question on its way: what both the server's and the local model's attempt
    read and fill."""

    conversation: RemoteConversation
    question: str
    cancel: threading.Event
    stats: ReplyStats
    t0: float


def _nothing() -> Generator[str, None, None]:
    yield from ()


class _Failed(Exception):
    """The server's attempt failed (its message says how, in one line)."""


class RemoteLlm:
    """Replies from the server, the local model behind it. :meth:`generate` blocks: run
    it on :attr:`executor` (the local model's thread, when there is one)."""

    def __init__(
        self,
        options: RemoteOptions,
        local: LlamaLlm | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.options = options
        self.local = local
        self.clock = clock
        self.executor = local.executor if local is not None else EngineExecutor("llm")
        self._api_key = os.environ.get(options.api_key_env, "") if options.api_key_env else ""
        self.retry_at = 0.0
        """Until this (``clock()``), turns go to the local model: the server failed."""
        self.failures = 0
        """Attempts that failed before any text (a count, for the figures)."""

    @property
    def where(self) -> str:
        return self.options.url.where

    def conversation(self) -> RemoteConversation:
        local = self.local.conversation() if self.local is not None else None
        return RemoteConversation(self.options.budgets.conversation, local)

    def generate(
        self, conversation: RemoteConversation, text: str, cancel: threading.Event
    ) -> RemoteReply:
        """Answer ``text``: an iterator of text pieces (blocking; see the module doc)."""
        reply = RemoteReply()
        reply.pieces = self._route(conversation, text, cancel, reply)
        return reply

    def end(self, conversation: RemoteConversation) -> None:
        conversation.clear()
        if self.local is not None and conversation.local is not None:
            self.local.end(conversation.local)

    def close(self) -> None:
        if self.local is not None:
            self.local.close()
        else:
            self.executor.shutdown(wait=False)

    # ------------------------------------------------------------ routing

    def _route(
        self,
        conversation: RemoteConversation,
        text: str,
        cancel: threading.Event,
        reply: RemoteReply,
    ) -> Generator[str, None, None]:
        conversation.expire()
        question = " ".join(text[:MAX_QUESTION_CHARS].split())
        stats = reply.stats
        stats.question_cut = len(text) > MAX_QUESTION_CHARS
        turn = _Turn(conversation, question, cancel, stats, self.clock())
        written: list[str] = []
        why = ""
        if self.clock() >= self.retry_at:
            try:
                for piece in self._ask(turn):
                    written.append(piece)
                    yield piece
            except _Failed as exc:
                why = str(exc)
            finally:
                stats.total_s = self.clock() - turn.t0
            if not why or written:  # answered (or cut short, or cancelled) by the server
                if why:
                    reply.error = (
                        f"the language model server at {self.where} failed mid-reply: {why}"
                    )
                    log.warning("%s; the reply ends there", reply.error)
                    self._back_off()
                stats.dropped_turns = conversation.add(question, "".join(written).strip())
                return
            self.failures += 1
            self._back_off()
            then = "the local model answers" if self.local is not None else "no model answers"
            log.warning(
                "the language model server at %s failed: %s; %s (the server is asked again "
                "in %.0f s)",
                self.where,
                why,
                then,
                self.options.retry_after_s,
            )
        if cancel.is_set():
            stats.stop = "cancelled"
            return
        if self.local is None or conversation.local is None:
            reply.backend = "none"
            if why:
                reply.error = f"the language model server at {self.where} failed: {why}"
            return
        reply.backend = "local"
        yield from self._local(turn)

    def _back_off(self) -> None:
        self.retry_at = self.clock() + self.options.retry_after_s

    def _local(self, turn: _Turn) -> Iterator[str]:
        conversation, stats = turn.conversation, turn.stats
        assert self.local is not None and conversation.local is not None
        waited = self.clock() - turn.t0
        left = max(0.1, self.options.budgets.reply_wall_s - waited)
        model = self.local.retuned(reply_wall_s=left)
        inner = model.generate(conversation.local, turn.question, turn.cancel)
        written: list[str] = []
        try:
            for piece in inner:
                written.append(piece)
                yield piece
        finally:
            inner.close()
            own = inner.stats
            stats.prompt_tokens = own.prompt_tokens
            stats.evaluated_tokens = own.evaluated_tokens
            stats.new_tokens = own.new_tokens
            stats.stop = own.stop
            stats.dropped_turns = own.dropped_turns
            stats.question_cut = stats.question_cut or own.question_cut
            if own.first_token_s is not None:  # as heard: the wait for the server counts
                stats.first_token_s = waited + own.first_token_s
            stats.total_s = waited + own.total_s
            conversation.add(turn.question, "".join(written).strip())

    def _ask(self, turn: _Turn) -> Iterator[str]:
        """The server's reply, piece by piece. Raises _Failed (no local fallback once a
        piece is out: the caller decides); sets ``stats.stop`` when it ends otherwise."""
        o, b = self.options, self.options.budgets
        stats, cancel, t0 = turn.stats, turn.cancel, turn.t0
        messages = [
            {"role": "system", "content": o.system_prompt},
            *turn.conversation.messages(),
            {"role": "user", "content": turn.question},
        ]
        body: dict[str, Any] = {
            "messages": messages,
            "stream": True,
            "max_tokens": b.max_new_tokens,
            "temperature": b.sampling.temperature,
            "top_p": b.sampling.top_p,
        }
        if o.model:
            body["model"] = o.model
        wall = t0 + b.reply_wall_s
        first = min(self.clock() + o.first_token_s, wall)
        limit = b.max_new_tokens * MAX_CHARS_PER_TOKEN
        chars = 0
        try:
            with ChatStream(
                o.url,
                body,
                cancel,
                connect_s=o.connect_s,
                deadline=first,
                api_key=self._api_key,
                max_events=o.max_events,
            ) as stream:
                for event in stream.events():
                    piece, finish = _delta(event)
                    if piece:
                        piece = piece[: limit - chars]
                        chars += len(piece)
                        stats.new_tokens += 1
                        if stats.first_token_s is None:
                            stats.first_token_s = self.clock() - t0
                        stats.total_s = self.clock() - t0
                        if cancel.is_set():
                            stats.stop = "cancelled"
                            return
                        yield piece
                    stream.deadline = (
                        min(self.clock() + o.read_s, wall) if stats.new_tokens else first
                    )
                    if finish == "length" or stats.new_tokens >= b.max_new_tokens or chars >= limit:
                        stats.stop = "max_tokens"
                        return
                    if finish is not None:
                        stats.stop = "end"
                        return
                stats.stop = "end"
        except Cancelled:
            stats.stop = "cancelled"
        except Timeout:
            if self.clock() >= wall:
                stats.stop = "wall_time"
                return
            waited = o.first_token_s if not stats.new_tokens else o.read_s
            said = "no reply text" if not stats.new_tokens else "nothing more"
            raise _Failed(f"{said} within {waited:g} s") from None
        except StreamError as exc:
            raise _Failed(str(exc)) from None


def _delta(event: dict[str, Any]) -> tuple[str, str | None]:
    """An event's text and finish reason (an error event raises _Failed)."""
    if "error" in event:
        error = event["error"]
        message = error.get("message") if isinstance(error, dict) else error
        text = " ".join(str(message).split())[:160] if isinstance(message, str) else ""
        raise _Failed(f"the server sent an error{': ' + text if text else ''}")
    choices = event.get("choices")
    if not isinstance(choices, list) or not choices:
        return "", None  # a usage or keep-alive event
    choice = choices[0]
    if not isinstance(choice, dict):
        raise StreamError("an event whose choice is not an object")
    delta = choice.get("delta")
    content = delta.get("content") if isinstance(delta, dict) else None
    finish = choice.get("finish_reason")
    return (
        content if isinstance(content, str) else "",
        finish if isinstance(finish, str) else None,
    )
