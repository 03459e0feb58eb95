"""The hub benchmark: capacity, several satellites at once, wake arbitration,
and a satellite killed and restarted mid-turn.

    .venv/bin/python scripts/hub_bench.py [--minutes 2] [--json] [--quick] [--only WHAT ...]

Fake satellites (:mod:`hearthvox.hub.bench`: the Wyoming events of wyoming-satellite,
light enough for 8 on two cores) for capacity and arbitration; real wyoming-satellite
1.0.0 processes (``.venv-satellite``, made by ``scripts/setup --dev``) for the kill and
restart. The hub is ``hearthvox hub`` in a process of its own, each scenario its own,
with a private ``HEARTHVOX_HOME``. Every turn is a spoken request in the bundle's voice
("Hey Jarvis." and a command a skill answers), so its true end of speech is known;
latency is end of speech -> the first reply audio at the satellite.

- capacity: for N = 1, 2, 3, 4, 6, 8 satellites (stopping once p95 is well past
  800 ms), each a room of its own (``hears = []``), asking at Poisson times (mean
  20 s apart) for ``--minutes``: p50/p95, turns answered, shed (the busy reply past
  ``[hub] max_queue_age_ms``) and lost, the hub's CPU-seconds per turn and streams
  per core; the largest N with p95 <= 800 ms;
- at-once: 4 satellites in rooms that do not hear each other, each saying a
  different request at the same instant (and 0.5 s apart): p95 and the number shed;
- arbitration: the same request at 2 and 3 satellites, gains 1.0/0.6/0.35, each
  after a random 0-250 ms: exactly one reply per trial, and the loudest's share;
- restart: 3 real satellites; one is killed while its reply plays and restarted after
  a while: the others' turns meanwhile all answered, and the time from its restart
  until it streams again.

Progress goes to stderr; ``--json`` prints one object per line.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform
import random
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from wyoming.event import async_read_event

from hearthvox.bench.audio import RATE_HZ
from hearthvox.bundles.default import default_model_paths
from hearthvox.config import Config
from hearthvox.engines import load_tts
from hearthvox.hub.bench import (
    CHUNK_SAMPLES,
    REPLY_TIMEOUT_S,
    TARGET_P95_MS,
    BenchError,
    HubProcess,
    HubSetup,
    Request,
    Rig,
    arbitration,
    at_once,
    make_requests,
    poisson_load,
    rig,
    until,
)
from hearthvox.settings import engine_config

REPO = Path(__file__).resolve().parent.parent
SATELLITE_PYTHON = Path(
    os.environ.get("HEARTHVOX_SATELLITE_PYTHON", REPO / ".venv-satellite" / "bin" / "python")
)
WHAT = ("capacity", "at-once", "arbitration", "restart")

MIC = """\
import os, sys, time
# 16 kHz 16-bit mono room silence at a microphone's pace; when GO appears, REQUEST once,
# the time its first block is written appended to SAID (time.monotonic)
request, go, said = open(sys.argv[1], "rb").read(), sys.argv[2], sys.argv[3]
out, block, left, t = sys.stdout.buffer, 2048, b"", time.monotonic()
try:
    while True:
        if not left and os.path.exists(go):
            os.unlink(go)
            left = request
            with open(said, "a") as fh:
                fh.write("%.6f\\n" % t)
        out.write(left[:block].ljust(block, b"\\0"))
        out.flush()
        left = left[block:]
        t += block / 32000
        time.sleep(max(0.0, t - time.monotonic()))
except (BrokenPipeError, KeyboardInterrupt):
    pass
"""


def say(msg: str) -> None:
    print(f"hub_bench: {msg}", file=sys.stderr, flush=True)


# -- real satellites ----------------------------------------------------------------


class EventService:
    """Where a wyoming-satellite forwards its events (``--event-uri``): their times."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, str]] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        await until(lambda: not self._writers, 2.0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while (event := await async_read_event(reader)) is not None:
                self.seen.append((time.monotonic(), event.type))
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(writer)
        writer.close()

    def first(self, kind: str, after: float) -> float | None:
        return next((t for t, k in self.seen if k == kind and t > after), None)

    def count(self, kind: str, after: float) -> int:
        return sum(1 for t, k in self.seen if k == kind and t > after)


