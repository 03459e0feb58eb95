"""The local language model: a GGUF on llama.cpp (llama-cpp-python), under hard budgets.

Before anything is loaded, the GGUF's header is read (:mod:`hearthvox.engines.gguf`) and
the memory the model needs is computed: its weights (the file), the KV cache at the
context budget (bytes per token from the model's own geometry) and the runtime's
overhead; a model that does not fit the memory budget is refused with those numbers
(:class:`MemoryBudget`). llama.cpp then allocates the whole KV cache for the context at
once, so a conversation never grows the memory: its history is held to a budget of
turns and tokens instead (:mod:`hearthvox.engines.llm_conversation`).

A reply streams token by token (:meth:`LlamaLlm.generate`): the cancel event is read
before each token is computed, so a barge-in stops it within one token; the reply also
stops at ``max_new_tokens`` and at ``reply_wall_s``. The system prompt is evaluated once
at load and stays at the head of the KV cache; a turn's prompt is the system prompt, the
kept history and the question as token ids, so only what the cache does not already hold
(the question, and the last reply's closing tokens) is evaluated.

The chat template is ChatML (``<|im_start|>role ... <|im_end|>``: SmolLM2, Qwen and
others); a GGUF whose template is not ChatML is refused at load.
"""

from __future__ import annotations

import codecs
import contextlib
import copy
import dataclasses
import io
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from hearthvox.engines.executor import EngineExecutor
from hearthvox.engines.gguf import GgufHeader, KvGeometry, read_gguf_header
from hearthvox.engines.llm_budget import LlmOptions, MemoryBudget, Sampling
from hearthvox.engines.llm_conversation import Conversation, Turn
from hearthvox.engines.llm_runtime import last_load_report, llama_module, start_load_report
from hearthvox.errors import ConfigError, EngineError, ModelError

__all__ = ["KvGeometry", "LlamaLlm", "LlmOptions", "MemoryBudget", "ReplyStats", "Sampling"]

SYSTEM_PROMPT = (
    "You are a voice assistant in a home. Your answers are spoken aloud: answer in one or "
    "two short sentences, in plain words, with no lists, no markup and no emoji."
)
MIN_QUESTION_TOKENS = 32
"""Context that must be left for a question beside the system prompt and a reply."""
MAX_QUESTION_CHARS = 2000
"""A question's text is cut to this before it is tokenized (a transcript is far shorter)."""
PROMPT_CHUNK = 32
"""Prompt tokens evaluated per call: the cancel event is read between chunks."""
QUESTION_TOKENS = 64
"""A spoken question's tokens, at most about this many (12 s of speech): the share of the
context a conversation's budget counts for its question."""

BUSY_WAIT_S = 30.0
"""How long a call waits for the reply before it (a reply ends within ``reply_wall_s``)."""

Stop = Literal["end", "max_tokens", "wall_time", "cancelled"]


@dataclass
class ReplyStats:
    """One reply, in counts and times (never text)."""

    prompt_tokens: int = 0
    """Tokens of the whole prompt: system prompt, kept history, question."""
    evaluated_tokens: int = 0
    """Prompt tokens computed for this turn (the rest were in the KV cache already)."""
    new_tokens: int = 0
    first_token_s: float | None = None
    total_s: float = 0.0
    stop: Stop = "end"
    dropped_turns: int = 0
    """Oldest turns dropped from the history to make room for this one."""
    question_cut: bool = False
    """The question was longer than the context allows and was cut."""

    @property
    def tokens_per_s(self) -> float | None:
        if self.first_token_s is None or self.new_tokens < 2:
            return None
        span = self.total_s - self.first_token_s
        return (self.new_tokens - 1) / span if span > 0 else None


@dataclass
class LlmReply(Iterator[str]):
    """The text pieces of one reply as they are generated; :attr:`stats` fills as it runs."""

    pieces: Iterator[str]
    stats: ReplyStats = field(default_factory=ReplyStats)

    def __next__(self) -> str:
        return next(self.pieces)

    def close(self) -> None:
        close = getattr(self.pieces, "close", None)
        if close is not None:
            close()


