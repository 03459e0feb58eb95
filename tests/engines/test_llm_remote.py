"""The remote backend (``[llm] backend = "openai"``) against real servers on 127.0.0.1:
llama-cpp-python's own OpenAI-compatible server (a subprocess on the default GGUF), and
small socket servers that misbehave (silent, slow, hostile). No mock of the HTTP layer:
the client's bytes go through real sockets. The local model behind it is the real GGUF.
As in test_llm.py, no test asserts generated words: counts, stops, backends and times."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hearthvox.bundles.lock import load_lock, resolve_source
from hearthvox.bundles.optional import LLM_MODEL
from hearthvox.config import Config, LlmConfig, from_dict, load, server_url
from hearthvox.engines.llm import LlamaLlm, LlmOptions
from hearthvox.engines.llm_http import MAX_LINE_BYTES
from hearthvox.engines.llm_remote import RemoteLlm, RemoteOptions, RemoteReply
from hearthvox.errors import ConfigError
from hearthvox.events import LlmFigures, TurnDone
from hearthvox.pipeline.fallback import LlmFallback
from hearthvox.pipeline.jsonl import event_record
from hearthvox.runtime import start_llm_backend

ARTIFACT = load_lock().artifact(LLM_MODEL)
GGUF = resolve_source(ARTIFACT) / ARTIFACT.files[0].name
QUESTION = "What is the capital of France?"
LONG = "Tell me a long story about a dragon who learns to bake bread in a small village."


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server on the default GGUF (the dev extra
    installs its dependencies): its base URL."""
    port = _free_port()
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "llama_cpp.server", "--model", str(GGUF)),
            *("--host", "127.0.0.1", "--port", str(port)),
            *("--n_ctx", "1024", "--n_threads", "1", "--verbose", "False"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=os.environ | {"OMP_WAIT_POLICY": "PASSIVE"},
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    if s.recv(64).startswith(b"HTTP/1.1 200"):
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode() if proc.stderr else ""
                pytest.fail(f"llama_cpp.server did not start: {err[-2000:]}")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def local() -> LlamaLlm:
    return LlamaLlm(GGUF, LlmOptions(context_tokens=1024, max_new_tokens=24, threads=1))


def _options(url: str, max_new_tokens: int = 24, **changes: Any) -> RemoteOptions:
    cfg = LlmConfig(backend="openai", url=url, max_new_tokens=max_new_tokens)
    return dataclasses.replace(RemoteOptions.from_config(cfg), **changes)


def _ask(
    llm: RemoteLlm, text: str = QUESTION, cancel_after: int | None = None, conv: object = None
) -> tuple[RemoteReply, list[str], float]:
    cancel = threading.Event()
    conversation = conv if conv is not None else llm.conversation()
    t0 = time.monotonic()
    reply = llm.generate(conversation, text, cancel)  # type: ignore[arg-type]
    out = []
    for n, piece in enumerate(reply, 1):
        out.append(piece)
        if n == cancel_after:
            cancel.set()
    return reply, out, time.monotonic() - t0


# ------------------------------------------------------------ small servers


class SocketServer:
    """One thread on 127.0.0.1 that accepts connections and hands each to ``script``
    after reading the request (kept in :attr:`requests`)."""

    def __init__(self, script: Callable[[socket.socket], None]) -> None:
        self.script = script
        self.requests: list[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            data = b""
            with contextlib.suppress(OSError):
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                while len(body) < length:
                    body += conn.recv(65536)
                self.requests.append(head + b"\r\n\r\n" + body)
                self.script(conn)

    def close(self) -> None:
        self.stop.set()
        self.sock.close()
        self.thread.join(2)


@contextlib.contextmanager
def serving(script: Callable[[socket.socket], None]) -> Iterator[SocketServer]:
    srv = SocketServer(script)
    try:
        yield srv
    finally:
        srv.close()


SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
)


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _piece(text: str, finish: str | None = None) -> bytes:
    event = {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]}
    return _chunk(b"data: " + json.dumps(event).encode() + b"\r\n\r\n")


def _silent(conn: socket.socket) -> None:
    """Accepts the request and never answers (until the client goes)."""
    with contextlib.suppress(OSError):
        conn.settimeout(30)
        conn.recv(1)


def _pieces_then(tail: bytes, n: int = 2, gap_s: float = 0.0) -> Callable[[socket.socket], None]:
    def script(conn: socket.socket) -> None:
        conn.sendall(SSE_HEAD)
        for i in range(n):
            conn.sendall(_piece(f" word{i}"))
            time.sleep(gap_s)
        conn.sendall(tail)

    return script


