"""The hub's parts without satellites: the arbitration rule, the backoff, the config,
the command line's refusals, and the listener's stand-down on the real models."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from hearthvox.audio.sources import array_source
from hearthvox.config import Config, ConfigError, from_dict, satellite_address
from hearthvox.engines import Engines
from hearthvox.events import AudioChunk, Event, NoSpeech, Reply, TurnDone, WakeDetected
from hearthvox.hub.arbiter import Arbiter, Claim, Hearing, Verdict, best
from hearthvox.hub.audio import SILENT_DBFS, SatelliteSource, speech_level_dbfs
from hearthvox.hub.client import SatelliteGone, SatelliteLink
from hearthvox.hub.session import backoff_s
from hearthvox.pipeline.runner import Pipeline
from hearthvox.skills.base import SkillContext, SystemClock
from hearthvox.skills.registry import SkillRouter, load_skills
from tests.conftest import REPO, hearthvox_cli, silence, speak16
from tests.hub.conftest import free_port


def test_best_evidence_rule() -> None:
    # a clearly surer wake word (beyond the band) wins whatever the level
    assert best([Claim("a", 0.95, -40.0), Claim("b", 0.6, -10.0)]) == 0
    # scores within the band (0.3): the loudest wins
    assert best([Claim("a", 0.99, -30.0), Claim("b", 0.75, -20.0), Claim("c", 0.97, -25)]) == 1
    # same level: the higher score; then the earlier claim
    assert best([Claim("a", 0.9, -20.0), Claim("b", 0.95, -20.0)]) == 1
    assert best([Claim("a", 0.9, -20.0), Claim("b", 0.9, -20.0)]) == 0


def test_arbiter_window_and_counts() -> None:
    async def go() -> tuple[list[Verdict], list[Verdict]]:
        arbiter = Arbiter(100)
        first = await asyncio.gather(
            arbiter.claim(Claim("kitchen", 0.9, -30.0)),
            arbiter.claim(Claim("den", 0.92, -20.0)),
        )
        # a claim after the window closed is a round of its own: it wins alone
        later = await asyncio.gather(arbiter.claim(Claim("kitchen", 0.9, -30.0)))
        assert arbiter.summary() == {
            "den": {"won": 1, "stood_down": 0},
            "kitchen": {"won": 1, "stood_down": 1},
        }
        return list(first), list(later)

    assert asyncio.run(go()) == (
        [Verdict(False, 2), Verdict(True, 2)],
        [Verdict(True, 1)],
    )


def test_rooms_that_do_not_hear_each_other_are_arbitrated_apart() -> None:
    """kitchen and hall hear each other; the bedroom hears no one: four wake words at
    once are two rounds (kitchen + hall, and the bedroom alone), and the hall's claim
    made after the bedroom's joins the kitchen's round, not the bedroom's."""
    hearing = Hearing({"kitchen": ("hall",), "hall": None, "bedroom": ()})
    assert hearing("hall", "kitchen") and hearing("kitchen", "hall")
    assert not hearing("bedroom", "kitchen") and not hearing("hall", "bedroom")
    assert Hearing({"a": None, "b": None})("a", "b")  # nobody said: everyone hears

    async def go() -> list[Verdict]:
        arbiter = Arbiter(100, hearing)
        return list(
            await asyncio.gather(
                arbiter.claim(Claim("kitchen", 0.9, -20.0)),
                arbiter.claim(Claim("bedroom", 0.9, -40.0)),
                arbiter.claim(Claim("hall", 0.9, -35.0)),
            )
        )

    assert asyncio.run(go()) == [Verdict(True, 2), Verdict(True, 1), Verdict(False, 2)]


def test_hears_is_checked() -> None:
    def sats(*tables: dict[str, object]) -> dict[str, object]:
        return {"hub": {"satellites": list(tables)}}

    cfg = from_dict(
        sats(
            {"uri": "tcp://a:1", "area": "kitchen", "hears": ["hall", "hall"]},
            {"uri": "tcp://b:1", "area": "hall"},
        )
    )
    assert [e.hears for e in cfg.hub.satellites] == [("hall",), None]
    with pytest.raises(ConfigError, match="hears 'attic', the area of no satellite"):
        from_dict(sats({"uri": "tcp://a:1", "area": "kitchen", "hears": ["attic"]}))
    with pytest.raises(ConfigError, match="hears must be a list"):
        from_dict(sats({"uri": "tcp://a:1", "area": "kitchen", "hears": "hall"}))
    with pytest.raises(ConfigError, match="hears must be a list"):
        from_dict(sats({"uri": "tcp://a:1", "area": "kitchen", "hears": ["../x" * 20]}))


