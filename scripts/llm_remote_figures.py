"""Figures of the remote backend (docs/llm.md#remote-server): time to first token from
llama-cpp-python's server on 127.0.0.1 against the local model in this process, and
what the fallback costs when the server is away (connection refused) or silent.

    .venv/bin/python scripts/llm_remote_figures.py --runs 5

Medians over every reply; the spread is the lowest and highest of the runs' medians.
The server runs on this machine (one thread, like the local model), so the two compete
for the same cores: on a real network add its round trip, and count a faster machine's
speed."""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from hearthvox.bundles.lock import load_lock, resolve_source
from hearthvox.bundles.optional import LLM_MODEL
from hearthvox.config import LlmConfig
from hearthvox.engines.llm import LlamaLlm, LlmOptions
from hearthvox.engines.llm_remote import RemoteLlm, RemoteOptions

QUESTIONS = [
    "What is the capital of France?",
    "How far away is the moon?",
    "Why is the sky blue?",
    "What should I cook for dinner tonight?",
    "Who wrote Romeo and Juliet?",
    "How many legs does a spider have?",
    "What is a good name for a cat?",
    "How do I boil an egg?",
]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server(gguf: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", gguf, "--host", "127.0.0.1"]
        + ["--port", str(port), "--n_ctx", "2048", "--n_threads", "1", "--verbose", "False"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, f"http://127.0.0.1:{port}/v1"
        except OSError:
            time.sleep(0.2)


def _silent() -> tuple[socket.socket, str]:
    sock = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(sock.accept()[0])  # never answered
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    return sock, f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


def _first_token(make: Callable[[], object], question: str) -> tuple[float, str]:
    """Seconds from the question to the first piece of text, and who answered."""
    llm = make()
    conv = llm.conversation()  # type: ignore[attr-defined]
    t0 = time.monotonic()
    reply = llm.generate(conv, question, threading.Event())  # type: ignore[attr-defined]
    first = None
    for piece in reply:
        if piece and first is None:
            first = time.monotonic() - t0
    backend = getattr(reply, "backend", "local")
    return (first if first is not None else float("nan")), backend


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    artifact = load_lock().artifact(LLM_MODEL)
    gguf = resolve_source(artifact) / artifact.files[0].name
    local = LlamaLlm(gguf, LlmOptions(threads=1))
    proc, url = _server(str(gguf))
    silent, silent_url = _silent()
    refused = f"http://127.0.0.1:{_port()}/v1"

    def remote(where: str) -> Callable[[], RemoteLlm]:
        opts = RemoteOptions.from_config(LlmConfig(backend="openai", url=where))
        return lambda: RemoteLlm(opts, local)  # a fresh one: no back-off carried over

    cases = {
        "local model": lambda: local,
        "server (llama-cpp-python, 127.0.0.1)": remote(url),
        "server away (connection refused) -> local": remote(refused),
        "server silent (first_token_s 1.5) -> local": remote(silent_url),
    }
    try:
        _first_token(cases["server (llama-cpp-python, 127.0.0.1)"], QUESTIONS[0])  # warm up
        for name, make in cases.items():
            medians, every, backends = [], [], set()
            runs = args.runs if "silent" not in name else min(args.runs, 2)
            for _ in range(runs):
                times = []
                for q in QUESTIONS:
                    took, backend = _first_token(make, q)
                    times.append(took * 1000)
                    backends.add(backend)
                medians.append(statistics.median(times))
                every += times
            print(
                f"{name:45} first token {statistics.median(every):7.0f} ms "
                f"({min(medians):.0f}-{max(medians):.0f}), {len(every)} replies, "
                f"answered by {', '.join(sorted(backends))}"
            )
    finally:
        proc.terminate()
        proc.wait()
        silent.close()
        local.close()


if __name__ == "__main__":
    main()
