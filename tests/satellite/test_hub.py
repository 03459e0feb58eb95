"""``hearthvox satellite --wake-on server`` adopted by a hearthvox hub (in this process, on
the session's engines): the hub hears the wake word in the satellite's stream, answers,
and the satellite plays the reply. Skipped while the hub is not in the tree."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import numpy as np
import pytest

from hearthvox.audio.resample import resample_int16
from hearthvox.config import Config
from hearthvox.engines import Engines
from hearthvox.skills.base import SkillContext, SystemClock
from hearthvox.skills.registry import SkillRouter, load_skills

from .proc import LISTENING, hearthvox_satellite

BOUND_S = 60.0


def test_a_hub_adopts_the_satellite_and_its_reply_is_played(
    engines: Engines, time_request_wav: Path, tmp_path: Path
) -> None:
    hub_mod = pytest.importorskip("hearthvox.hub.hub", reason="the hub is not in this tree")
    import dataclasses

    from hearthvox.config import HubConfig, SatelliteEntry

    out = tmp_path / "reply.wav"
    proc = hearthvox_satellite(
        "--uri", "tcp://127.0.0.1:0", "--input", str(time_request_wav), "--realtime",
        "--wake-on", "server", "--output", str(out), home=tmp_path / "home",
    )  # fmt: skip
    try:
        port = int(proc.wait_for(LISTENING, 120).group(1))
        cfg = dataclasses.replace(Config(), hub=HubConfig(reconnect_max_s=1.0))
        ctx = SkillContext(clock=SystemClock(), state_dir=tmp_path / "state")
        router = SkillRouter(load_skills(), ctx, "Sorry, I can't do that yet.")
        hub = hub_mod.Hub([SatelliteEntry(f"tcp://127.0.0.1:{port}", "kitchen")], engines,
                          router, cfg)  # fmt: skip

        async def drive() -> None:
            task = asyncio.create_task(hub.run())
            try:
                for _ in range(int(BOUND_S / 0.1)):  # the hub has no event for it
                    if hub.sessions[0].stats.replies >= 1 or task.done():
                        break
                    await asyncio.sleep(0.1)
                await asyncio.sleep(2.0)  # the reply's last chunks reach the satellite
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

        asyncio.run(drive())
        stats = hub.sessions[0].stats
        assert stats.turns == 1 and stats.replies == 1
    finally:
        assert proc.stop() == 0, proc.lines
    with wave.open(str(out), "rb") as wav:
        rate = wav.getframerate()
        audio = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.int16)
    assert len(audio) / rate > 0.5
    heard = engines.asr.transcribe(resample_int16(audio, rate, 16000)).text.lower()
    assert "it is" in heard or "it's" in heard, heard
