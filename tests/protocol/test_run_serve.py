"""``hearthvox run --serve``: the assistant and the Wyoming server in one process.

In process, over the session's engines: the server answers with the very engines
it was given (no second load), a Wyoming request waits while the assistant's turn
holds the engines and goes on when it is done, one that waits too long gets a
``busy`` error and its connection stays usable. As a user runs it: a real ``run``
daemon on a live stdin with ``--serve tcp://127.0.0.1:0``, a real Wyoming client
describing and transcribing while the assistant answers its own request, SIGHUP,
then SIGTERM: exit status 0, and the port is closed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import signal
import socket
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from click.testing import CliRunner
from wyoming.asr import Transcribe
from wyoming.audio import AudioStop
from wyoming.info import Describe, Info

from hearthvox.audio.wavio import load_wav
from hearthvox.bundles.default import ModelPaths
from hearthvox.cli import main
from hearthvox.config import Config, ServeConfig
from hearthvox.engines import Engines
from hearthvox.errors import ConfigError
from hearthvox.evaluation.wer import normalize
from hearthvox.events import Event, NoSpeech, Reply, ReplyDone, TurnDone, WakeDetected
from hearthvox.protocol.server import DEFAULT_URI, TcpAddress, UnixAddress
from hearthvox.service.serving import ServeAlongside, ServeSettings, serve_settings
from tests.service.harness import daemon

from .wyclient import client, read_until, send_audio, transcribe, transcript_text, wav_pcm

BIRCH = "the birch canoe slid on the smooth planks".split()
BOUND_S = 60.0  # bound on every wait here; a healthy run needs far less


def _serving(engines: Engines, model_paths: ModelPaths, wait_s: float) -> ServeAlongside:
    settings = ServeSettings(TcpAddress("127.0.0.1", 0), wait_s)
    return ServeAlongside(engines, model_paths, Config(), settings)


def test_settings_come_from_the_option_or_the_config_and_refuse_remote() -> None:
    assert serve_settings(Config()) is None
    on = Config(serve=ServeConfig(with_run=True))
    default = serve_settings(on)
    assert default is not None and default.address.uri() == DEFAULT_URI
    given = serve_settings(Config(), "unix:///tmp/hv.sock")
    assert given is not None and given.address == UnixAddress(Path("/tmp/hv.sock"))
    with pytest.raises(ConfigError, match=r"\[serve\] allow_remote"):
        serve_settings(Config(), "tcp://0.0.0.0:10550")
    remote = Config(serve=ServeConfig(allow_remote=True))
    assert serve_settings(remote, "tcp://0.0.0.0:0") is not None
    with pytest.raises(ConfigError, match="tcp:// or unix://"):
        serve_settings(Config(), "http://127.0.0.1:10550")


@pytest.mark.parametrize(
    ("args", "config", "message"),
    [
        (["--serve", "tcp://0.0.0.0:10550"], "", "[serve] allow_remote = true"),
        (["--serve", "http://127.0.0.1:10550"], "", "tcp:// or unix://"),
        ([], '[serve]\nwith_run = true\nuri = "tcp://192.168.1.20:1"\n', "allow_remote"),
        ([], "[serve]\nwait_s = 0\n", "[serve] wait_s"),
    ],
)
def test_run_refuses_a_bad_serve_setting_before_loading_anything(
    tmp_path: Path, corpus_dir: Path, args: list[str], config: str, message: str
) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(config, encoding="utf-8")
    wav = str(corpus_dir / "birch_canoe.wav")
    cmd = ["run", "--input", wav, "--output", "none", "--config", str(cfg), *args]
    result = CliRunner().invoke(main, cmd)
    assert result.exit_code == 2, result.output
    assert message in result.output.replace("\n", " ")
    assert "loading models" not in result.output


def test_after_a_reload_new_requests_use_the_new_engines(
    engines: Engines, model_paths: ModelPaths
) -> None:
    serving = _serving(engines, model_paths, wait_s=1.0)
    before = serving.services.info
    reloaded = dataclasses.replace(engines)  # what a reload that loaded new models hands over
    serving.reloaded(reloaded, model_paths, Config())
    assert serving.services.engines is reloaded
    assert serving.services.info is not before  # described afresh


def test_the_gate_follows_the_assistants_turns_and_announcements(
    engines: Engines, model_paths: ModelPaths
) -> None:
    def spoken(announcement: bool) -> list[Event]:
        reply = Reply(0, 0, "It is noon.", "time", 0.0, announcement=announcement)
        return [reply, ReplyDone(0, 0, 1.0, 1.0, False, announcement)]

    turn_done = TurnDone(0, 0, 1, "answered", "time")
    script: list[tuple[Event, bool]] = [
        (spoken(True)[0], True),  # a timer's announcement while idle holds the engines ...
        (spoken(True)[1], False),  # ... until it is spoken
        (WakeDetected(0, 0, "hey_jarvis", 0.9), True),  # a turn holds them ...
        (spoken(True)[0], True),
        (spoken(True)[1], True),  # ... through an announcement in its middle ...
        (spoken(False)[0], True),
        (spoken(False)[1], True),
        (turn_done, False),  # ... until it is done
        (WakeDetected(0, 0, "hey_jarvis", 0.9), True),
        (NoSpeech(0, 0, follow_up=False), False),  # a wake word with no command after it
    ]

    async def scenario() -> None:
        serving = _serving(engines, model_paths, wait_s=1.0)
        for event, claimed in script:
            await serving.observe(event)
            assert serving.gate.claimed is claimed, event
        assert serving.gate.claims == 3

    asyncio.run(scenario())


def test_the_server_shares_the_engines_and_waits_for_the_assistants_turn(
    engines: Engines, model_paths: ModelPaths, corpus_dir: Path
) -> None:
    pcm = wav_pcm(corpus_dir / "birch_canoe.wav")

    async def scenario() -> None:
        serving = _serving(engines, model_paths, wait_s=BOUND_S)
        assert serving.services.engines is engines  # the same objects: nothing loaded again
        await serving.start()
        bound = serving.server.bound
        assert isinstance(bound, TcpAddress)
        try:
            await serving.gate.claim()  # the assistant's turn holds the engines
            request = asyncio.create_task(transcribe(bound, pcm))
            async with asyncio.timeout(BOUND_S):
                # until the request reached the gate and waits (a counter, not an event)
                while serving.gate.waited == 0:  # noqa: ASYNC110 - the gate has no event for it
                    await asyncio.sleep(0.05)
            assert not request.done()
            serving.idle()  # the turn is done: the request goes on
            async with asyncio.timeout(BOUND_S):
                events = await request
            assert normalize(transcript_text(events)) == BIRCH
            assert serving.gate.refused == 0
        finally:
            await serving.close()

    asyncio.run(scenario())


def test_a_request_that_waits_too_long_gets_busy_and_the_connection_goes_on(
    engines: Engines, model_paths: ModelPaths, corpus_dir: Path
) -> None:
    pcm = wav_pcm(corpus_dir / "birch_canoe.wav")

    async def scenario() -> None:
        serving = _serving(engines, model_paths, wait_s=0.2)
        await serving.start()
        bound = serving.server.bound
        assert isinstance(bound, TcpAddress)
        c = client(bound)
        await c.connect()
        try:
            await serving.gate.claim()  # a turn that outlasts the request's wait
            await c.write_event(Transcribe(language="en").event())
            await send_audio(c, pcm)
            await c.write_event(AudioStop().event())
            events = await read_until(c, "error")
            assert events[-1].data["code"] == "busy", events[-1].data
            assert "try again" in events[-1].data["text"]
            assert serving.gate.refused >= 1
            await c.write_event(Describe().event())  # the connection is still served
            info = Info.from_event((await read_until(c, "info"))[-1])
            assert info.asr and info.tts and info.wake
            serving.gate.release()
        finally:
            await c.disconnect()
            await serving.close()

    asyncio.run(scenario())


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(5.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


async def _describe(address: TcpAddress) -> Info:
    c = client(address)
    await c.connect()
    try:
        await c.write_event(Describe().event())
        return Info.from_event((await read_until(c, "info"))[-1])
    finally:
        await c.disconnect()


@pytest.fixture(scope="module")
def request_audio(time_request_wav: Path) -> npt.NDArray[np.int16]:
    """ "Hey Jarvis. What time is it?" and a second of silence after it."""
    return load_wav(time_request_wav).samples[8000:]


def test_run_serve_in_one_process_as_a_user_runs_it(
    tmp_path: Path, corpus_dir: Path, request_audio: npt.NDArray[np.int16]
) -> None:
    pcm = wav_pcm(corpus_dir / "birch_canoe.wav")
    cfg = tmp_path / "config.toml"
    cfg.write_text("[endpoint]\nfollow_up = false\n", encoding="utf-8")
    with daemon(
        tmp_path, "--config", str(cfg), "--serve", "tcp://127.0.0.1:0", watchdog_usec=4_000_000
    ) as d:
        ready = d.notify.wait("READY", "1")
        status = d.notify.notes.items[ready].fields["STATUS"]
        m = re.search(r"serving Wyoming on tcp://127\.0\.0\.1:(\d+)$", status)
        assert m and status.startswith("listening on standard input"), status
        port = int(m.group(1))
        line = d.log_line("serving Wyoming on tcp://127.0.0.1:")
        assert f"127.0.0.1:{port} (asr, tts, wake: hey_jarvis)" in d.log.items[line]
        address = TcpAddress("127.0.0.1", port)

        info = asyncio.run(_describe(address))
        assert info.asr and info.tts and info.wake
        assert normalize(transcript_text(asyncio.run(transcribe(address, pcm)))) == BIRCH

        # the assistant's own turn, with a Wyoming request arriving in the middle of it
        start = d.events.count()
        d.feeder.say(request_audio)
        d.event("wake", start)
        heard = transcript_text(asyncio.run(transcribe(address, pcm)))
        done = d.event("turn_done", start)
        replies = [e for e in d.events.items[start:done] if e.get("event") == "reply"]
        assert replies and replies[-1]["skill"] == "time", d.events.items[start:]
        assert normalize(heard) == BIRCH

        # SIGHUP: the config is re-read; the server goes on
        reloading = d.notify.notes.count()
        d.signal(signal.SIGHUP)
        d.notify.wait("READY", "1", reloading)
        d.log_line("config reloaded")
        assert asyncio.run(_describe(address)).asr

        # SIGTERM: both stop, exit status 0
        stopping = d.notify.notes.count()
        d.signal(signal.SIGTERM)
        d.notify.wait("STOPPING", "1", stopping)
        assert d.proc.wait(timeout=120) == 0, d.stderr()
        d.log.wait_closed()
        log = d.stderr()
        assert not _port_open(port)

    assert "Traceback" not in log
    # the models were loaded once, for both
    assert sum("models ready in" in ln for ln in log.splitlines()) == 1, log
    closed = re.search(r"Wyoming server closed; over (\d+) turns .*?, (\d+) Wyoming engine", log)
    assert closed, log
    turns, waited = int(closed.group(1)), int(closed.group(2))
    assert turns >= 1 and waited >= 1, closed.group(0)  # the request in the turn waited for it
