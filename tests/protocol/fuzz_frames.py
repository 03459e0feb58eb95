"""A seeded generator of malformed Wyoming frames: each case is bytes a client sends and
whether it then half-closes the connection (EOF) or just stops sending (a stall)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass

from hearthvox.protocol.framing import FrameLimits


@dataclass(frozen=True)
class Case:
    kind: str
    data: bytes
    eof: bool = True


def _line(obj: object) -> bytes:
    return json.dumps(obj).encode() + b"\n"


def _garbage(rng: random.Random, limits: FrameLimits) -> bytes:
    body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))).replace(b"\n", b"")
    return b"\xff" + body + b"\n"


def _not_an_object(rng: random.Random, limits: FrameLimits) -> bytes:
    return _line(rng.choice([[1, 2], "describe", 42, None, True, [{"type": "describe"}]]))


def _bad_type(rng: random.Random, limits: FrameLimits) -> bytes:
    return _line(rng.choice([{}, {"type": 5}, {"type": ""}, {"type": None}, {"data": {}}]))


def _unknown_type(rng: random.Random, limits: FrameLimits) -> bytes:
    name = "".join(rng.choice("abcdefghij-") for _ in range(rng.randrange(1, 20)))
    return _line({"type": f"x-{name}", "data": {}})


def _bad_data(rng: random.Random, limits: FrameLimits) -> bytes:
    return _line({"type": "describe", "data": rng.choice([[1], "x", 3, True])})


def _bad_length(rng: random.Random, limits: FrameLimits) -> bytes:
    key = rng.choice(["data_length", "payload_length"])
    value = rng.choice([-1, -rng.randrange(2, 10**6), "10", 1.5, True, [3], {"n": 1}])
    return _line({"type": "describe", key: value})


def _over_size(rng: random.Random, limits: FrameLimits) -> bytes:
    if rng.random() < 0.5:
        return _line(
            {
                "type": "audio-chunk",
                "data": {"rate": 16000, "width": 2, "channels": 1},
                "payload_length": limits.max_payload_bytes + rng.randrange(1, 10**6),
            }
        )
    return _line(
        {"type": "synthesize", "data_length": limits.max_data_bytes + rng.randrange(1, 99)}
    )


def _lying_long(rng: random.Random, limits: FrameLimits) -> bytes:
    promised = rng.randrange(10, 5000)
    return _line(
        {
            "type": "audio-chunk",
            "data": {"rate": 16000, "width": 2, "channels": 1},
            "payload_length": promised,
        }
    ) + bytes(rng.randrange(promised))


def _lying_short(rng: random.Random, limits: FrameLimits) -> bytes:
    # the payload is longer than said: its rest is read as the next header line
    said = rng.randrange(0, 64) * 2
    extra = b"\x01\x02" * rng.randrange(1, 100) + b"\n"
    return (
        _line(
            {
                "type": "audio-chunk",
                "data": {"rate": 16000, "width": 2, "channels": 1},
                "payload_length": said,
            }
        )
        + bytes(said)
        + extra
    )


def _bad_extra_data(rng: random.Random, limits: FrameLimits) -> bytes:
    extra = rng.choice([b"not json", b"[1, 2, 3]", b'"text"', b"\xff\xfe", b'{"text": '])
    return _line({"type": "synthesize", "data_length": len(extra)}) + extra


def _long_header(rng: random.Random, limits: FrameLimits) -> bytes:
    filler = "a" * (limits.max_header_bytes + rng.randrange(1, 5000))
    return _line({"type": "synthesize", "data": {"text": filler}})


def _bad_utf8(rng: random.Random, limits: FrameLimits) -> bytes:
    return b'{"type": "describe", "data": {"text": "\xc3\x28"}}\n'


def _deep(rng: random.Random, limits: FrameLimits) -> bytes:
    depth = rng.randrange(5000, 20000)
    return b'{"type": "describe", "data": {"x": ' + b"[" * depth + b"]" * depth + b"}}\n"


def _bad_fields(rng: random.Random, limits: FrameLimits) -> bytes:
    fmt = {"rate": 16000, "width": 2, "channels": 1}
    return _line(
        rng.choice(
            [
                {"type": "audio-chunk", "data": {**fmt, "rate": "16000"}},
                {"type": "audio-chunk", "data": {**fmt, "width": 7}},
                {"type": "audio-chunk", "data": {**fmt, "channels": 0}},
                {"type": "audio-start", "data": {**fmt, "rate": -5}},
                {"type": "audio-start", "data": {"rate": 16000}},
                {"type": "synthesize", "data": {"text": 5}},
                {"type": "synthesize", "data": {}},
                {"type": "synthesize", "data": {"text": "hi", "voice": "joe"}},
                {"type": "synthesize-chunk", "data": {"text": ["a"]}},
                {"type": "detect", "data": {"names": "hey_jarvis"}},
                {"type": "transcribe", "data": {"language": 5}},
                {"type": "ping", "data": {"text": {"a": 1}}},
                {"type": "select-program", "data": {}},
            ]
        )
    )


def _valid_then_garbage(rng: random.Random, limits: FrameLimits) -> bytes:
    return _line({"type": "describe"}) + rng.choice([b"\n", b"{\n", b"}{\n", b'{"type": "x"} y\n'])


def _truncated_header(rng: random.Random, limits: FrameLimits) -> bytes:
    return _line({"type": "describe", "data": {"a": 1}})[: rng.randrange(1, 20)]


GENERATORS: dict[str, Callable[[random.Random, FrameLimits], bytes]] = {
    "garbage": _garbage,
    "not-an-object": _not_an_object,
    "bad-type": _bad_type,
    "unknown-type": _unknown_type,
    "bad-data": _bad_data,
    "bad-length": _bad_length,
    "over-size": _over_size,
    "lying-long": _lying_long,
    "lying-short": _lying_short,
    "bad-extra-data": _bad_extra_data,
    "long-header": _long_header,
    "bad-utf8": _bad_utf8,
    "deep-json": _deep,
    "bad-fields": _bad_fields,
    "valid-then-garbage": _valid_then_garbage,
    "truncated-header": _truncated_header,
}


def cases(seed: int, n: int, limits: FrameLimits) -> list[Case]:
    rng = random.Random(seed)
    kinds = sorted(GENERATORS)
    out = []
    for i in range(n):
        kind = kinds[i % len(kinds)] if i < len(kinds) else rng.choice(kinds)
        data = GENERATORS[kind](rng, limits)
        # a lying length with the client then waiting: only the frame timeout ends it
        stall = kind == "lying-long" and rng.random() < 0.3
        out.append(Case(kind, data, eof=not stall))
    return out
