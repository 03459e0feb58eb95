"""What runs on the workers of a Ray cluster: the models, the checks, chunking and ASR.

Nothing here imports Ray at module level, so the pieces stay testable without it.
The model files travel with the run (:class:`ShippedModels`: the driver puts each
file's bytes in Ray's object store once); a worker uses its own copy when one
with the same sha256 is at the driver's path or in its cache, and fetches the
bytes otherwise. Every file is hashed on every worker before a model is loaded.
Workers work in the folder the command ran in, so relative paths mean the same
on every machine that mounts it at the same place.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from hearthvox.batch.chunking import Chunk
from hearthvox.batch.decode import RATE_HZ, load_audio
from hearthvox.batch.discover import Input
from hearthvox.batch.guard import WhenBusy
from hearthvox.batch.manifest import file_sha256
from hearthvox.batch.outputs import atomic_write
from hearthvox.batch.planning import Job, prepare_job, transcribe_group
from hearthvox.batch.records import write_transcript
from hearthvox.batch.runner import BatchEngine
from hearthvox.batch.settings import BatchSettings, default_jobs
from hearthvox.errors import HearthvoxError, IncompatibleBundleError, ModelError

if TYPE_CHECKING:
    from hearthvox.bundles.default import ModelPaths

_ERRORS: dict[str, type[HearthvoxError]] = {
    "IncompatibleBundleError": IncompatibleBundleError,
    "ModelError": ModelError,
}


@dataclass(frozen=True)
class ShippedFile:
    name: str
    """Relative to its artifact's folder (POSIX)."""
    sha256: str
    origin: str
    """Where the driver read it (a worker with the same installation has it there too)."""
    data: Any
    """A Ray ObjectRef to the bytes."""


@dataclass(frozen=True)
class ShippedModels:
    """The bundle's batch models (ASR folder, VAD file) as the workers receive them."""

    paths: ModelPaths
    asr: tuple[ShippedFile, ...]
    vad: tuple[ShippedFile, ...]
    vad_name: str


def ship_models(paths: ModelPaths, put: Any) -> ShippedModels:
    """*put* is ``ray.put``: every ASR and VAD file of the bundle goes to the object store."""

    def files(stage: str, folder: Path) -> tuple[ShippedFile, ...]:
        out = []
        for f in paths.artifacts[stage].files:
            origin = folder / f.name
            out.append(ShippedFile(f.name, f.sha256, str(origin), put(origin.read_bytes())))
        return tuple(out)

    return ShippedModels(
        paths, files("asr", paths.asr_dir), files("vad", paths.vad.parent), paths.vad.name
    )


def _safe(name: str) -> PurePosixPath:
    rel = PurePosixPath(name)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise ModelError(f"model file name {name!r} leaves its folder; the bundle is refused")
    return rel


def place(files: tuple[ShippedFile, ...], cache: Path, get: Any) -> Path:
    """A folder holding *files* under their names, every one hashed; fetched when missing."""
    origins = {Path(f.origin).parent for f in files}
    if len(origins) == 1:
        (origin,) = origins
        if all(_matches(origin / _safe(f.name), f.sha256) for f in files):
            return origin
    digest = hashlib.sha256("".join(f.sha256 for f in files).encode()).hexdigest()[:24]
    folder = cache / digest
    for f in files:
        target = folder / _safe(f.name)
        if not _matches(target, f.sha256):
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.hvtmp-{os.getpid()}")
            tmp.write_bytes(get(f.data))
            os.replace(tmp, target)
            if not _matches(target, f.sha256):
                target.unlink(missing_ok=True)
                raise ModelError(
                    f"model file {f.name} arrived damaged on this worker (sha256 differs)"
                )
    return folder


def _matches(path: Path, sha256: str) -> bool:
    try:
        return path.is_file() and file_sha256(path) == sha256
    except OSError:
        return False


def worker_models(shipped: ShippedModels, get: Any) -> ModelPaths:
    """The bundle's batch models on this worker, verified; refused when this device
    cannot run the bundle (the reason as ``hearthvox hw`` gives it)."""
    from hearthvox.compat.refusal import check_bundle_supported, parse_ref
    from hearthvox.paths import user_paths

    check_bundle_supported(shipped.paths.hardware, *parse_ref(shipped.paths.bundle_id))
    cache = user_paths().cache_dir / "cluster-models"
    asr_dir = place(shipped.asr, cache, get)
    vad_dir = place(shipped.vad, cache, get)
    return dataclasses.replace(shipped.paths, asr_dir=asr_dir, vad=vad_dir / shipped.vad_name)


def enter(cwd: str) -> None:
    """Work in the folder the command ran in (the same place on a shared filesystem)."""
    try:
        os.chdir(cwd)
    except OSError as exc:
        raise HearthvoxError(
            f"cannot enter {cwd} ({exc.strerror}); mount the shared folder at the same "
            "path on every worker"
        ) from None


def refusal_error(kind: str, message: str) -> HearthvoxError:
    return _ERRORS.get(kind, HearthvoxError)(message)


def check_paths(inputs: list[str], out_dir: str) -> None:
    """Refuse (one line) when this worker cannot read an input or write the output folder."""
    for name in inputs:
        path = Path(name)
        if not path.is_file() or not os.access(path, os.R_OK):
            raise HearthvoxError(f"cannot read the input {name}")
    probe = Path(out_dir) / f".hvprobe-{os.uname().nodename}-{os.getpid()}"
    try:
        atomic_write(probe, "")
        probe.unlink()
    except OSError as exc:
        raise HearthvoxError(f"cannot write to {out_dir} ({exc.strerror})") from None