# ------------------------------------------------------------ the real server


def test_a_reply_streams_from_the_server_with_history(server: str) -> None:
    llm = RemoteLlm(_options(server))
    conv = llm.conversation()
    reply, pieces, _ = _ask(llm, conv=conv)
    assert reply.backend == "openai" and reply.error is None
    assert "".join(pieces).strip() and len(pieces) == reply.stats.new_tokens
    assert reply.stats.new_tokens <= 24 and reply.stats.stop in ("end", "max_tokens")
    assert reply.stats.first_token_s is not None and reply.stats.first_token_s < 5
    assert conv.turns == 1
    again, more, _ = _ask(llm, "And of Italy?", conv=conv)
    assert again.backend == "openai" and "".join(more).strip() and conv.turns == 2
    assert "France" not in repr(conv)  # counts only


def test_cancel_stops_the_server_reply_within_one_piece(server: str) -> None:
    llm = RemoteLlm(_options(server, max_new_tokens=64))
    reply, pieces, _ = _ask(llm, LONG, cancel_after=3)
    assert len(pieces) == 3 and reply.stats.stop == "cancelled" and reply.error is None
    assert llm.retry_at == 0.0  # a barge-in is not the server's failure


def test_the_key_comes_from_the_environment_and_goes_as_a_bearer_token(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("HV_TEST_KEY", "sk-secret-42")
    with serving(_pieces_then(_chunk(b"data: [DONE]\r\n\r\n") + b"0\r\n\r\n")) as srv:
        llm = RemoteLlm(_options(srv.url, api_key_env="HV_TEST_KEY", model="smollm2"))
        reply, pieces, _ = _ask(llm)
    assert "".join(pieces) == " word0 word1" and reply.stats.stop == "end"
    head, _, body = srv.requests[0].partition(b"\r\n\r\n")
    assert b"Authorization: Bearer sk-secret-42" in head
    assert head.startswith(b"POST /v1/chat/completions HTTP/1.1")
    sent = json.loads(body)
    assert sent["stream"] is True and sent["max_tokens"] == 24 and sent["model"] == "smollm2"
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]
    assert "sk-secret" not in caplog.text


# ------------------------------------------------------------ falling back


def test_connection_refused_the_local_model_answers_then_backs_off(
    local: LlamaLlm, caplog: pytest.LogCaptureFixture
) -> None:
    llm = RemoteLlm(_options(f"http://127.0.0.1:{_free_port()}/v1"), local)
    with caplog.at_level(logging.WARNING):
        reply, pieces, took = _ask(llm)
    assert reply.backend == "local" and "".join(pieces).strip() and reply.error is None
    assert reply.stats.new_tokens > 0 and took < 5
    assert llm.failures == 1 and llm.retry_at > time.monotonic() + 25
    warned = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warned) == 1 and "the local model answers" in warned[0].getMessage()
    caplog.clear()
    again, more, _ = _ask(llm)  # in the back-off: straight to the local model, no warning
    assert again.backend == "local" and llm.failures == 1 and not caplog.records


def test_a_silent_server_the_local_model_answers_after_first_token_s(local: LlamaLlm) -> None:
    with serving(_silent) as srv:
        llm = RemoteLlm(_options(srv.url, first_token_s=0.6), local)
        reply, pieces, took = _ask(llm)
    assert reply.backend == "local" and "".join(pieces).strip()
    assert reply.stats.first_token_s is not None and reply.stats.first_token_s >= 0.6
    assert 0.6 <= took < 6


def test_cancel_while_waiting_for_the_first_token_stops_at_once(local: LlamaLlm) -> None:
    with serving(_silent) as srv:
        llm = RemoteLlm(_options(srv.url, first_token_s=5.0), local)
        cancel = threading.Event()
        reply = llm.generate(llm.conversation(), QUESTION, cancel)
        threading.Timer(0.3, cancel.set).start()
        t0 = time.monotonic()
        pieces = list(reply)
        took = time.monotonic() - t0
    assert pieces == [] and reply.stats.stop == "cancelled" and 0.25 < took < 0.5
    assert llm.failures == 0  # neither a failure nor a local reply


def test_a_server_error_before_any_text_the_local_model_answers(local: LlamaLlm) -> None:
    body = b'{"error": {"message": "model \\"x\\" not found, try pulling it first"}}'
    answer = b"HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    with serving(lambda conn: conn.sendall(answer)) as srv:
        llm = RemoteLlm(_options(srv.url), local)
        reply, pieces, _ = _ask(llm)
    assert reply.backend == "local" and "".join(pieces).strip() and llm.failures == 1