@dataclass
class RealSatellite:
    name: str
    folder: Path
    request: Request
    events: EventService = field(default_factory=EventService)
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        raw = self.folder / "request.raw"
        raw.write_bytes(self.request.audio.astype("<i2").tobytes())
        mic_py = self.folder / "mic.py"
        mic_py.write_text(MIC)
        q = shlex.quote
        mic = f"{q(str(SATELLITE_PYTHON))} {q(str(mic_py))} {q(str(raw))} {q(str(self.go))} "
        mic += q(str(self.folder / "said"))
        snd = "sh -c 'cat > /dev/null'"
        started = time.monotonic()
        self.proc = subprocess.Popen(
            [str(SATELLITE_PYTHON), "-m", "wyoming_satellite", "--name", self.name,
             "--uri", f"tcp://127.0.0.1:{self.port}", "--no-zeroconf",
             "--mic-command", mic, "--snd-command", snd,
             "--event-uri", f"tcp://127.0.0.1:{self.events.port}"],
            stdout=subprocess.DEVNULL, stderr=(self.folder / "log").open("ab"),
            start_new_session=True,
        )  # fmt: skip
        return started

    @property
    def go(self) -> Path:
        return self.folder / "go"

    def said(self) -> list[float]:
        path = self.folder / "said"
        return [float(x) for x in path.read_text().split()] if path.exists() else []

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    async def ask(self) -> float:
        """Say the request; -> its true end of speech (``time.monotonic``)."""
        before = len(self.said())
        self.go.touch()
        await until(lambda: len(self.said()) > before, 5.0)
        said = self.said()
        start = said[-1] if len(said) > before else time.monotonic()
        return start - CHUNK_SAMPLES / RATE_HZ + self.request.end_s


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def restart_trial(
    victim: RealSatellite, others: list[RealSatellite], outage: float
) -> dict[str, Any]:
    """The victim asks; the others ask 1 and 2 s later; the victim is killed as its reply
    starts, the others ask again once their first replies played, and the victim is
    restarted ``outage`` s after the kill, then asked again."""
    t0 = time.monotonic()

    def answered() -> int:
        return sum(o.events.count("audio-stop", t0) for o in others)

    await victim.ask()
    for other in others:  # their turns in flight when the kill comes
        await asyncio.sleep(1.0)
        await other.ask()
    mid = await until(lambda: victim.events.first("audio-start", t0) is not None, 20)
    victim.kill()
    t_kill = time.monotonic()

    async def during() -> None:
        await until(lambda: answered() >= len(others), REPLY_TIMEOUT_S + 10)
        for other in others:
            await asyncio.sleep(1.0)
            await other.ask()

    asking = asyncio.create_task(during())
    await asyncio.sleep(max(0.0, t_kill + outage - time.monotonic()))
    t_restart = victim.start()
    back = await until(lambda: victim.events.first("streaming-started", t_restart) is not None, 60)
    t_back = victim.events.first("streaming-started", t_restart)
    await asking
    asked = 2 * len(others)
    await until(lambda: answered() >= asked, REPLY_TIMEOUT_S + 10)
    done = answered()
    t_ask = time.monotonic()
    again = False
    if back:
        await victim.ask()
        again = await until(
            lambda: victim.events.first("audio-stop", t_ask) is not None, REPLY_TIMEOUT_S
        )
    return {
        "victim": victim.name,
        "killed_mid_reply": mid,
        "outage_s": outage,
        "others_asked": asked,
        "others_answered": min(done, asked),
        "back_s": None if t_back is None else round(t_back - t_restart, 2),
        "answered_after": again,
    }


async def restart(
    requests: list[Request], home: Path, outages: list[float], setup: HubSetup
) -> dict[str, Any]:
    """Three real satellites; in trial i satellite i is killed while its reply plays, the
    two others ask meanwhile (their turns in flight at the kill, and once more during
    the outage), and it is restarted ``outages[i]`` s after the kill."""
    work = Path(tempfile.mkdtemp(prefix="hub-bench-sat-"))
    sats = []
    for i in range(3):
        folder = work / f"sat{i + 1}"
        folder.mkdir()
        sat = RealSatellite(f"sat{i + 1}", folder, requests[i % len(requests)], port=free_port())
        await sat.events.start()
        sat.start()
        sats.append(sat)
    await asyncio.sleep(2.0)  # listening
    hub = HubProcess([f"tcp://127.0.0.1:{s.port}" for s in sats], home, setup)
    trials: list[dict[str, Any]] = []
    try:
        t_start = time.monotonic()
        up = await until(lambda: all(s.events.first("run-pipeline", 0) for s in sats), 240)
        if not up:
            raise BenchError(f"the hub did not drive the real satellites: {list(hub.lines)[-5:]}")
        await asyncio.sleep(2.0)
        for i, outage in enumerate(outages):
            victim, others = sats[i % 3], [s for j, s in enumerate(sats) if j != i % 3]
            say(f"restart: trial {i + 1}, {victim.name} killed mid-reply, back after {outage} s")
            trials.append(await restart_trial(victim, others, outage))
            await asyncio.sleep(1.0)
        summary = await asyncio.to_thread(hub.stop)
    finally:
        hub.stop()
        for s in sats:
            s.kill()
            await s.events.close()
    backs = [t["back_s"] for t in trials if t["back_s"] is not None]
    return {
        "satellites": 3,
        "trials": trials,
        "others_asked": sum(t["others_asked"] for t in trials),
        "others_answered": sum(t["others_answered"] for t in trials),
        "back_s_max": max(backs) if backs else None,
        "back_within_5s": sum(1 for b in backs if b <= 5.0),
        "answered_after": sum(1 for t in trials if t["answered_after"]),
        "hub_summary": summary,
        "wall_s": round(time.monotonic() - t_start, 1),
    }


