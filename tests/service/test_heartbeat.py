"""Heartbeats, the watched executor and the watchdog's decisions, on real threads and sockets."""

from __future__ import annotations

import asyncio
import socket
import threading
from pathlib import Path

import pytest

from hearthvox.engines.executor import EngineExecutor
from hearthvox.service.heartbeat import (
    AUDIO,
    PIPELINE,
    Heartbeats,
    WatchedExecutor,
    mark_unwatched,
    stalled,
)
from hearthvox.service.logs import StateLog
from hearthvox.service.notify import Notifier
from hearthvox.service.watchdog import Watchdog


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_a_worker_is_silent_once_it_has_not_beaten_for_the_limit() -> None:
    clock = Clock()
    beats = Heartbeats(clock)
    beats.beat(AUDIO)
    beats.beat(PIPELINE)
    clock.t += 2.0
    beats.beat(PIPELINE)
    assert beats.silent(1.5) == [(AUDIO, 2.0)]
    beats.retire(AUDIO)  # the input ended: no longer expected
    assert beats.silent(1.5) == []


class Asr:
    def __init__(self) -> None:
        self.entered = threading.Event()

    def transcribe(self, gate: threading.Event) -> str:
        self.entered.set()
        gate.wait(10)
        return "done"


def test_the_executor_names_running_calls_and_ignores_unwatched_reads() -> None:
    clock = Clock()
    executor = WatchedExecutor(clock)
    gate, started = threading.Event(), threading.Event()

    async def main() -> str:
        asyncio.get_running_loop().set_default_executor(executor)

        async def read() -> None:
            mark_unwatched()  # like the input reader: its waits are not engine work
            await asyncio.to_thread(lambda: (started.set(), gate.wait(10)))

        asr = Asr()
        reader = asyncio.create_task(read())
        call = asyncio.create_task(asyncio.to_thread(asr.transcribe, gate))
        await asyncio.to_thread(started.wait, 10)
        await asyncio.to_thread(asr.entered.wait, 10)
        assert executor.running() == 2  # the read and the call (the two waits are over)
        clock.t += 5.0
        assert executor.busy()
        assert executor.stuck(4.0) == [("Asr.transcribe", 5.0)]
        beats = Heartbeats(clock)
        assert stalled(beats, executor, 4.0) == ["engine: Asr.transcribe running for 5.0 s"]
        gate.set()
        await reader
        return await call

    assert asyncio.run(main()) == "done"
    assert not executor.busy() and executor.stuck(0.0) == []


def test_each_engine_runs_on_its_own_thread_and_a_stuck_one_is_named() -> None:
    clock = Clock()
    asr, tts = EngineExecutor("asr", clock), EngineExecutor("tts", clock)
    gate = threading.Event()
    engine = Asr()

    async def main() -> tuple[str, str]:
        call = asyncio.create_task(asr.run(engine.transcribe, gate))
        await asyncio.to_thread(engine.entered.wait, 10)
        # the voice is not held up by a decode that hangs
        voice = await tts.run(lambda: threading.current_thread().name)
        clock.t += 5.0
        beats = Heartbeats(clock)
        problems = stalled(beats, WatchedExecutor(clock), 4.0, [asr, tts])
        assert problems == ["engine: asr: Asr.transcribe running for 5.0 s"]
        gate.set()
        return await call, voice

    done, voice = asyncio.run(main())
    assert done == "done" and voice.startswith("hv-tts")
    assert not asr.busy() and asr.stuck(0.0) == []
    asr.shutdown()
    tts.shutdown()


def test_an_abandoning_executor_does_not_wait_for_a_stuck_call() -> None:
    executor = WatchedExecutor()
    never = threading.Event()
    executor.submit(never.wait, 30)
    executor.abandon = True
    executor.shutdown(wait=True)  # returns at once although the call still runs
    assert executor.running() == 1
    never.set()


@pytest.fixture
def manager(tmp_path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "n.sock"))
    sock.setblocking(False)
    return sock


def _received(sock: socket.socket) -> list[str]:
    out = []
    while True:
        try:
            out.append(sock.recv(4096).decode())
        except BlockingIOError:
            return out


def test_the_watchdog_pings_only_while_all_is_well(
    tmp_path: Path, manager: socket.socket, capsys: pytest.CaptureFixture[str]
) -> None:
    problems: list[str] = []
    notifier = Notifier(str(tmp_path / "n.sock"))
    state = StateLog(notifier, journal=True)
    state.status = "listening"
    dog = Watchdog(notifier, 1.0, lambda: list(problems), state)
    assert dog.check() and _received(manager) == ["WATCHDOG=1"]
    problems.append("engine: WhisperAsr.transcribe running for 31.0 s")
    assert not dog.check() and not dog.check()
    sent = _received(manager)
    assert sent == ["STATUS=stalled: engine: WhisperAsr.transcribe running for 31.0 s"]
    problems.clear()
    assert dog.check()
    assert _received(manager) == ["STATUS=listening", "WATCHDOG=1"]
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("<3>hearthvox: stalled: engine: WhisperAsr.transcribe")
    assert err[1] == "<4>hearthvox: listening: recovered; watchdog pings resume"
    assert len(err) == 2  # one line per change, not per check
    assert dog.pings == 2


def test_the_watchdog_thread_pings_on_its_own(tmp_path: Path, manager: socket.socket) -> None:
    manager.setblocking(True)
    manager.settimeout(10)
    notifier = Notifier(str(tmp_path / "n.sock"))
    dog = Watchdog(notifier, 0.05, list, StateLog(notifier, journal=False)).start()
    try:
        assert [manager.recv(64) for _ in range(3)] == [b"WATCHDOG=1"] * 3
    finally:
        dog.stop()
