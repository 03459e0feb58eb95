"""A Ray cluster on this machine, for trying ``--ray`` out, the tests and the scaling bench.

``LocalCluster(workers=2)`` starts a head node and worker nodes with ``ray start
--block`` bound to 127.0.0.1 (dashboard and usage stats off), each in its own
process group under a private temporary folder, and stops exactly those on
exit (SIGTERM to each group, then SIGKILL). ``python -m hearthvox.batch.raynodes
--workers 2`` keeps one running until Ctrl-C and prints its address.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from hearthvox.errors import HearthvoxError


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def ray_command() -> list[str]:
    found = Path(sys.executable).parent / "ray"
    return [str(found)] if found.exists() else [shutil.which("ray") or "ray"]


class LocalCluster:
    """A head node with *head_cpus* CPUs and *workers* worker nodes of *cpus* CPUs each."""

    def __init__(
        self, workers: int = 1, cpus: int = 1, head_cpus: int = 1, env: dict[str, str] | None = None
    ) -> None:
        self.workers, self.cpus, self.head_cpus = workers, cpus, head_cpus
        self.env = {**os.environ, **(env or {}), "RAY_USAGE_STATS_ENABLED": "0"}
        self.procs: list[subprocess.Popen[bytes]] = []
        self.tmp = Path(tempfile.mkdtemp(prefix="hvray-"))
        self.address = ""

    def node_pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def __enter__(self) -> LocalCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _start(self, args: list[str], log: str) -> None:
        out = (self.tmp / log).open("wb")
        self.procs.append(
            subprocess.Popen(
                [*ray_command(), "start", "--block", "--disable-usage-stats", *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )
        )

    def start(self, timeout_s: float = 120.0) -> None:
        port = _free_port()
        self.address = f"127.0.0.1:{port}"
        self._start(
            [
                "--head",
                f"--port={port}",
                "--node-ip-address=127.0.0.1",
                f"--num-cpus={self.head_cpus}",
                "--num-gpus=0",
                "--include-dashboard=false",
                f"--temp-dir={self.tmp / 'ray'}",
            ],
            "head.log",
        )
        self._started("head.log", timeout_s)
        for i in range(self.workers):
            self._start(
                [
                    f"--address={self.address}",
                    "--node-ip-address=127.0.0.1",
                    f"--num-cpus={self.cpus}",
                    "--num-gpus=0",
                ],
                f"worker{i}.log",
            )
        for i in range(self.workers):
            self._started(f"worker{i}.log", timeout_s)
        self._wait(1 + self.workers, timeout_s)

    def _started(self, log: str, timeout_s: float) -> None:
        """Until ``ray start`` says the node runs (cheaper than asking the cluster)."""
        deadline = time.monotonic() + timeout_s
        while b"Ray runtime started" not in (self.tmp / log).read_bytes():
            if any(p.poll() is not None for p in self.procs):
                raise HearthvoxError(f"a Ray node exited: {self._tail(log)}")
            if time.monotonic() > deadline:
                raise HearthvoxError(f"a Ray node did not start in {timeout_s:.0f} s")
            time.sleep(0.2)  # polling the log of another process

    def _tail(self, log: str) -> str:
        lines = (self.tmp / log).read_text(errors="replace").strip().splitlines()
        return " | ".join(lines[-6:])

    def _wait(self, nodes: int, timeout_s: float) -> None:
        """Until *nodes* nodes are alive (asked through ``ray status``-free GCS polling)."""
        deadline = time.monotonic() + timeout_s
        probe = (
            "import ray,sys;ray.init(address=sys.argv[1],include_dashboard=False,"
            "log_to_driver=False,logging_level=40);print(sum(n['Alive'] for n in ray.nodes()))"
        )
        while time.monotonic() < deadline:
            for p in self.procs:
                if p.poll() is not None:
                    raise HearthvoxError(f"a Ray node exited; see {self.tmp}")
            got = subprocess.run(
                [sys.executable, "-c", probe, self.address],
                capture_output=True,
                text=True,
                env=self.env,
                timeout=timeout_s,
                check=False,
            )
            lines = got.stdout.split()
            if got.returncode == 0 and lines and int(lines[-1]) >= nodes:
                return
            time.sleep(1.0)
        raise HearthvoxError(
            f"the Ray cluster did not come up in {timeout_s:.0f} s; see {self.tmp}"
        )

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in reversed(self.procs):
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
        for p in self.procs:  # what a node left running in its group
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.procs.clear()
        shutil.rmtree(self.tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--cpus", type=int, default=1)
    parser.add_argument("--head-cpus", type=int, default=1)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop the nodes on kill too
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with LocalCluster(args.workers, args.cpus, args.head_cpus) as cluster:
        print(f"hearthvox transcribe DIR --out-dir OUT --ray {cluster.address}", flush=True)
        try:
            while all(p.poll() is None for p in cluster.procs):
                time.sleep(1.0)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