# -- the scenarios ------------------------------------------------------------------


async def run(
    args: argparse.Namespace, requests: list[Request], home: Path, real: bool
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    only = set(args.only or WHAT)
    # each fake satellite is a room of its own that hears no other (capacity, at-once);
    # arbitration's hear the same speaker, as every satellite hears every other
    cfg = HubSetup(args.config, args.hub_source, separate_rooms=True)
    # trials back to back: no follow-up window after a reply (what it hears then needs
    # no wake word, so no arbitration); the capacity run keeps it and waits it out
    trials = HubSetup(args.config, args.hub_source)
    if args.config is None:
        no_follow_up = home / "no-follow-up.toml"
        no_follow_up.write_text("[endpoint]\nfollow_up = false\n")
        trials = HubSetup(no_follow_up, args.hub_source)
    rooms = dataclasses.replace(trials, separate_rooms=True)
    if args.quick:  # one hub and three fake satellites for everything: it works
        async with rig(3, home, trials) as r:
            say(f"quick: hub ready in {r.ready_s:.1f} s")
            load = await poisson_load(r, requests, minutes=0.1, mean_s=4.0, idle_s=1.0)
            out.append({"scenario": "capacity", **load})
            out.append({"scenario": "at-once", **await at_once(r, requests, 1)})
            arb = await arbitration(r, requests[0], 1, random.Random(args.seed))
            out.append({"scenario": "arbitration", **arb})
        out.append({"scenario": "restart", "skipped": "--quick"})
        dump(args, r)
        return out
    if "capacity" in only:
        for n in args.ns:
            say(f"capacity: {n} satellite(s) for {args.minutes:g} min ...")
            async with rig(n, home, cfg) as r:
                load = await poisson_load(r, requests, args.minutes, args.mean_gap, args.seed)
            out.append({"scenario": "capacity", **load, "hub_summary": r.summary})
            dump(args, r)
            say(f"capacity: N={n}: p50 {load['p50_ms']} ms, p95 {load['p95_ms']} ms, "
                f"{load['answered']}/{load['turns']} answered")  # fmt: skip
            if load["p95_ms"] is not None and load["p95_ms"] > 1.25 * TARGET_P95_MS:
                break
    if "at-once" in only:
        say("at-once: 4 satellites ...")
        async with rig(4, home, rooms) as r:
            for stagger in (0.0, 0.5):
                res = await at_once(r, requests, args.at_once_trials, stagger)
                out.append({"scenario": "at-once", **res})
        out[-1]["hub_summary"] = r.summary
        dump(args, r)
    if "arbitration" in only:
        rng = random.Random(args.seed)
        for n in (2, 3):
            say(f"arbitration: {n} satellites, {args.trials} trials ...")
            async with rig(n, home, trials) as r:
                arb = await arbitration(r, requests[0], args.trials, rng)
            out.append({"scenario": "arbitration", **arb, "hub_summary": r.summary})
            dump(args, r)
    if "restart" in only:
        if not real:
            out.append({"scenario": "restart", "skipped": f"no {SATELLITE_PYTHON}"})
        else:
            say("restart: 3 real satellites ...")
            try:
                out.append(
                    {"scenario": "restart", **await restart(requests, home, args.outages, cfg)}
                )
            except (BenchError, OSError) as exc:  # the other scenarios' figures stand
                out.append({"scenario": "restart", "failed": str(exc)})
    return out


def dump(args: argparse.Namespace, done: Rig) -> None:
    """``--turns``: every turn of a rig on stderr, in the order said."""
    if args.turns:
        for turn in sorted((t for s in done.satellites for t in s.turns), key=lambda t: t.t_end):
            print(json.dumps({"turn": turn.record()}), file=sys.stderr)


def verdict(rows: list[dict[str, Any]]) -> dict[str, Any]:
    caps = [r for r in rows if r["scenario"] == "capacity" and "satellites" in r]
    largest = 0
    for r in sorted(caps, key=lambda r: r["satellites"]):
        if not r["p95_met"]:
            break
        largest = r["satellites"]
    return {
        "scenario": "summary",
        "largest_n_p95_met": largest if caps else None,
        "p95_met_at": [r["satellites"] for r in caps if r["p95_met"]],
        "lost_at": {str(r["satellites"]): r["lost"] for r in caps if r["lost"]},
        "target_p95_ms": TARGET_P95_MS,
        "shed": sum(r.get("shed", 0) for r in rows if r["scenario"] in ("capacity", "at-once")),
    }


def machine() -> dict[str, Any]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO
    ).stdout.strip()
    return {
        "scenario": "machine",
        "cpus": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "commit": commit,
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = []
    for r in rows:
        kind = r["scenario"]
        if kind == "capacity":
            lines.append(
                f"capacity N={r['satellites']}: {r['answered']}/{r['turns']} answered "
                f"(shed {r['shed']}, lost {r['lost']}, misheard {r['misheard']}), "
                f"p50 {r['p50_ms']} ms, "
                f"p95 {r['p95_ms']} ms, max {r['max_ms']} ms; {r['cpu_s_per_turn']} CPU-s/turn, "
                f"{r['cores_busy']} cores busy, {r['streams_per_core']} streams/core"
            )
        elif kind == "at-once":
            lines.append(
                f"at once ({r['satellites']}, {r['stagger_s']:g} s apart, {r['trials']} trials): "
                f"{r['answered']}/{r['turns']} answered, {r['shed']} shed, "
                f"p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms"
            )
        elif kind == "arbitration":
            lines.append(
                f"arbitration ({r['satellites']} satellites, {r['trials']} trials): exactly one "
                f"reply {r['exactly_one']}, none {r['none']}, several {r['several']}; loudest "
                f"won {r['loudest_won']} ({r['loudest_share']})"
            )
        elif kind == "restart" and "trials" in r:
            lines.append(
                f"restart: others answered {r['others_answered']}/{r['others_asked']}; back "
                f"within 5 s {r['back_within_5s']}/{len(r['trials'])} "
                f"(max {r['back_s_max']} s); answered after {r['answered_after']}"
            )
        elif kind == "summary":
            lines.append(
                f"largest N with p95 <= {r['target_p95_ms']:.0f} ms: {r['largest_n_p95_met']}; "
                f"shed: {r['shed']}"
            )
        else:
            lines.append(json.dumps(r))
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=2.0, help="per N of the capacity run")
    p.add_argument(
        "--ns", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 3, 4, 6, 8]
    )
    p.add_argument(
        "--mean-gap", type=float, default=20.0, help="seconds between a satellite's turns"
    )
    p.add_argument("--trials", type=int, default=20, help="arbitration trials per setting")
    p.add_argument("--at-once-trials", type=int, default=5)
    p.add_argument(
        "--outages", type=lambda s: [float(x) for x in s.split(",")], default=[2.0, 6.0, 12.0]
    )
    p.add_argument("--only", action="append", choices=WHAT)
    p.add_argument("--config", type=Path, help="the hub's config file")
    p.add_argument(
        "--hub-source",
        type=Path,
        help="run the hub from this src folder (e.g. a clean `git archive` of a commit)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="a short check that it all works")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--turns", action="store_true", help="every turn on stderr (JSON)")
    args = p.parse_args()  # fmt: skip
    info = machine()
    info["hub_source"] = str(args.hub_source) if args.hub_source else "this checkout"
    say("voicing the requests ...")
    paths = default_model_paths()
    requests = make_requests(load_tts(paths, engine_config(Config(), paths)))
    with tempfile.TemporaryDirectory(prefix="hub-bench-home-") as home:
        real = SATELLITE_PYTHON.exists()
        rows = asyncio.run(run(args, requests, Path(home), real))
    info["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    rows = [info, *rows, verdict(rows)]
    if args.json:
        for r in rows:
            print(json.dumps(r, default=_plain))
    else:
        print(table(rows))
    return 0


def _plain(x: object) -> object:
    return float(x) if isinstance(x, np.floating) else str(x)


if __name__ == "__main__":
    sys.exit(main())
