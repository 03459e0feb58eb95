"""The batch run: inputs -> (decode, VAD, chunk) -> batched ASR across files -> outputs.

One thread reads ahead (decoding and VAD) while the main thread decodes speech.
Inputs go through in *groups*: a group gathers files until it holds
``batch_size * jobs`` chunks, its chunks are transcribed together (batched by
length across files), then each file's outputs are written and its manifest line
appended, in input order. Killing the run loses at most the group in flight.
A file that fails to decode is retried ``retries`` times, then recorded as failed
with the reason; a batch that fails is retried file by file.
"""

from __future__ import annotations

import dataclasses
import json
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from hearthvox import __version__
from hearthvox.batch.asr import BatchAsr, Segment
from hearthvox.batch.chunking import Chunk, VadScorer, plan_chunks
from hearthvox.batch.decode import RATE_HZ, load_audio, probe_duration_s
from hearthvox.batch.discover import Input
from hearthvox.batch.guard import WhenBusy, daemon_running, lower_priority, yielded_threads
from hearthvox.batch.manifest import Manifest, file_sha256
from hearthvox.batch.outputs import output_path, remove_leftovers, write_outputs
from hearthvox.batch.progress import Progress
from hearthvox.batch.settings import BatchSettings
from hearthvox.errors import HearthvoxError
from hearthvox.events import Int16Array

if TYPE_CHECKING:
    from hearthvox.bundles.default import ModelPaths

Status = Literal["done", "skipped", "failed"]
FORMAT_VERSION = 1


@dataclass(frozen=True)
class RunOptions:
    out_dir: Path | None = None
    """None: nothing is written; results only come back (``transcribe`` without --out)."""
    formats: tuple[str, ...] = ("json", "txt")
    retries: int = 2
    retry_failed: bool = False
    """Try again the inputs an earlier run recorded as failed (same bytes, same bundle)."""
    force: bool = False
    """Transcribe every input again, done or not."""
    when_busy: WhenBusy = "yield"
    busy_poll_s: float = 2.0


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
class _Job:
    input: Input
    key: str
    sha256: str
    expected_s: float
    audio: Int16Array | None = None
    chunks: tuple[Chunk, ...] = ()
    error: str = ""
    attempts: int = 0


class BatchEngine:
    """The loaded models of a batch run and the guard's state."""

    def __init__(self, paths: ModelPaths, settings: BatchSettings, when_busy: WhenBusy) -> None:
        self.busy_at_start = when_busy == "yield" and daemon_running()
        if self.busy_at_start:
            model = dataclasses.replace(
                settings.model, threads=yielded_threads(settings.model.threads), jobs=1
            )
            settings = dataclasses.replace(settings, model=model)
            lower_priority()  # before the runtimes start their threads: they inherit it
        self.settings = settings
        self.asr = BatchAsr(paths.asr_dir, settings.model, settings.decode)
        self.vad = VadScorer(paths.vad)
        self.priority = lower_priority() if self.busy_at_start else ""

    def yield_now(self) -> None:
        if not self.priority:
            self.priority = lower_priority()

    def prepare(self, job: _Job) -> None:
        audio = load_audio(job.input.path)
        probs = self.vad.probs(audio)
        job.audio, job.chunks = audio, tuple(plan_chunks(probs, len(audio), self.settings.chunking))

    def transcribe(self, jobs: list[_Job]) -> list[list[Segment]]:
        pieces = [j.audio[c.start : c.end] for j in jobs if j.audio is not None for c in j.chunks]
        texts = iter(self.asr.transcribe(pieces))
        out: list[list[Segment]] = []
        for job in jobs:
            segments: list[Segment] = []
            for chunk in job.chunks:
                segments.extend(s.shifted(chunk.start / RATE_HZ) for s in next(texts).segments)
            out.append(segments)
        return out