class LlamaLlm:
    """A GGUF loaded once (after the budget check). :meth:`generate` is blocking: iterate
    it on :attr:`executor`, the model's own thread."""

    def __init__(self, model: Path, options: LlmOptions, system_prompt: str = SYSTEM_PROMPT):
        header = read_gguf_header(model)
        self.model_path = model
        self.options = options
        self.geometry = KvGeometry.from_header(header)
        self.budget = MemoryBudget.of(header, self.geometry, options)
        _check_template(header)
        self.budget.check(model)
        llama_cpp = llama_module()
        self._c = llama_cpp
        start_load_report()
        try:
            with contextlib.redirect_stderr(io.StringIO()):  # the binding's own prints
                self._llm: Any = llama_cpp.Llama(
                    model_path=str(model),
                    n_ctx=options.context_tokens,
                    n_batch=options.batch_tokens,
                    n_ubatch=options.batch_tokens,
                    n_threads=options.threads,
                    n_threads_batch=options.threads,
                    type_k=_GGML_TYPES[options.cache_type],
                    type_v=_GGML_TYPES[options.cache_type],
                    flash_attn=options.cache_type != "f16",  # llama.cpp: a quantized V needs it
                    seed=options.sampling.seed,
                    verbose=True,  # False swaps the process's stdout and stderr during load
                )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelError(f"llama.cpp cannot load {model}: {exc}") from exc
        report = last_load_report()
        self.reported_kv_bytes = report.kv_bytes
        """The KV cache's size as llama.cpp logged it at load (None if it did not)."""
        self.reported_kv_cells = report.kv_cells
        self.reported_compute_bytes = report.compute_bytes + report.output_bytes
        self.executor = EngineExecutor("llm")
        self._lock = threading.Lock()
        self._evaluated = [0]  # shared with retuned copies: one model, one count
        self._holder: list[tuple[int, int] | None] = [None]
        """(id, dropped_tokens) of the conversation the KV cache holds (shared likewise)."""
        self._vocab = llama_cpp.llama_model_get_vocab(self._llm.model)
        self._open_user = self._special("<|im_start|>user\n")
        self._open_reply = self._special("<|im_end|>\n<|im_start|>assistant\n")
        self._close_reply = self._special("<|im_end|>\n")
        self.system_tokens = (
            self._special("<|im_start|>system\n")
            + self._text(system_prompt)
            + self._special("<|im_end|>\n")
        )
        spare = options.context_tokens - len(self.system_tokens) - options.max_new_tokens
        if spare < MIN_QUESTION_TOKENS + len(self._open_user) + len(self._open_reply):
            raise ConfigError(
                f"[llm] context_tokens = {options.context_tokens} leaves no room for a question: "
                f"the system prompt takes {len(self.system_tokens)} tokens and a reply up to "
                f"{options.max_new_tokens} ([llm] max_new_tokens)"
            )
        self._eval(self.system_tokens)  # the prompt cache: evaluated once, kept

    def retuned(self, **changes: Any) -> LlamaLlm:
        """The same loaded model with other per-reply budgets (``max_new_tokens``,
        ``reply_wall_s``, ``conversation``, ``sampling``); the context and the memory it
        was loaded with do not change."""
        fixed = {"context_tokens", "threads", "cache_type", "memory_mb", "batch_tokens"}
        if kept := sorted(fixed & set(changes)):
            raise ValueError(f"reload the model to change {', '.join(kept)}")
        other = copy.copy(self)
        other.options = dataclasses.replace(self.options, **changes)
        return other

    # ------------------------------------------------------------ measures

    @property
    def kv_bytes(self) -> int:
        """The KV cache at the context budget, computed from the model's metadata."""
        return self.geometry.bytes_for(self.options.context_tokens, self.options.cache_type)

    @property
    def kv_bytes_per_token(self) -> int:
        return self.geometry.bytes_per_token(self.options.cache_type)

    @property
    def conversation_tokens(self) -> int:
        """The most context one conversation fills at its budget: the system prompt, the
        kept history, a question and the longest reply (at most the whole context)."""
        o = self.options
        held = len(self.system_tokens) + o.conversation.keep_tokens + QUESTION_TOKENS
        return min(o.context_tokens, held + o.max_new_tokens)

    @property
    def conversation_kv_bytes(self) -> int:
        """KV bytes of one conversation at its budget (:attr:`conversation_tokens`)."""
        return self.conversation_tokens * self.kv_bytes_per_token

    @property
    def evaluated(self) -> int:
        """Tokens computed since load (prompts and replies): the prompt cache's measure."""
        return self._evaluated[0]

    @property
    def cached_tokens(self) -> int:
        """Tokens whose keys and values the KV cache holds now."""
        return int(self._llm.n_tokens)

    def conversation(self) -> Conversation:
        return Conversation(self.options.conversation)

    # ------------------------------------------------------------ generation

    def generate(self, conversation: Conversation, text: str, cancel: threading.Event) -> LlmReply:
        """Answer ``text`` in ``conversation``: an iterator of text pieces, one per token
        (a piece may be empty while a character's bytes are incomplete). Blocking."""
        reply = LlmReply(iter(()))
        reply.pieces = self._generate(conversation, text, cancel, reply.stats)
        return reply

    def _generate(
        self, conversation: Conversation, text: str, cancel: threading.Event, stats: ReplyStats
    ) -> Iterator[str]:
        with self._held():
            t0 = time.monotonic()
            opts = self.options
            conversation.expire()
            conversation.touch()
            question, stats.question_cut = self._question(text)
            room = opts.context_tokens - len(self.system_tokens) - len(question)
            conversation.fit(room - opts.max_new_tokens)
            # dropped for this question, or after the last reply (over keep_turns)
            stats.dropped_turns = conversation.dropped - conversation.reported
            conversation.reported = conversation.dropped
            prompt = [*self.system_tokens, *conversation.history(), *question]
            stats.prompt_tokens = len(prompt)
            before = self.evaluated
            self._forget_dropped(conversation, prompt)
            if not self._prefill(prompt, cancel):
                stats.stop = "cancelled"
                stats.total_s = time.monotonic() - t0
                return
            stats.evaluated_tokens = self.evaluated - before
            reply: list[int] = []
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            sampler = self._sampler()
            try:
                while True:
                    if cancel.is_set():
                        stats.stop = "cancelled"
                        break
                    if len(reply) >= opts.max_new_tokens:
                        stats.stop = "max_tokens"
                        break
                    if time.monotonic() - t0 >= opts.reply_wall_s:
                        stats.stop = "wall_time"
                        break
                    if reply:  # the previous token's keys and values, for the next one
                        self._eval([reply[-1]])
                    token = int(self._c.llama_sampler_sample(sampler, self._llm.ctx, -1))
                    if self._c.llama_vocab_is_eog(self._vocab, token):
                        stats.stop = "end"
                        break
                    reply.append(token)
                    stats.new_tokens = len(reply)
                    if stats.first_token_s is None:
                        stats.first_token_s = time.monotonic() - t0
                    stats.total_s = time.monotonic() - t0
                    yield decoder.decode(self._llm.detokenize([token]))
                tail = decoder.decode(b"", final=True)
                if tail:
                    yield tail
            finally:
                self._c.llama_sampler_free(sampler)
                stats.total_s = time.monotonic() - t0
                conversation.add(Turn(tuple(question), tuple(reply) + self._close_reply))

    def expire(self, conversation: Conversation) -> bool:
        """End ``conversation`` if it has been idle past ``idle_timeout_s`` (a turn does
        this itself first; a timer may call it between turns, on the model's thread)."""
        if not conversation.idle():
            return False
        self.end(conversation)
        conversation.ended += 1
        return True

    def end(self, conversation: Conversation) -> None:
        """End ``conversation``: its turns are cleared, and the KV cache keeps only the
        system prompt (on the model's thread, like a turn)."""
        with self._held():
            conversation.clear()
            self._truncate(len(self.system_tokens))
            self._holder[0] = None

    def close(self) -> None:
        """Free the model (and its KV cache); a reply still running is waited for."""
        with self._held():
            self._llm.close()
        self.executor.shutdown(wait=False)

    # ------------------------------------------------------------ internals

    @contextlib.contextmanager
    def _held(self) -> Iterator[None]:
        """The model, for one reply or one change of its cache. A reply left neither
        finished nor closed holds it until it is collected: past :data:`BUSY_WAIT_S` the
        next call fails (EngineError) instead of waiting for ever."""
        if not self._lock.acquire(timeout=BUSY_WAIT_S):
            raise EngineError("the language model is still busy with an earlier reply")
        try:
            yield
        finally:
            self._lock.release()

    def _special(self, text: str) -> tuple[int, ...]:
        return tuple(self._llm.tokenize(text.encode(), add_bos=False, special=True))

    def _text(self, text: str) -> tuple[int, ...]:
        # special=False: a question that spells "<|im_start|>" is text, not a new turn
        return tuple(self._llm.tokenize(text.encode(), add_bos=False, special=False))

    def _question(self, text: str) -> tuple[list[int], bool]:
        words = self._text(" ".join(text[:MAX_QUESTION_CHARS].split()))
        fixed = len(self._open_user) + len(self._open_reply)
        room = (
            self.options.context_tokens
            - len(self.system_tokens)
            - self.options.max_new_tokens
            - fixed
        )
        cut = len(words) > room or len(text) > MAX_QUESTION_CHARS
        return [*self._open_user, *words[:room], *self._open_reply], cut

    def _truncate(self, keep: int) -> None:
        if self._llm.n_tokens > keep:
            memory = self._c.llama_get_memory(self._llm.ctx)
            self._c.llama_memory_seq_rm(memory, -1, keep, -1)
            self._llm.n_tokens = keep

    def _forget_dropped(self, conversation: Conversation, prompt: list[int]) -> None:
        """Take the turns ``conversation`` dropped since its last turn out of the KV cache
        and move the kept ones back to follow the system prompt (llama.cpp re-rotates
        their keys), so that the kept history is not computed again: without this every
        turn after the history's budget is reached would evaluate all of it."""
        holder, self._holder[0] = self._holder[0], (conversation.key, conversation.dropped_tokens)
        if holder is None or holder[0] != conversation.key:
            return
        shift = conversation.dropped_tokens - holder[1]
        start, n = len(self.system_tokens), int(self._llm.n_tokens)
        ids = self._llm.input_ids
        if shift <= 0 or n <= start + shift or ids[start + shift] != prompt[start]:
            return  # nothing dropped, or the cache does not hold what follows (checked on)
        memory = self._c.llama_get_memory(self._llm.ctx)
        if not self._c.llama_memory_can_shift(memory):
            return
        self._c.llama_memory_seq_rm(memory, -1, start, start + shift)
        self._c.llama_memory_seq_add(memory, 0, start + shift, -1, -shift)  # one sequence: 0
        ids[start : n - shift] = ids[start + shift : n].copy()
        self._llm.n_tokens = n - shift

    def _prefill(self, prompt: list[int], cancel: threading.Event) -> bool:
        """Evaluate what the KV cache does not hold of ``prompt`` (at least its last token,
        whose logits the first reply token is sampled from). False when cancelled."""
        cached = self._llm.input_ids[: self._llm.n_tokens].tolist()
        common = 0
        for a, b in zip(cached, prompt, strict=False):
            if a != b:
                break
            common += 1
        keep = max(len(self.system_tokens), min(common, len(prompt) - 1))
        if common < len(self.system_tokens):  # never: the system prompt is never dropped
            keep = 0
        self._truncate(keep)
        if self._llm.n_tokens < keep:
            keep = int(self._llm.n_tokens)
        todo = prompt[keep:]
        for i in range(0, len(todo), PROMPT_CHUNK):
            if cancel.is_set():
                return False
            self._eval(todo[i : i + PROMPT_CHUNK])
        return True

    def _eval(self, tokens: list[int] | tuple[int, ...]) -> None:
        if self._llm.n_tokens + len(tokens) > self.options.context_tokens:
            raise EngineError("the language model's context is full")  # the budgets forbid it
        try:
            self._llm.eval(list(tokens))
        except RuntimeError as exc:
            raise EngineError(f"the language model failed: {exc}") from exc
        self._evaluated[0] += len(tokens)

    def _sampler(self) -> Any:
        c, s = self._c, self.options.sampling
        chain = c.llama_sampler_chain_init(c.llama_sampler_chain_default_params())
        c.llama_sampler_chain_add(chain, c.llama_sampler_init_top_k(s.top_k))
        penalties = c.llama_sampler_init_penalties(
            self._llm.n_vocab(), s.repeat_last_n, s.repeat_penalty, 0.0, 0.0
        )
        c.llama_sampler_chain_add(chain, penalties)
        c.llama_sampler_chain_add(chain, c.llama_sampler_init_top_p(s.top_p, 1))
        c.llama_sampler_chain_add(chain, c.llama_sampler_init_temp(s.temperature))
        c.llama_sampler_chain_add(chain, c.llama_sampler_init_dist(s.seed))
        return chain


_GGML_TYPES = {"f32": 0, "f16": 1, "q4_0": 2, "q8_0": 8}
"""ggml_type numbers of the cache types (ggml.h)."""


def _check_template(header: GgufHeader) -> None:
    template = header.text("tokenizer.chat_template") or ""
    if "<|im_start|>" not in template:
        raise ModelError(
            f"{header.path}: its chat template is not ChatML (<|im_start|>role ... "
            "<|im_end|>), the one hearthvox writes prompts in"
        )