def test_backoff_doubles_to_the_cap_with_jitter() -> None:
    mid = [backoff_s(n, 30.0, lambda: 0.5) for n in range(8)]
    assert mid == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert backoff_s(100, 30.0, lambda: 0.0) == 22.5
    assert backoff_s(100, 30.0, lambda: 1.0) == 37.5


def test_satellite_level_is_the_wake_phrase_level() -> None:
    source = SatelliteSource(80)
    tone = (np.sin(np.arange(16000) / 5) * 3276.8).astype("<i2")  # about -23 dBFS
    source.feed({"rate": 16000, "width": 2, "channels": 1}, tone.tobytes())

    async def take() -> list[AudioChunk]:
        source.end()
        return [c async for c in source.chunks()]

    assert len(asyncio.run(take())) == 12  # 960 ms of 80 ms chunks; the rest waits
    assert -24.0 < source.level_dbfs(960) < -22.0
    assert source.level_dbfs(0) == SILENT_DBFS
    # the phrase's level, not the second's: 0.3 s of it in 0.7 s of room tone is as
    # loud as the whole second of it (an RMS over the second would say 5 dB less)
    rng = np.random.default_rng(0)
    quiet = rng.normal(0, 12, 16000).astype("<i2")
    mixed = np.concatenate([quiet[:11200], tone[:4800]])
    assert abs(speech_level_dbfs(mixed) - speech_level_dbfs(tone)) < 1.0
    assert speech_level_dbfs((tone * 0.5).astype("<i2")) == pytest.approx(
        speech_level_dbfs(tone) - 6.0, abs=0.2
    )


def test_after_a_turn_only_the_reply_tail_is_listened_to() -> None:
    """The audio that came while a turn was answered (the satellite hearing the reply)
    is skipped but its last ``keep_ms``; the next chunks follow on in time."""
    source = SatelliteSource(80)
    second = np.zeros(16000, dtype="<i2").tobytes()
    for _ in range(3):
        source.feed({"rate": 16000, "width": 2, "channels": 1}, second)
    assert source.trim(500.0) == 37 - 7 and source.skipped == 30  # 37 whole chunks came
    assert source.trim(500.0) == 0

    async def take() -> list[AudioChunk]:
        source.end()
        return [c async for c in source.chunks()]

    times = [c.t_audio_ms for c in asyncio.run(take())]
    assert times == [80 * i for i in range(30, 37)]


@pytest.mark.parametrize(
    ("uri", "why"),
    [
        ("udp://kitchen:10700", "not a tcp://"),
        ("tcp://kitchen", "needs a host and a port"),
        ("tcp://kitchen:0", "needs a host and a port"),
        ("tcp://kitchen:99999", "needs a host and a port"),
        ("tcp://:10700", "needs a host and a port"),
        ("tcp://a b:10700", "needs a host and a port"),
    ],
)
def test_bad_satellite_uris(uri: str, why: str) -> None:
    with pytest.raises(ConfigError, match=why):
        satellite_address(uri)


def test_hub_config() -> None:
    cfg = from_dict(
        {
            "hub": {
                "arbitration_window_ms": 250,
                "satellites": [
                    {"uri": "tcp://kitchen.local:10700", "area": "kitchen"},
                    {"uri": "tcp://[::1]:10701", "area": "living room"},
                ],
            }
        }
    )
    assert cfg.hub.arbitration_window_ms == 250.0
    assert [s.area for s in cfg.hub.satellites] == ["kitchen", "living room"]
    assert satellite_address(cfg.hub.satellites[1].uri) == ("::1", 10701)
    too_many = [{"uri": f"tcp://h:{10000 + i}", "area": f"a{i}"} for i in range(33)]
    for bad, why in [
        ({"satellites": too_many}, "at most 32"),
        ({"satellites": [{"uri": "tcp://h:1", "area": "x" * 33}]}, "short name"),
        ({"satellites": [{"uri": "tcp://h:1"}]}, "short name"),
        ({"satellites": [{"uri": "tcp://h:1", "area": "a"}] * 2}, "listed twice"),
        ({"satellites": [{"area": "a"}]}, "needs uri"),
        ({"arbitration_window_ms": -1}, "arbitration_window_ms"),
    ]:
        with pytest.raises(ConfigError, match=why):
            from_dict({"hub": bad})