class BatchRun:
    def __init__(self, engine: BatchEngine, opts: RunOptions, progress: Progress) -> None:
        self.engine = engine
        self.opts = opts
        self.progress = progress
        self.fingerprint = engine.settings.fingerprint()

    # ------------------------------------------------------------------ entry
    def run(self, inputs: list[Input]) -> Iterator[FileResult]:
        if self.opts.out_dir is None:
            yield from self._run(inputs, None)
            return
        remove_leftovers(self.opts.out_dir)
        with Manifest(self.opts.out_dir) as manifest:
            yield from self._run(inputs, manifest)

    def _run(self, inputs: list[Input], manifest: Manifest | None) -> Iterator[FileResult]:
        todo: list[_Job] = []
        early: list[FileResult] = []
        for item in inputs:
            job_or_result = self._plan(item, manifest)
            if isinstance(job_or_result, FileResult):
                early.append(job_or_result)
            else:
                todo.append(job_or_result)
        self.progress.start(len(inputs), sum(j.expected_s for j in todo))
        try:
            for result in early:
                self.progress.advance(result.status, 0.0, 0.0)
                yield result
            for group in self._groups(todo):
                yield from self._finish(group, manifest)
        finally:
            self.progress.close()

    # ------------------------------------------------------------------ planning
    def _plan(self, item: Input, manifest: Manifest | None) -> _Job | FileResult:
        if manifest is None:
            return _Job(item, "", "", probe_duration_s(item.path) or 0.0)
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
        return _Job(item, key, sha, probe_duration_s(item.path) or 0.0)

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

    # ------------------------------------------------------------------ reading ahead
    def _groups(self, todo: list[_Job]) -> Iterator[list[_Job]]:
        ready: queue.Queue[_Job | None] = queue.Queue(maxsize=4)
        stop = threading.Event()

        def put(item: _Job | None) -> bool:
            while not stop.is_set():
                try:
                    ready.put(item, timeout=0.5)
                    return True
                except queue.Full:
                    continue
            return False

        def produce() -> None:
            try:
                for job in todo:
                    self._prepare(job)
                    if not put(job):
                        return
            finally:
                put(None)  # the end, also when reading failed in a way nobody foresaw

        reader = threading.Thread(target=produce, name="hv-batch-read", daemon=True)
        reader.start()
        size = self.engine.settings.decode.batch_size * self.engine.settings.model.jobs
        group: list[_Job] = []
        try:
            while (job := ready.get()) is not None:
                group.append(job)
                if sum(len(j.chunks) for j in group) >= size:
                    yield group
                    group = []
            if group:
                yield group
        finally:
            stop.set()

    def _prepare(self, job: _Job) -> None:
        for attempt in range(1, self.opts.retries + 2):
            job.attempts = attempt
            try:
                self.engine.prepare(job)
                job.error = ""
                return
            except HearthvoxError as exc:
                job.error = str(exc)
            except Exception as exc:  # any decoder failure is this file's, not the run's
                job.error = f"{job.input.path}: {type(exc).__name__}: {exc}"

    # ------------------------------------------------------------------ decoding
    def _wait_or_yield(self) -> None:
        if self.opts.when_busy == "ignore" or not daemon_running():
            return
        if self.opts.when_busy == "yield":
            self.engine.yield_now()
            return
        self.progress.say(
            "the assistant is running here: waiting for it to stop (--when-busy wait)"
        )
        self.progress.note("waiting for the assistant")
        while daemon_running():
            time.sleep(self.opts.busy_poll_s)  # polling a lock another process holds
        self.progress.note("")
        self.progress.say("the assistant stopped: going on")

    def _transcribe(self, jobs: list[_Job]) -> list[list[Segment] | str]:
        live = [j for j in jobs if not j.error]
        self._wait_or_yield()
        try:
            texts: list[list[Segment] | str] = list(self.engine.transcribe(live))
        except HearthvoxError:
            texts = [self._one(j) for j in live]
        found = iter(texts)
        return [j.error if j.error else next(found) for j in jobs]

    def _one(self, job: _Job) -> list[Segment] | str:
        error = ""
        for _ in range(self.opts.retries + 1):
            job.attempts += 1
            try:
                return self.engine.transcribe([job])[0]
            except HearthvoxError as exc:
                error = str(exc)
        return f"{job.input.path}: {error}"

    def _finish(self, group: list[_Job], manifest: Manifest | None) -> Iterator[FileResult]:
        for job, outcome in zip(group, self._transcribe(group), strict=True):
            duration = len(job.audio) / RATE_HZ if job.audio is not None else 0.0
            job.audio = None  # let the samples go
            if isinstance(outcome, str):
                result = FileResult(job.input.path, "failed", error=outcome, attempts=job.attempts)
                if manifest is not None:
                    manifest.record(job.key, "failed", self._entry(job, duration, [], outcome))
            else:
                result = self._write(job, duration, outcome, manifest)
            self.progress.advance(result.status, result.duration_s, job.expected_s)
            yield result

    def _write(
        self, job: _Job, duration: float, segments: list[Segment], manifest: Manifest | None
    ) -> FileResult:
        text = " ".join(s.text for s in segments).strip()
        outputs: list[str] = []
        if manifest is not None and self.opts.out_dir is not None:
            record = self._record(job, duration, text, segments)
            outputs = write_outputs(
                self.opts.out_dir, str(job.input.stem), record, self.opts.formats
            )
            manifest.record(job.key, "done", self._entry(job, duration, outputs, ""))
        return FileResult(job.input.path, "done", duration, text, tuple(outputs), "", job.attempts)

    def _entry(self, job: _Job, duration: float, outputs: list[str], error: str) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "input": str(job.input.path),
            "input_sha256": job.sha256,
            "fingerprint": self.fingerprint,
            "bundle": self.engine.settings.bundle_id,
            "stem": str(job.input.stem),
            "duration_s": round(duration, 3),
            "outputs": outputs,
            "attempts": job.attempts,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        if error:
            entry["error"] = error
        return entry

    def _record(
        self, job: _Job, duration: float, text: str, segments: list[Segment]
    ) -> dict[str, Any]:
        s = self.engine.settings
        return {
            "format": FORMAT_VERSION,
            "input": {
                "path": str(job.input.path),
                "sha256": job.sha256,
                "duration_s": round(duration, 3),
            },
            "text": text,
            "segments": [_segment(x) for x in segments],
            "bundle": {"id": s.bundle_id, "models": s.models},
            "variant": s.variant(),
            "settings": s.settings(),
            "fingerprint": self.fingerprint,
            "hearthvox": __version__,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }


def _segment(s: Segment) -> dict[str, Any]:
    out: dict[str, Any] = {"start": s.start_s, "end": s.end_s, "text": s.text}
    if s.words:
        out["words"] = [
            {"start": w.start_s, "end": w.end_s, "word": w.word, "probability": w.probability}
            for w in s.words
        ]
    return out