def test_without_a_local_model_the_reply_has_no_words_and_says_why() -> None:
    llm = RemoteLlm(_options(f"http://127.0.0.1:{_free_port()}/v1"))
    reply, pieces, took = _ask(llm)
    assert pieces == [] and reply.backend == "none" and took < 2
    assert reply.error is not None and "failed: cannot connect" in reply.error
    again, _, _ = _ask(llm)  # backing off: no words, no new error
    assert again.backend == "none" and again.error is None and llm.failures == 1


def test_a_failure_mid_reply_ends_it_there(local: LlamaLlm) -> None:
    before = local.evaluated
    with serving(_pieces_then(b"", n=2)) as srv:  # two words, then the connection closes
        llm = RemoteLlm(_options(srv.url), local)
        reply, pieces, _ = _ask(llm)
    assert "".join(pieces) == " word0 word1" and reply.backend == "openai"
    assert reply.error is not None and "mid-reply" in reply.error
    assert local.evaluated == before  # not started again locally
    assert llm.retry_at > time.monotonic()


def test_a_server_silent_mid_reply_ends_it_after_read_timeout_s(local: LlamaLlm) -> None:
    def script(conn: socket.socket) -> None:
        _pieces_then(b"", n=1)(conn)
        _silent(conn)

    with serving(script) as srv:
        llm = RemoteLlm(_options(srv.url, read_s=0.4), local)
        reply, pieces, took = _ask(llm)
    assert pieces == [" word0"] and reply.error is not None
    assert "nothing more within 0.4 s" in reply.error and 0.4 <= took < 1.5


# ------------------------------------------------------------ hostile streams


def _hostile(tail: Callable[[socket.socket], None]) -> Callable[[socket.socket], None]:
    def script(conn: socket.socket) -> None:
        conn.sendall(SSE_HEAD + _piece(" ok"))
        with contextlib.suppress(OSError):
            tail(conn)

    return script


def _endless_line(conn: socket.socket) -> None:
    block = _chunk(b"x" * 65536)
    conn.sendall(_chunk(b"data: "))
    for _ in range(400):  # 25 MiB if nobody stopped it
        conn.sendall(block)


def _endless_events(conn: socket.socket) -> None:
    empty = _chunk(b'data: {"choices": [{"index": 0, "delta": {}}]}\n\n')
    for _ in range(100_000):
        conn.sendall(empty)


def _deep(conn: socket.socket) -> None:
    conn.sendall(_chunk(b"data: " + b"[" * 50_000 + b"\n\n"))


def _garbage(conn: socket.socket) -> None:
    conn.sendall(_chunk(b"data: {this is not json\n\n"))


def _error_event(conn: socket.socket) -> None:
    conn.sendall(_chunk(b'data: {"error": {"message": "out of memory"}}\n\n'))


def _huge_chunk_size(conn: socket.socket) -> None:
    conn.sendall(b"fffffffffffffffffffff\r\n")


@pytest.mark.parametrize(
    ("tail", "why"),
    [
        (_endless_line, f"a line over {MAX_LINE_BYTES} bytes"),
        (_endless_events, "more than 128 events"),
        (_deep, "an event nested deeper than 32"),
        (_garbage, "an event that is not JSON"),
        (_error_event, "the server sent an error: out of memory"),
        (_huge_chunk_size, "a chunk over 4 MiB"),
    ],
)
def test_a_hostile_stream_ends_the_reply_with_one_line_and_bounded_memory(
    tail: Callable[[socket.socket], None], why: str, caplog: pytest.LogCaptureFixture
) -> None:
    with serving(_hostile(tail)) as srv:
        llm = RemoteLlm(_options(srv.url))
        tracemalloc.start()
        try:
            with caplog.at_level(logging.WARNING):
                reply, pieces, took = _ask(llm)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert pieces == [" ok"] and reply.error is not None and why in reply.error, reply.error
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warned) == 1 and why in warned[0] and "\n" not in warned[0]
    assert peak < 4 * 1024 * 1024 and took < 5


def test_a_hostile_stream_before_any_text_lets_the_local_model_answer(local: LlamaLlm) -> None:
    with serving(lambda conn: (conn.sendall(SSE_HEAD), _garbage(conn))) as srv:
        llm = RemoteLlm(_options(srv.url), local)
        reply, pieces, _ = _ask(llm)
    assert reply.backend == "local" and "".join(pieces).strip()