# --------------------------------------------------------------------------- the actor
def group_blob(jobs: list[Job]) -> str:
    return json.dumps(
        [
            {
                "path": str(j.input.path),
                "stem": str(j.input.stem),
                "key": j.key,
                "sha": j.sha256,
                "chunks": [[c.start, c.end] for c in j.chunks],
                "error": j.error,
                "attempts": j.attempts,
            }
            for j in jobs
        ]
    )


def _jobs(blob: str) -> list[Job]:
    return [
        Job(
            Input(Path(d["path"]), PurePosixPath(d["stem"])),
            d["key"],
            d["sha"],
            0.0,
            chunks=tuple(Chunk(a, b) for a, b in d["chunks"]),
            error=d["error"],
            attempts=d["attempts"],
        )
        for d in json.loads(blob)
    ]


@dataclass(frozen=True)
class AsrWork:
    """What every ASR actor needs to know about the run."""

    settings: BatchSettings
    cwd: str
    out_dir: str
    formats: tuple[str, ...]
    retries: int
    when_busy: WhenBusy
    epoch: str | None
    threads: int | None
    """--threads (per actor); None: the worker profile's, at most the CPUs Ray gave it."""
    jobs: int | None


def actor_settings(
    settings: BatchSettings, profile_threads: int, cpus: float, work: AsrWork
) -> BatchSettings:
    threads = work.threads or max(1, min(profile_threads, int(cpus)))
    jobs = work.jobs or default_jobs(settings.model.device, threads)
    model = dataclasses.replace(settings.model, threads=threads, jobs=jobs)
    return dataclasses.replace(settings, model=model)


class AsrActor:
    """One Whisper model and one VAD per actor, loaded once: chunks files, transcribes groups.

    Every call brings the model files (references to them): a restarted actor
    loads them on its first call. A worker that cannot run the bundle does not
    raise while loading: :meth:`check` reports why, and the driver refuses the run."""

    def __init__(self, work: AsrWork, get: Any, cpus: float) -> None:
        self.work, self.get, self.cpus = work, get, cpus
        self.refused: tuple[str, str] = ("", "")
        self.engine: BatchEngine | None = None

    def _load(self, shipped: ShippedModels) -> None:
        """Verify and load the models once (again after a restart: the first call does)."""
        from hearthvox.compat import load_matrix, probe, select_profile

        if self.engine is not None or self.refused[0]:
            return
        work = self.work
        try:
            enter(work.cwd)
            paths = worker_models(shipped, self.get)
            variant = select_profile(probe(), load_matrix()).variants["asr"]
            threads = int(variant.get("threads", work.settings.model.threads))
            settings = actor_settings(work.settings, threads, self.cpus, work)
            self.engine = BatchEngine(paths, settings, work.when_busy)
        except HearthvoxError as exc:
            self.refused = (type(exc).__name__, str(exc))

    def check(self, inputs: list[str], shipped: ShippedModels) -> tuple[str, str]:
        """('', '') when this worker can do its part; else (error kind, the reason)."""
        self._load(shipped)
        if self.refused[0]:
            return self.refused
        try:
            check_paths(inputs, self.work.out_dir)
        except HearthvoxError as exc:
            return type(exc).__name__, str(exc)
        return "", ""

    def _engine(self, shipped: ShippedModels) -> BatchEngine:
        self._load(shipped)
        if self.engine is None:
            raise refusal_error(*self.refused)
        enter(self.work.cwd)
        return self.engine

    def chunk(
        self, paths: list[str], shipped: ShippedModels
    ) -> list[tuple[list[list[int]], str, int]]:
        """Decode and chunk each file: (chunks as [start, end], error, attempts)."""
        engine = self._engine(shipped)
        out = []
        for path in paths:
            job = Job(Input(Path(path), PurePosixPath("-")), "", "", 0.0)
            prepare_job(engine.prepare, job, self.work.retries)
            out.append(([[c.start, c.end] for c in job.chunks], job.error, job.attempts))
        return out

    def group(self, blob: str, shipped: ShippedModels) -> list[dict[str, Any]]:
        """Transcribe one group and write its outputs; each file's outcome (no text)."""
        engine, w = self._engine(shipped), self.work
        jobs = _jobs(blob)

        def load(job: Job) -> None:
            job.audio = load_audio(job.input.path)

        for job in jobs:
            if not job.error:
                prepare_job(load, job, w.retries)
        out: list[dict[str, Any]] = []
        for job, outcome in zip(jobs, transcribe_group(engine, jobs, w.retries), strict=True):
            duration = len(job.audio) / RATE_HZ if job.audio is not None else 0.0
            row: dict[str, Any] = {"key": job.key, "duration": duration, "attempts": job.attempts}
            if isinstance(outcome, str):
                row.update(status="failed", error=outcome, outputs=[])
            else:
                outputs = write_transcript(
                    Path(w.out_dir), w.formats, engine.settings, job, duration, outcome, w.epoch
                )
                row.update(status="done", error="", outputs=outputs)
            job.audio = None
            out.append(row)
        return out
