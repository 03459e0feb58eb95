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
import queue
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from hearthvox.batch.asr import BatchAsr, Segment
from hearthvox.batch.chunking import VadScorer
from hearthvox.batch.decode import RATE_HZ
from hearthvox.batch.discover import Input
from hearthvox.batch.guard import WhenBusy, daemon_running, lower_priority, yielded_threads
from hearthvox.batch.manifest import Manifest
from hearthvox.batch.outputs import remove_leftovers
from hearthvox.batch.planning import (
    FileResult,
    Job,
    Planner,
    RunOptions,
    chunk_job,
    groups,
    prepare_job,
    start,
    transcribe_group,
)
from hearthvox.batch.progress import Progress
from hearthvox.batch.records import manifest_entry, text_of, write_transcript
from hearthvox.batch.settings import BatchSettings

if TYPE_CHECKING:
    from hearthvox.bundles.default import ModelPaths

__all__ = ["BatchEngine", "BatchRun", "FileResult", "RunOptions"]


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

    def prepare(self, job: Job) -> None:
        chunk_job(self.vad, self.settings.chunking, job)

    def transcribe(self, jobs: list[Job]) -> list[list[Segment]]:
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
        self.planner = Planner(opts, self.fingerprint)

    # ------------------------------------------------------------------ entry
    def run(self, inputs: list[Input]) -> Iterator[FileResult]:
        if self.opts.out_dir is None:
            yield from self._run(inputs, None)
            return
        remove_leftovers(self.opts.out_dir)
        with Manifest(self.opts.out_dir) as manifest:
            yield from self._run(inputs, manifest)

    def _run(self, inputs: list[Input], manifest: Manifest | None) -> Iterator[FileResult]:
        todo, early = self.planner.split(inputs, manifest)
        try:
            yield from start(self.progress, len(inputs), todo, early)
            for group in self._groups(todo):
                yield from self._finish(group, manifest)
        finally:
            self.progress.close()

    # ------------------------------------------------------------------ reading ahead
    def _groups(self, todo: list[Job]) -> Iterator[list[Job]]:
        ready: queue.Queue[Job | None] = queue.Queue(maxsize=4)
        stop = threading.Event()

        def put(item: Job | None) -> bool:
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
        try:
            yield from groups(iter(ready.get, None), size)
        finally:
            stop.set()

    def _prepare(self, job: Job) -> None:
        prepare_job(self.engine.prepare, job, self.opts.retries)

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

    def _transcribe(self, jobs: list[Job]) -> list[list[Segment] | str]:
        self._wait_or_yield()
        return transcribe_group(self.engine, jobs, self.opts.retries)

    def _finish(self, group: list[Job], manifest: Manifest | None) -> Iterator[FileResult]:
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
        self, job: Job, duration: float, segments: list[Segment], manifest: Manifest | None
    ) -> FileResult:
        outputs: list[str] = []
        if manifest is not None and self.opts.out_dir is not None:
            outputs = write_transcript(
                self.opts.out_dir, self.opts.formats, self.engine.settings, job, duration, segments
            )
            manifest.record(job.key, "done", self._entry(job, duration, outputs, ""))
        text = text_of(segments)
        return FileResult(job.input.path, "done", duration, text, tuple(outputs), "", job.attempts)

    def _entry(self, job: Job, duration: float, outputs: list[str], error: str) -> dict[str, Any]:
        return manifest_entry(self.engine.settings, job, duration, outputs, error)