def test_a_reply_longer_than_asked_is_cut() -> None:
    def script(conn: socket.socket) -> None:
        conn.sendall(SSE_HEAD)
        for _ in range(200):
            conn.sendall(_piece("word " * 100))

    with serving(script) as srv:
        llm = RemoteLlm(_options(srv.url, max_new_tokens=4))
        reply, pieces, _ = _ask(llm)
    assert reply.stats.stop == "max_tokens" and len(pieces) <= 4
    assert len("".join(pieces)) <= 4 * 32


# ------------------------------------------------------------ the pipeline's side


def test_the_fallback_says_which_backend_answered(server: str, local: LlamaLlm) -> None:
    async def one(llm: RemoteLlm) -> tuple[str, object, str | None]:
        fallback = LlmFallback(llm)
        stream = fallback.start(QUESTION)
        text = "".join([p async for p in stream.pieces()])
        await stream.ended.wait()
        return text, stream.figures, stream.error

    text, figures, error = asyncio.run(one(RemoteLlm(_options(server), local)))
    assert text.strip() and error is None and getattr(figures, "backend", None) == "openai"
    away = RemoteLlm(_options(f"http://127.0.0.1:{_free_port()}/v1"))
    text, figures, error = asyncio.run(one(away))  # no local model: no words, one error
    assert text == "" and error is not None and getattr(figures, "backend", None) == "none"
    assert getattr(figures, "stop", None) == "error"
    assert isinstance(figures, LlmFigures)
    done = event_record(TurnDone(10, 12, 1, "answered", "llm", llm=figures))
    assert done is not None and done["llm_backend"] == "none"  # run --json's turn_done


def test_start_warns_once_that_the_transcript_leaves_the_device(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HV_TEST_KEY", raising=False)
    cfg = Config(
        llm=LlmConfig(backend="openai", url="http://10.0.0.9:8080/v1", api_key_env="HV_TEST_KEY")
    )
    monkeypatch.setattr("hearthvox.runtime.start_llm", lambda cfg, paths=None: None)
    with caplog.at_level(logging.WARNING):
        llm = start_llm_backend(cfg)
    assert isinstance(llm, RemoteLlm) and llm.local is None
    lines = [r.getMessage() for r in caplog.records]
    assert "off this device to the server at 10.0.0.9:8080" in lines[0]
    assert "HV_TEST_KEY, which is not set" in lines[1] and len(lines) == 2
    assert start_llm_backend(Config(llm=LlmConfig(enabled=False))) is None


# ------------------------------------------------------------ config


@pytest.mark.parametrize(
    ("llm", "message"),
    [
        ({"backend": "openai"}, '[llm] backend = "openai" needs [llm] url'),
        ({"backend": "cloud"}, "[llm] backend = 'cloud': must be one of 'local', 'openai'"),
        ({"url": "ftp://10.0.0.9/v1"}, "[llm] url must start with http:// or https://"),
        ({"url": "10.0.0.9:8080"}, "[llm] url must start with http:// or https://"),
        ({"url": "http:///v1"}, "[llm] url has no host"),
        ({"url": "http://10.0.0.9:99999/v1"}, "[llm] url is not a URL"),
        ({"url": "http://me:pw@10.0.0.9/v1"}, "must not hold a user name or password"),
        ({"url": "http://10.0.0.9/v1?key=1"}, "must not have a query or a fragment"),
        ({"api_key_env": "MY KEY"}, "[llm] api_key_env must be the name of an environment"),
        ({"first_token_s": 0}, "[llm] first_token_s must be greater than 0"),
        ({"connect_timeout_s": -1.0}, "[llm] connect_timeout_s must be greater than 0"),
        ({"read_timeout_s": 1e9}, "[llm] read_timeout_s must be greater than 0 and at most 600"),
        ({"retry_after_s": -5}, "[llm] retry_after_s must be 0 or more"),
        ({"api_key": "sk-1"}, "unknown key [llm] 'api_key'"),
    ],
)
def test_bad_remote_settings_are_refused_in_one_line(llm: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        from_dict({"llm": llm})
    assert message in str(err.value) and "\n" not in str(err.value)
    assert "pw" not in str(err.value)


def test_remote_settings_load_with_their_defaults(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[llm]\nbackend = "openai"\nurl = "http://192.168.1.5:8080/v1/"\n')
    llm = load(path).llm
    assert (llm.backend, llm.remote_model, llm.api_key_env) == ("openai", "", "")
    assert (llm.connect_timeout_s, llm.first_token_s, llm.read_timeout_s) == (1.0, 1.5, 2.0)
    assert llm.retry_after_s == 30.0 and LlmConfig().backend == "local"
    url = server_url(llm.url)
    assert (url.host, url.port, url.path) == ("192.168.1.5", 8080, "/v1/chat/completions")
