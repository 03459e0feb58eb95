"""A bounded reader of a GGUF file's header, and the KV cache geometry it implies.

A GGUF file (llama.cpp's model format) starts with ``GGUF``, a version, the number of
tensors and of metadata entries, then the metadata: typed key/value pairs, among them
the vocabulary (arrays of ~50,000 strings) and the architecture's hyperparameters.
:func:`read_gguf_header` reads the metadata without loading any weights, so the memory a
model needs can be computed and refused before llama.cpp maps it.

The file is hostile input (``[llm] model`` names any file): every count and length read
from it is bounded before it is used, nothing is allocated by a size the file gives
(strings and arrays that are not kept are skipped by seeking, checked against the file's
size), and any violation is one :class:`~hearthvox.errors.ModelError` naming the file.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

from hearthvox.errors import ModelError

MAGIC = b"GGUF"
VERSIONS = (2, 3)
"""Version 1 used 32-bit counts; llama.cpp itself reads only 2 and 3."""
MAX_KV = 65_536
"""Metadata entries: SmolLM2 has 37; anything near this is not a model."""
MAX_TENSORS = 1 << 20
MAX_KEY_BYTES = 65_535
"""The GGUF specification's own limit on a key's length."""
MAX_STRING_BYTES = 1 << 20
"""A string value (chat templates are the longest: a few KB to ~100 KB)."""
MAX_ARRAY_ITEMS = 1 << 20
"""Items of one array (vocabularies and merge lists: up to ~520,000)."""
MAX_TOTAL_ITEMS = 1 << 21
"""Items of all arrays together: the header is read in bounded time (SmolLM2's 147,000
take 0.08 s)."""
MAX_DEPTH = 2
"""An array of arrays is allowed, no deeper."""
KEEP_STRING_BYTES = 256 * 1024
"""A string longer than this is skipped, not kept (no key this module reads is)."""
KEEP_ARRAY_ITEMS = 4096
"""A numeric array is kept up to this many items (per-layer head counts)."""
KEEP_KEY_BYTES = 256
"""An entry whose key is longer is read past, not kept (no key of a model is)."""
KEEP_TOTAL_BYTES = 8 << 20
"""What is kept of the metadata, all told; past it, further values are read past."""

# GGUF value types: (struct format, size) of the fixed-size ones
_FIXED: dict[int, tuple[str, int]] = {
    0: ("<B", 1),  # uint8
    1: ("<b", 1),  # int8
    2: ("<H", 2),  # uint16
    3: ("<h", 2),  # int16
    4: ("<I", 4),  # uint32
    5: ("<i", 4),  # int32
    6: ("<f", 4),  # float32
    7: ("<?", 1),  # bool
    10: ("<Q", 8),  # uint64
    11: ("<q", 8),  # int64
    12: ("<d", 8),  # float64
}
_STRING, _ARRAY = 8, 9

Value = int | float | bool | str | tuple[int | float, ...]


@dataclass(frozen=True)
class GgufHeader:
    path: Path
    version: int
    tensors: int
    metadata: dict[str, Value]
    """Scalars, strings up to :data:`KEEP_STRING_BYTES` and short numeric arrays; the
    rest (the vocabulary) is skipped."""
    file_bytes: int
    lengths: dict[str, int] = field(default_factory=dict)
    """Every array's length, kept or not (``tokenizer.ggml.tokens``: the vocabulary)."""

    @property
    def architecture(self) -> str:
        arch = self.metadata.get("general.architecture")
        if not isinstance(arch, str) or not arch:
            raise ModelError(f"{self.path}: the GGUF metadata names no general.architecture")
        return arch

    def text(self, key: str) -> str | None:
        value = self.metadata.get(key)
        return value if isinstance(value, str) else None

    def count(self, key: str, lo: int, hi: int, *, required: bool = True) -> int | None:
        """The integer ``key``, checked to lie in ``[lo, hi]``."""
        value = self.metadata.get(key)
        if value is None and not required:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ModelError(f"{self.path}: GGUF key {key} is {_short(value)}, not an integer")
        if not lo <= value <= hi:
            raise ModelError(f"{self.path}: GGUF key {key} = {value} is outside {lo}..{hi}")
        return value


