"""``hearthvox transcribe PATH... --out-dir DIR --ray ADDRESS``: the batch run on a Ray cluster.

The driver (this process) plans against the manifest exactly as the local run
does, then starts an actor pool: one actor per CPU of every live node (per GPU
with ``--device cuda``), each holding one Whisper model and one VAD, loaded once.
Every actor first checks its node: the bundle's model files (sent with the run,
hashed there), the compatibility matrix of that device, reading every input and
writing the output folder; one refusal stops the run before anything is done.
The actors then decode and chunk the files (in input order, a few per call); the
driver groups them exactly as the local run does (so the batches, and the text,
are the same) and hands the groups out. An actor transcribes a group and writes
its outputs atomically into the shared output folder; the driver appends each
file's manifest line when its group comes back. An actor that dies mid-group is
restarted by Ray and the group runs again: nothing lost, nothing recorded twice.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hearthvox.batch.chunking import Chunk
from hearthvox.batch.clusterwork import (
    AsrActor,
    AsrWork,
    ShippedModels,
    group_blob,
    refusal_error,
    ship_models,
)
from hearthvox.batch.discover import Input
from hearthvox.batch.manifest import Manifest
from hearthvox.batch.outputs import remove_leftovers
from hearthvox.batch.planning import FileResult, Job, Planner, groups, start
from hearthvox.batch.progress import Progress
from hearthvox.batch.records import manifest_entry
from hearthvox.batch.runner import RunOptions
from hearthvox.batch.settings import BatchSettings
from hearthvox.bundles.default import ModelPaths
from hearthvox.errors import ConfigError, HearthvoxError

_QUIET = {
    "RAY_USAGE_STATS_ENABLED": "0",
}


@dataclass(frozen=True)
class ClusterOptions:
    address: str
    """``auto`` (a running cluster), ``local`` (one started in this process), or HOST:PORT."""
    threads: int | None = None
    jobs: int | None = None


def _ray() -> Any:
    os.environ.update({k: os.environ.get(k, v) for k, v in _QUIET.items()})
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "--ray needs Ray: pip install 'hearthvox[cluster]' (or scripts/setup --cluster)"
        ) from None
    return ray


def connect(address: str) -> Any:
    """Join the cluster at *address* (dashboard off, usage stats off); returns ``ray``."""
    ray = _ray()
    if ray.is_initialized():
        return ray
    kwargs: dict[str, Any] = dict(
        include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING
    )
    try:
        if address == "local":
            ray.init(**kwargs)
        else:
            ray.init(address=address, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ConfigError(
            f"cannot join the Ray cluster at {address!r}: {str(exc).splitlines()[0]}"
        ) from None
    _cluster_messages_to_stderr()
    return ray


def blas_threads() -> str:
    """The BLAS thread count of a local run here (OpenBLAS: its variables, else the CPUs).

    The Whisper features go through a BLAS matrix product whose last bits depend on
    its thread count; Ray sets ``OMP_NUM_THREADS`` to an actor's CPUs, so the actors
    get this count instead, and write what the local run would have written."""
    for name in ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return value
    return str(min(64, len(os.sched_getaffinity(0))))


def _cluster_messages_to_stderr() -> None:
    """Ray prints the cluster's error messages (``(raylet) A worker died ...``) on the
    driver's stdout, which belongs to ``--json``: send them to stderr."""
    import ray._private.worker as worker  # no public switch for this in Ray 2.x

    printer = getattr(worker, "print_to_stdstream", None)
    if printer is None or getattr(printer, "hv_stderr", False):
        return

    def to_stderr(data: dict[str, Any], ignore_prefix: bool) -> None:
        printer({**data, "is_err": True}, ignore_prefix)

    to_stderr.hv_stderr = True  # type: ignore[attr-defined]
    worker.print_to_stdstream = to_stderr


class _Actor:
    """The Ray side of an :class:`AsrActor` (made remote in :meth:`ClusterRun._actors`)."""

    def __init__(self, work: AsrWork) -> None:
        import ray

        context: Any = ray.get_runtime_context()
        cpus = float(context.get_assigned_resources().get("CPU", 1.0))
        self.actor = AsrActor(work, ray.get, cpus)
        self.node = str(context.get_node_id())

    def check(self, inputs: list[str], shipped: ShippedModels) -> tuple[str, str, str]:
        return (*self.actor.check(inputs, shipped), self.node)

    def chunk(
        self, paths: list[str], shipped: ShippedModels
    ) -> list[tuple[list[list[int]], str, int]]:
        return self.actor.chunk(paths, shipped)

    def group(self, blob: str, shipped: ShippedModels) -> list[dict[str, Any]]:
        return self.actor.group(blob, shipped)