def test_cli_refuses_in_one_line(tmp_path: Path) -> None:
    for args, why in [
        ((), "no satellites"),
        (("--satellite", "udp://x:1"), "not a tcp:// address"),
        (("--satellite", "tcp://x:1", "--satellite", "tcp://x:1"), "given twice"),
    ]:
        done = hearthvox_cli("hub", *args, timeout=60)
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and why in lines[0], done.stderr


def test_stand_down_drops_the_turn_and_the_next_is_answered(
    engines: Engines, tmp_path: Path
) -> None:
    """The arbiter's loser: told to stand down at its wake word, the turn ends with no
    reply, and the listener waits for the wake word again (the next request is answered)."""
    request = speak16(engines, "Hey Jarvis. What time is it?")
    audio = np.concatenate([silence(0.5), request, silence(1.5), request, silence(2.0)])
    ctx = SkillContext(clock=SystemClock(), state_dir=tmp_path / "state")
    router = SkillRouter(load_skills(), ctx, "Sorry.")
    cfg = Config()
    pipeline = Pipeline(engines, router, cfg)

    class Sink:
        def write(self, samples: np.ndarray, rate_hz: int) -> None: ...
        def stop(self) -> None: ...

    async def paced() -> AsyncIterator[AudioChunk]:
        # four times faster than a microphone: the stand-down (sent when the wake word
        # reaches the caller) arrives while the listener still listens, as it does live
        async for chunk in array_source(audio, 16000, cfg.audio.chunk_ms, realtime=False):
            await asyncio.sleep(cfg.audio.chunk_ms / 4000)
            yield chunk

    async def collect() -> list[Event]:
        source = paced()
        out: list[Event] = []
        async for event in pipeline.run(source, Sink()):
            out.append(event)
            if isinstance(event, WakeDetected) and len(out) == 1:
                pipeline.stand_down()
        return out

    events = asyncio.run(collect())
    kinds = [type(e).__name__ for e in events]
    first_done = kinds.index("TurnDone")
    assert kinds[:3] == ["WakeDetected", "NoSpeech", "TurnDone"], kinds
    assert isinstance(events[1], NoSpeech)
    assert isinstance(events[2], TurnDone) and events[2].outcome == "stood_down"
    rest = events[first_done + 1 :]
    assert any(isinstance(e, WakeDetected) for e in rest)
    replies = [e for e in rest if isinstance(e, Reply)]
    assert len(replies) == 1 and replies[0].skill == "time"


def test_cli_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """With no satellite there yet it keeps retrying; SIGTERM ends it with status 0."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hearthvox", "-v", "hub", "--satellite", f"tcp://127.0.0.1:{port}"],
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    seen: list[str] = []
    try:
        for line in proc.stderr:  # "driving", then the first failed try
            seen.append(line)
            if "reconnecting in" in line:
                break
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = "".join(seen) + rest
    assert proc.returncode == 0, text
    assert "driving 1 satellite(s)" in text and "cannot connect" in text, text
    assert "arbitration: won 0, stood down 0" in text and "stopped" in text, text


def test_an_over_size_frame_from_a_satellite_ends_the_connection() -> None:
    """Frames are read with the server's limits: a satellite that announces a 1 GiB
    payload is dropped (and retried) before any of it is read."""

    async def go() -> str:
        async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readline()  # describe
            writer.write(b'{"type": "info", "payload_length": 1073741824}\n')
            await writer.drain()
            await asyncio.sleep(5)

        server = await asyncio.start_server(peer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            with pytest.raises(SatelliteGone) as caught:
                await SatelliteLink.open(f"tcp://127.0.0.1:{port}")
            return str(caught.value)
        finally:
            server.close()

    assert "frame-too-large" in asyncio.run(go())