class _Reader:
    """Reads a GGUF header from ``fh`` and never past ``size`` bytes."""

    def __init__(self, fh: BinaryIO, size: int, path: Path) -> None:
        self.fh, self.size, self.path = fh, size, path
        self.pos = 0
        self.items = 0
        self.lengths: dict[str, int] = {}

    def fail(self, why: str) -> ModelError:
        return ModelError(f"{self.path}: not a usable GGUF file: {why} (at byte {self.pos})")

    def need(self, n: int, what: str) -> None:
        if n < 0 or self.pos + n > self.size:
            raise self.fail(f"{what} runs past the end of the file ({self.size} bytes)")

    def read(self, n: int, what: str) -> bytes:
        self.need(n, what)
        data = self.fh.read(n)
        if len(data) != n:
            raise self.fail(f"{what} is truncated")
        self.pos += n
        return data

    def skip(self, n: int, what: str) -> None:
        self.need(n, what)
        self.pos += n
        self.fh.seek(self.pos)

    def fixed(self, vtype: int, what: str) -> int | float | bool:
        fmt, n = _FIXED[vtype]
        value: int | float | bool = struct.unpack(fmt, self.read(n, what))[0]
        return value

    def u32(self, what: str) -> int:
        return int(self.fixed(4, what))

    def u64(self, what: str) -> int:
        return int(self.fixed(10, what))

    def string_length(self, limit: int, what: str) -> int:
        n = self.u64(f"the length of {what}")
        if n > limit:
            raise self.fail(f"{what} is {n} bytes long (at most {limit})")
        self.need(n, what)
        return n

    def string(self, limit: int, what: str) -> str:
        raw = self.read(self.string_length(limit, what), what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail(f"{what} is not UTF-8") from None

    def value(self, vtype: int, what: str) -> Value | None:
        """The value of type ``vtype``; None where it was skipped (not kept)."""
        if vtype in _FIXED:
            return self.fixed(vtype, what)
        if vtype == _STRING:
            n = self.string_length(MAX_STRING_BYTES, what)
            if n > KEEP_STRING_BYTES:
                self.skip(n, what)
                return None
            raw = self.read(n, what)
            return raw.decode("utf-8", errors="replace")
        if vtype == _ARRAY:
            return self.array(what, 1)
        raise self.fail(f"{what} has unknown value type {vtype}")

    def array(self, what: str, depth: int) -> tuple[int | float, ...] | None:
        if depth > MAX_DEPTH:
            raise self.fail(f"{what} nests arrays deeper than {MAX_DEPTH}")
        etype = self.u32(f"the item type of {what}")
        count = self.u64(f"the length of {what}")
        if count > MAX_ARRAY_ITEMS:
            raise self.fail(f"{what} has {count} items (at most {MAX_ARRAY_ITEMS})")
        self.items += count
        if depth == 1:
            self.lengths[what] = count
        if self.items > MAX_TOTAL_ITEMS:
            raise self.fail(f"its arrays hold more than {MAX_TOTAL_ITEMS} items")
        if etype in _FIXED:
            size = _FIXED[etype][1]
            if count <= KEEP_ARRAY_ITEMS and etype != 7:
                fmt = "<" + _FIXED[etype][0][1] * count
                values: tuple[int | float, ...] = struct.unpack(fmt, self.read(size * count, what))
                return values
            self.skip(size * count, what)
            return None
        if etype == _STRING:
            for _ in range(count):
                self.skip(self.string_length(MAX_STRING_BYTES, f"an item of {what}"), what)
            return None
        if etype == _ARRAY:
            for _ in range(count):
                self.array(what, depth + 1)
            return None
        raise self.fail(f"{what} has items of unknown type {etype}")


def read_gguf_header(path: Path) -> GgufHeader:
    """The metadata of the GGUF file ``path``, read within the bounds above."""
    try:
        if not path.is_file():
            raise ModelError(f"{path}: no such model file (or not a regular file)")
        size = path.stat().st_size
        with path.open("rb") as raw:
            fh = io.BufferedReader(raw, buffer_size=1 << 16)
            return _read(_Reader(fh, size, path))
    except OSError as exc:
        raise ModelError(f"cannot read the model file {path}: {exc.strerror or exc}") from exc


def _read(r: _Reader) -> GgufHeader:
    if r.size < 24 or r.read(4, "the magic") != MAGIC:
        raise ModelError(f"{r.path}: not a GGUF file (it does not start with GGUF)")
    version = r.u32("the version")
    if version not in VERSIONS:
        raise r.fail(f"GGUF version {version} (this reader takes 2 and 3)")
    tensors = r.u64("the tensor count")
    if tensors > MAX_TENSORS:
        raise r.fail(f"it claims {tensors} tensors (at most {MAX_TENSORS})")
    n_kv = r.u64("the metadata count")
    if n_kv > MAX_KV:
        raise r.fail(f"it claims {n_kv} metadata entries (at most {MAX_KV})")
    metadata: dict[str, Value] = {}
    kept = 0
    for i in range(n_kv):
        key = r.string(MAX_KEY_BYTES, f"the key of metadata entry {i + 1}")
        keep = len(key) <= KEEP_KEY_BYTES
        key = key[:KEEP_KEY_BYTES]  # as messages name it
        vtype = r.u32(f"the type of {key}")
        value = r.value(vtype, key)
        size = len(key) + (len(value) * 8 if isinstance(value, str | tuple) else 8)
        if keep and value is not None and kept + size <= KEEP_TOTAL_BYTES:
            metadata[key] = value
            kept += size
    return GgufHeader(r.path, version, tensors, metadata, r.size, r.lengths)


# ---------------------------------------------------------------- KV cache geometry

CacheType = Literal["f16", "q8_0", "q4_0", "f32"]
CACHE_BYTES: dict[str, tuple[int, int]] = {
    "f32": (4, 1),
    "f16": (2, 1),
    "q8_0": (34, 32),  # blocks of 32 values: 32 int8 and an f16 scale
    "q4_0": (18, 32),  # blocks of 32 values: 16 bytes of nibbles and an f16 scale
}
"""Bytes per ``(numerator, denominator)`` cached values of each llama.cpp cache type."""

MAX_LAYERS = 4096
MAX_HEADS = 16_384
MAX_EMBEDDING = 1 << 20


@dataclass(frozen=True)
class KvGeometry:
    """What one token costs in the KV cache: per layer, a key and a value vector for each
    KV head (fewer than the query heads under grouped-query attention)."""

    architecture: str
    layers: int
    heads: int
    kv_heads: tuple[int, ...]
    """KV heads per layer (the same for every layer in most models)."""
    key_dim: int
    value_dim: int
    train_context: int | None = None

    @property
    def head_dim(self) -> int:
        return self.key_dim

    @classmethod
    def from_header(cls, header: GgufHeader) -> KvGeometry:
        arch = header.architecture
        layers = header.count(f"{arch}.block_count", 1, MAX_LAYERS)
        heads = header.count(f"{arch}.attention.head_count", 1, MAX_HEADS)
        embedding = header.count(f"{arch}.embedding_length", 1, MAX_EMBEDDING)
        assert layers is not None and heads is not None and embedding is not None
        raw_kv = header.metadata.get(f"{arch}.attention.head_count_kv", heads)
        if isinstance(raw_kv, tuple):  # per layer
            if len(raw_kv) != layers:
                raise ModelError(
                    f"{header.path}: {arch}.attention.head_count_kv has {len(raw_kv)} "
                    f"entries for {layers} layers"
                )
            kv = tuple(_int_in(header, "head_count_kv", v, 0, heads) for v in raw_kv)
        else:
            kv = (_int_in(header, "head_count_kv", raw_kv, 1, heads),) * layers
        if embedding % heads and f"{arch}.attention.key_length" not in header.metadata:
            raise ModelError(
                f"{header.path}: embedding_length {embedding} is not a multiple of "
                f"head_count {heads}, and no attention.key_length is given"
            )
        default_dim = embedding // heads
        key_dim = header.count(f"{arch}.attention.key_length", 1, MAX_HEADS, required=False)
        value_dim = header.count(f"{arch}.attention.value_length", 1, MAX_HEADS, required=False)
        return cls(
            architecture=arch,
            layers=layers,
            heads=heads,
            kv_heads=kv,
            key_dim=key_dim or default_dim,
            value_dim=value_dim or default_dim,
            train_context=header.count(f"{arch}.context_length", 1, 1 << 24, required=False),
        )

    @classmethod
    def from_gguf(cls, path: Path) -> KvGeometry:
        return cls.from_header(read_gguf_header(path))

    def bytes_per_token(self, cache: str = "f16") -> int:
        """KV bytes one token of context costs: for each layer, K and V of every KV head.
        For uniform layers and an f16 cache: 2 * layers * kv_heads * head_dim * 2."""
        num, den = CACHE_BYTES[cache]
        values = sum(h * (self.key_dim + self.value_dim) for h in self.kv_heads)
        return -(-values * num // den)

    def bytes_for(self, tokens: int, cache: str = "f16") -> int:
        return tokens * self.bytes_per_token(cache)


def _int_in(header: GgufHeader, key: str, value: object, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ModelError(f"{header.path}: GGUF {key} {_short(value)} is outside {lo}..{hi}")
    return value


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
