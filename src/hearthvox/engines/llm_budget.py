"""The budgets of the local language model: its options, and the memory it needs.

:class:`MemoryBudget` is computed from the GGUF's header alone, before llama.cpp loads
anything: the weights (the file, mapped), the KV cache at the context budget (bytes per
token from the model's geometry) and the runtime's overhead (the binding, llama.cpp's own
allocations and its compute buffer). Measured for SmolLM2 on x86 (docs/llm.md): loading
it grows RSS by the weights, the KV cache and 22 MiB, plus 9 MiB to import the binding.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from hearthvox.config import LlmConfig
from hearthvox.engines.gguf import GgufHeader, KvGeometry
from hearthvox.engines.llm_conversation import ConversationBudget
from hearthvox.errors import ModelError

_MIB = 1024 * 1024


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.3
    top_k: int = 40
    top_p: float = 0.9
    repeat_penalty: float = 1.1
    repeat_last_n: int = 64
    seed: int = 0


@dataclass(frozen=True)
class LlmOptions:
    """How the engine runs (``[llm]`` of the config: :meth:`from_config`)."""

    context_tokens: int = 2048
    max_new_tokens: int = 64
    reply_wall_s: float = 10.0
    threads: int = 1
    cache_type: Literal["f16", "q8_0", "q4_0"] = "f16"
    memory_mb: float = 512.0
    conversation: ConversationBudget = ConversationBudget()
    batch_tokens: int = 64
    """llama.cpp's batch: its compute buffer grows with it, and prompts here are short."""
    sampling: Sampling = Sampling()

    @classmethod
    def from_config(cls, llm: LlmConfig) -> LlmOptions:
        return cls(
            context_tokens=llm.context_tokens,
            max_new_tokens=llm.max_new_tokens,
            reply_wall_s=llm.reply_wall_s,
            threads=llm.threads,
            cache_type=llm.cache_type,
            memory_mb=llm.memory_mb,
            conversation=ConversationBudget(llm.keep_turns, llm.keep_tokens, llm.idle_timeout_s),
        )


OVERHEAD_BASE = 24 * _MIB
"""Runtime overhead beside the compute buffer: importing the binding (~9 MiB) and
llama.cpp's own allocations at load (~10 MiB), with a margin (measured: docs/llm.md)."""


def compute_buffer(geometry: KvGeometry, vocab: int, options: LlmOptions) -> int:
    """An upper bound of llama.cpp's CPU compute buffer: per batch token, a logits row,
    the attention scores over the context and the activations (float32). SmolLM2's, as
    llama.cpp logs it at load: 12.6 MiB at 2,048 tokens of context and a batch of 64 (this
    gives 18.8), 21.0 MiB at 8,192 (32.3), 99.6 MiB with a batch of 512 (150)."""
    width = vocab + options.context_tokens * geometry.heads + 16 * geometry.heads * geometry.key_dim
    return 4 * options.batch_tokens * width


@dataclass(frozen=True)
class MemoryBudget:
    """Weights + KV cache at the context budget + runtime overhead, against the budget."""

    weights: int
    kv: int
    overhead: int
    budget: int
    context_tokens: int
    kv_per_token: int

    @classmethod
    def of(cls, header: GgufHeader, geometry: KvGeometry, options: LlmOptions) -> MemoryBudget:
        vocab = header.lengths.get("tokenizer.ggml.tokens", 256_000)
        per_token = geometry.bytes_per_token(options.cache_type)
        return cls(
            weights=header.file_bytes,
            kv=per_token * options.context_tokens,
            overhead=OVERHEAD_BASE + compute_buffer(geometry, vocab, options),
            budget=int(options.memory_mb * _MIB),
            context_tokens=options.context_tokens,
            kv_per_token=per_token,
        )

    @property
    def total(self) -> int:
        return self.weights + self.kv + self.overhead

    @property
    def fits(self) -> bool:
        return self.total <= self.budget

    def describe(self) -> str:
        return (
            f"weights {self.weights / _MIB:.1f} MiB + KV cache {self.kv / _MIB:.1f} MiB "
            f"({self.context_tokens} tokens x {self.kv_per_token} bytes) + runtime overhead "
            f"{self.overhead / _MIB:.1f} MiB = {self.total / _MIB:.1f} MiB"
        )

    def check(self, model: Path) -> None:
        if not self.fits:
            raise ModelError(
                f"the language model {model} does not fit the memory budget: it needs "
                f"{self.describe()}, over the budget of {self.budget / _MIB:.0f} MiB "
                "([llm] memory_mb); lower [llm] context_tokens or run a smaller model"
            )