class ClusterRun:
    """The batch run of :class:`hearthvox.batch.BatchRun`, its work done by a Ray cluster."""

    def __init__(
        self,
        paths: ModelPaths,
        settings: BatchSettings,
        opts: RunOptions,
        progress: Progress,
        cluster: ClusterOptions,
    ) -> None:
        if opts.out_dir is None:
            raise ConfigError("--ray writes to a folder every worker sees: give --out-dir DIR")
        self.paths = paths
        self.settings = settings
        self.opts = opts
        self.out_dir: Path = opts.out_dir
        self.progress = progress
        self.cluster = cluster
        self.planner = Planner(opts, settings.fingerprint())
        self.cwd = os.getcwd()

    def run(self, inputs: list[Input]) -> Iterator[FileResult]:
        remove_leftovers(self.out_dir)
        with Manifest(self.out_dir) as manifest:
            todo, early = self.planner.split(inputs, manifest)
            try:
                yield from start(self.progress, len(inputs), todo, early)
                if todo:
                    yield from self._cluster(connect(self.cluster.address), todo, manifest)
            finally:
                self.progress.close()
            remove_leftovers(self.out_dir)

    # ------------------------------------------------------------------ the cluster
    def _cluster(self, ray: Any, todo: list[Job], manifest: Manifest) -> Iterator[FileResult]:
        from ray.util import ActorPool

        shipped = ship_models(self.paths, ray.put)
        actors = self._actors(ray)
        try:
            self._check(ray, actors, todo, shipped)
            pool = ActorPool(actors)
            self._chunk(pool, todo, len(actors), shipped)
            size = self.settings.decode.batch_size * self.settings.model.jobs
            by_key = {j.key: j for j in todo}
            blobs = [group_blob(g) for g in groups(todo, size)]
            for outcome in pool.map_unordered(lambda a, b: a.group.remote(b, shipped), blobs):
                for done in outcome:
                    yield self._record(by_key[done["key"]], done, manifest)
        finally:
            for actor in actors:
                ray.kill(actor)

    def _actors(self, ray: Any) -> list[Any]:
        """One actor per CPU of every live node (per GPU on CUDA), pinned to its node."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        on_gpu = self.settings.model.device == "cuda"
        per_actor = self.cluster.threads or 1
        work = AsrWork(
            settings=self.settings,
            cwd=self.cwd,
            out_dir=str(self.out_dir),
            formats=self.opts.formats,
            retries=self.opts.retries,
            when_busy=self.opts.when_busy,
            epoch=os.environ.get("SOURCE_DATE_EPOCH"),
            threads=self.cluster.threads,
            jobs=self.cluster.jobs,
        )
        remote = ray.remote(max_restarts=-1, max_task_retries=-1)(_Actor)
        blas = {"env_vars": {"OPENBLAS_NUM_THREADS": blas_threads()}}
        actors = []
        for node in ray.nodes():
            if not node.get("Alive"):
                continue
            have = node["Resources"]
            count = int(have.get("GPU", 0)) if on_gpu else int(have.get("CPU", 0)) // per_actor
            where = NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
            options = dict(
                num_cpus=0 if on_gpu else per_actor, num_gpus=1 if on_gpu else 0, runtime_env=blas
            )
            actors += [
                remote.options(scheduling_strategy=where, **options).remote(work)
                for _ in range(count)
            ]
        if not actors:
            need = "a GPU" if on_gpu else f"{per_actor} CPU(s)"
            raise HearthvoxError(f"the Ray cluster has no live node with {need} for an ASR actor")
        return actors

    def _check(self, ray: Any, actors: list[Any], todo: list[Job], shipped: ShippedModels) -> None:
        """Every actor (so every node) must hold the verified models, read and write."""
        inputs = [str(j.input.path) for j in todo]
        for kind, reason, node in ray.get([a.check.remote(inputs, shipped) for a in actors]):
            if kind:
                where = next(
                    (n["NodeManagerAddress"] for n in ray.nodes() if n["NodeID"] == node), node
                )
                raise refusal_error(kind, f"Ray worker {where} refused the run: {reason}")

    def _chunk(self, pool: Any, todo: list[Job], actors: int, shipped: ShippedModels) -> None:
        """Decoding and VAD chunking on the actors, a few files per call, in input order."""
        step = max(1, min(8, len(todo) // (4 * actors)))
        slices = [todo[i : i + step] for i in range(0, len(todo), step)]
        paths = [[str(j.input.path) for j in s] for s in slices]
        for part, found in zip(
            slices, pool.map(lambda a, p: a.chunk.remote(p, shipped), paths), strict=True
        ):
            for job, (chunks, error, attempts) in zip(part, found, strict=True):
                job.chunks = tuple(Chunk(a, b) for a, b in chunks)
                job.error, job.attempts = error, attempts

    def _record(self, job: Job, done: dict[str, Any], manifest: Manifest) -> FileResult:
        job.attempts = int(done["attempts"])
        duration = float(done["duration"])
        outputs = [str(o) for o in done["outputs"]]
        status, error = str(done["status"]), str(done["error"])
        manifest.record(
            job.key, status, manifest_entry(self.settings, job, duration, outputs, error)
        )
        self.progress.advance(status, duration if status == "done" else 0.0, job.expected_s)
        if status == "done":
            return FileResult(
                job.input.path, "done", duration, "", tuple(outputs), "", job.attempts
            )
        return FileResult(job.input.path, "failed", error=error, attempts=job.attempts)
