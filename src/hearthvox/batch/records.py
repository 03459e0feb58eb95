"""The JSON record of a transcription and its manifest line, as both runners write them.

Times in them are now, or ``SOURCE_DATE_EPOCH`` when that is set (the reproducible
builds convention): two runs of the same input then write the same bytes.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hearthvox import __version__
from hearthvox.batch.asr import Segment
from hearthvox.batch.outputs import write_outputs

if TYPE_CHECKING:
    from hearthvox.batch.planning import Job
    from hearthvox.batch.settings import BatchSettings

FORMAT_VERSION = 1


def timestamp(epoch: str | None = None) -> str:
    """ISO time of now, or of *epoch* (else ``$SOURCE_DATE_EPOCH``) when given."""
    fixed = epoch if epoch is not None else os.environ.get("SOURCE_DATE_EPOCH")
    when = datetime.fromtimestamp(int(fixed), UTC) if fixed else datetime.now(UTC)
    return when.isoformat(timespec="seconds")


def text_of(segments: list[Segment]) -> str:
    return " ".join(s.text for s in segments).strip()


def manifest_entry(
    settings: BatchSettings, job: Job, duration: float, outputs: list[str], error: str
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "input": str(job.input.path),
        "input_sha256": job.sha256,
        "fingerprint": settings.fingerprint(),
        "bundle": settings.bundle_id,
        "stem": str(job.input.stem),
        "duration_s": round(duration, 3),
        "outputs": outputs,
        "attempts": job.attempts,
        "finished_at": timestamp(),
    }
    if error:
        entry["error"] = error
    return entry


def transcript_record(
    settings: BatchSettings,
    job: Job,
    duration: float,
    segments: list[Segment],
    epoch: str | None = None,
) -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION,
        "input": {
            "path": str(job.input.path),
            "sha256": job.sha256,
            "duration_s": round(duration, 3),
        },
        "text": text_of(segments),
        "segments": [segment_dict(x) for x in segments],
        "bundle": {"id": settings.bundle_id, "models": settings.models},
        "variant": settings.variant(),
        "settings": settings.settings(),
        "fingerprint": settings.fingerprint(),
        "hearthvox": __version__,
        "created_at": timestamp(epoch),
    }


def write_transcript(
    out_dir: Path,
    formats: tuple[str, ...],
    settings: BatchSettings,
    job: Job,
    duration: float,
    segments: list[Segment],
    epoch: str | None = None,
) -> list[str]:
    """Write the outputs of one transcribed input (atomically); returns their relative paths."""
    record = transcript_record(settings, job, duration, segments, epoch)
    return write_outputs(out_dir, str(job.input.stem), record, formats)


def segment_dict(s: Segment) -> dict[str, Any]:
    out: dict[str, Any] = {"start": s.start_s, "end": s.end_s, "text": s.text}
    if s.words:
        out["words"] = [
            {"start": w.start_s, "end": w.end_s, "word": w.word, "probability": w.probability}
            for w in s.words
        ]
    return out
