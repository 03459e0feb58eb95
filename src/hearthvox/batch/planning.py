"""What the local and the cluster runner share before and after the models run.

:class:`Planner` looks every input up in the manifest (skip what is done, report
what failed before, else a :class:`Job`), :func:`groups` gathers prepared jobs
into the groups whose chunks are transcribed together (the grouping decides the
batches, so both runners must group alike to write the same text), and
:func:`transcribe_group` runs a group through the engine, file by file with
retries when the batch fails.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from hearthvox.batch.asr import Segment
from hearthvox.batch.chunking import Chunk, ChunkOptions, VadScorer, plan_chunks
from hearthvox.batch.decode import load_audio, probe_duration_s
from hearthvox.batch.discover import Input
from hearthvox.batch.guard import WhenBusy
from hearthvox.batch.manifest import Manifest, file_sha256
from hearthvox.batch.outputs import output_path, write_outputs
from hearthvox.batch.progress import Progress
from hearthvox.errors import HearthvoxError
from hearthvox.events import Int16Array


class Transcriber(Protocol):
    """What a run's engine does for the planning (:class:`hearthvox.batch.runner.BatchEngine`)."""

    def transcribe(self, jobs: list[Job]) -> list[list[Segment]]: ...


@dataclass(frozen=True)
class RunOptions:
    out_dir: Path | None = None
    """None: nothing is written; results only come back (``transcribe`` without --out-dir)."""
    formats: tuple[str, ...] = ("json", "txt")
    retries: int = 2
    retry_failed: bool = False
    """Try again the inputs an earlier run recorded as failed (same bytes, same bundle)."""
    force: bool = False
    """Transcribe every input again, done or not."""
    when_busy: WhenBusy = "yield"
    busy_poll_s: float = 2.0


Status = Literal["done", "skipped", "failed"]


@dataclass(frozen=True)
class FileResult:
    path: Path
    status: Status
    duration_s: float = 0.0
    text: str = ""
    outputs: tuple[str, ...] = ()
    error: str = ""
    attempts: int = 0


@dataclass
class Job:
    input: Input
    key: str
    sha256: str
    expected_s: float
    audio: Int16Array | None = None
    chunks: tuple[Chunk, ...] = ()
    error: str = ""
    attempts: int = 0


class Planner:
    """Decides per input, from the manifest, whether it is done, failed before or to do."""

    def __init__(self, opts: RunOptions, fingerprint: str) -> None:
        self.opts = opts
        self.fingerprint = fingerprint

    def plan(self, item: Input, manifest: Manifest | None) -> Job | FileResult:
        if manifest is None:
            return Job(item, "", "", probe_duration_s(item.path) or 0.0)
        try:
            sha = file_sha256(item.path)
        except OSError as exc:
            return FileResult(item.path, "failed", error=f"{item.path}: cannot read it ({exc})")
        key = f"{item.stem}@{sha}:{self.fingerprint}"
        entry = manifest.get(key)
        if entry is not None and not self.opts.force:
            if entry.status == "done":
                outputs = self._complete(item, entry.outputs)
                if outputs is not None:
                    if outputs != entry.outputs:
                        manifest.record(key, "done", {**entry.data, "outputs": outputs})
                    duration = float(entry.data.get("duration_s", 0.0))
                    return FileResult(item.path, "skipped", duration, outputs=tuple(outputs))
            elif not self.opts.retry_failed:
                error = str(entry.data.get("error", "failed"))
                return FileResult(
                    item.path,
                    "failed",
                    error=f"{error} (failed in an earlier run with the same "
                    "bytes and bundle; --retry-failed tries again)",
                )
        return Job(item, key, sha, probe_duration_s(item.path) or 0.0)

    def split(
        self, inputs: list[Input], manifest: Manifest | None
    ) -> tuple[list[Job], list[FileResult]]:
        """The inputs to transcribe, and the results of those already decided."""
        todo: list[Job] = []
        early: list[FileResult] = []
        for item in inputs:
            planned = self.plan(item, manifest)
            if isinstance(planned, FileResult):
                early.append(planned)
            else:
                todo.append(planned)
        return todo, early

    def _complete(self, item: Input, outputs: list[str]) -> list[str] | None:
        """The outputs of a done input, rendering missing formats from its JSON; None: redo."""
        out_dir = self.opts.out_dir
        assert out_dir is not None
        if not all((out_dir / o).is_file() for o in outputs):
            return None
        stem = str(item.stem)
        missing = [f for f in self.opts.formats if f"{stem}.{f}" not in outputs]
        if not missing:
            return outputs
        try:
            record = json.loads(output_path(out_dir, stem, "json").read_text("utf-8"))
            written = write_outputs(out_dir, stem, record, missing)
        except (OSError, ValueError, KeyError):
            return None
        return outputs + [w for w in written if w not in outputs]


def start(
    progress: Progress, inputs: int, todo: list[Job], early: list[FileResult]
) -> Iterator[FileResult]:
    """Start the progress bar, then the results decided without transcribing."""
    progress.start(inputs, sum(j.expected_s for j in todo))
    for result in early:
        progress.advance(result.status, 0.0, 0.0)
        yield result


def groups(jobs: Iterable[Job], size: int) -> Iterator[list[Job]]:
    """Jobs in order, in groups that each hold at least *size* chunks (the last: the rest)."""
    group: list[Job] = []
    for job in jobs:
        group.append(job)
        if sum(len(j.chunks) for j in group) >= size:
            yield group
            group = []
    if group:
        yield group


def transcribe_group(
    engine: Transcriber, jobs: list[Job], retries: int
) -> list[list[Segment] | str]:
    """Segments per job, or the error that failed it (decoding before, or the ASR now)."""
    live = [j for j in jobs if not j.error]
    try:
        texts: list[list[Segment] | str] = list(engine.transcribe(live))
    except HearthvoxError:
        texts = [_one(engine, j, retries) for j in live]
    found = iter(texts)
    return [j.error if j.error else next(found) for j in jobs]


def _one(engine: Transcriber, job: Job, retries: int) -> list[Segment] | str:
    error = ""
    for _ in range(retries + 1):
        job.attempts += 1
        try:
            return engine.transcribe([job])[0]
        except HearthvoxError as exc:
            error = str(exc)
    return f"{job.input.path}: {error}"


def chunk_job(vad: VadScorer, opts: ChunkOptions, job: Job) -> None:
    """Decode *job*'s recording and plan its chunks of speech."""
    audio = load_audio(job.input.path)
    probs = vad.probs(audio)
    job.audio, job.chunks = audio, tuple(plan_chunks(probs, len(audio), opts))


def prepare_job(prepare: Callable[[Job], None], job: Job, retries: int) -> None:
    """Run *prepare* on *job*, trying *retries* more times; a failure stays in ``job.error``."""
    for attempt in range(1, retries + 2):
        job.attempts = attempt
        try:
            prepare(job)
            job.error = ""
            return
        except HearthvoxError as exc:
            job.error = str(exc)
        except Exception as exc:  # any decoder failure is this file's, not the run's
            job.error = f"{job.input.path}: {type(exc).__name__}: {exc}"
