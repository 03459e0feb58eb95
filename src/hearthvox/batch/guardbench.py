"""Turn latency of the live assistant while a batch run shares the CPU.

``python -m hearthvox.batch.guardbench FOLDER [--runs N]`` runs a spoken request
("Hey Jarvis. What time is it?") through ``hearthvox run --realtime`` N times in
each of three conditions and prints the median and worst ASR time and time from
end of speech to first audio:

* ``idle``: nothing else running;
* ``batch, ignore``: ``hearthvox transcribe FOLDER --when-busy ignore`` running;
* ``batch, yield``: the same with ``--when-busy yield`` (the default).

``--asr-only`` times the daemon's ASR engine on the request instead of whole
turns (five commands a turn): the stage a batch run competes with, without the
wake word, endpointing and synthesis around it.

In both batch conditions a helper process holds the daemon's lock
(:func:`hearthvox.batch.guard.daemon_lock_path`), as the daemon will, and the turn
starts once the batch run has written its first output. The conditions take turns
round by round, so load from elsewhere falls on each alike. FOLDER should hold
enough audio to outlast a turn (a warning says when it did not).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hearthvox.audio.wavio import load_wav, write_wav
from hearthvox.batch.guard import daemon_lock_path
from hearthvox.batch.manifest import MANIFEST

HOLD = (
    "import fcntl, sys, pathlib\n"
    "p = pathlib.Path(sys.argv[1]); p.parent.mkdir(parents=True, exist_ok=True)\n"
    "fh = p.open('a'); fcntl.flock(fh.fileno(), fcntl.LOCK_EX)\n"
    "print('held', flush=True); sys.stdin.readline()\n"
)
_HV = [sys.executable, "-m", "hearthvox"]


def _request(work: Path) -> Path:
    speech = work / "speech.wav"
    subprocess.run([*_HV, "say", "Hey Jarvis. What time is it?", "-o", str(speech)], check=True)
    audio = load_wav(speech).samples
    gap = np.zeros(16000, dtype=np.int16)
    request = work / "request.wav"
    write_wav(request, np.concatenate([gap, audio, gap, gap, gap]), 16000)
    return request


def _turn(request: Path) -> dict[str, float]:
    cmd = [*_HV, "run", "--input", str(request), "--realtime", "--json", "--output", "none"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True)
    for line in out.stdout.splitlines():
        event = json.loads(line)
        if event.get("event") == "turn_done":
            stages: dict[str, float] = event["stages_ms"]
            return stages
    raise RuntimeError(f"no turn in the output: {out.stdout[-500:]} {out.stderr[-500:]}")


class _Busy:
    """A stand-in daemon holding its lock, and ``hearthvox transcribe`` decoding beside it."""

    def __init__(self, folder: Path, out: Path, when_busy: str) -> None:
        self.holder = subprocess.Popen(
            [sys.executable, "-c", HOLD, str(daemon_lock_path())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.holder.stdout is not None and self.holder.stdout.readline().strip() == "held"
        cmd = [*_HV, "transcribe", str(folder), "--out-dir", str(out), "--batch-size", "4"]
        cmd += ["--when-busy", when_busy, "--no-progress"]
        self.log = out.with_suffix(".log")
        with self.log.open("wb") as err:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        manifest = out / MANIFEST
        deadline = time.monotonic() + 300
        while not (manifest.exists() and manifest.stat().st_size > 0):  # it is decoding
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(
                    f"the batch run ended before it got going: {self.log.read_text()[-800:]}"
                )
            time.sleep(0.05)  # polling a file another process writes

    def close(self) -> bool:
        """Stop both; False when the batch run had finished before the turn ended."""
        running = self.proc.poll() is None
        self.proc.terminate()
        self.proc.wait(timeout=60)
        self.holder.communicate("\n", timeout=30)
        return running


CONDITIONS = (("idle", None), ("batch, ignore", "ignore"), ("batch, yield", "yield"))


def _asr_turns(work: Path, repeat: int) -> Callable[[], dict[str, float]]:
    """The daemon's ASR engine on the spoken request, *repeat* times 0.3 s apart."""
    from hearthvox.bundles.default import default_model_paths
    from hearthvox.config import Config
    from hearthvox.engines import load_asr
    from hearthvox.settings import engine_config

    asr = load_asr(default_model_paths(), engine_config(Config()))
    _request(work)
    audio = load_wav(work / "speech.wav")

    def turn() -> dict[str, float]:
        took = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            asr.transcribe(audio.samples)
            took.append((time.perf_counter() - t0) * 1000.0)
            time.sleep(0.3)  # a pause between commands, as a person makes
        return {"asr": statistics.median(took), "asr_worst": max(took)}

    turn()  # warm up
    return turn


def measure(
    folder: Path, runs: int, turn: Callable[[], dict[str, float]]
) -> dict[str, dict[str, float]]:
    """*runs* rounds; each round runs one turn per condition, so load from elsewhere
    falls on every condition alike."""
    turns: dict[str, list[dict[str, float]]] = {name: [] for name, _ in CONDITIONS}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print(f"load average before: {os.getloadavg()[0]:.1f}", flush=True)
        for r in range(runs):
            for name, busy in CONDITIONS:
                busy_run = None if busy is None else _Busy(folder, work / f"{busy}-{r}", busy)
                try:
                    turns[name].append(turn())
                    shown = ", ".join(f"{k} {v:.0f} ms" for k, v in turns[name][-1].items())
                    print(f"round {r + 1} {name}: {shown}", flush=True)
                finally:
                    if busy_run is not None and not busy_run.close():
                        print(f"warning: the batch run finished early ({name})", flush=True)
        print(f"load average after: {os.getloadavg()[0]:.1f}", flush=True)
    results: dict[str, dict[str, float]] = {}
    for name, rows in turns.items():
        results[name] = {}
        for key in rows[0]:
            values = [row[key] for row in rows]
            results[name][f"{key}_p50_ms"] = round(statistics.median(values), 1)
            results[name][f"{key}_max_ms"] = round(max(values), 1)
        print(name, json.dumps(results[name]), flush=True)
    return results


def _pipeline_turns(work: Path) -> Callable[[], dict[str, float]]:
    request = _request(work)
    _turn(request)  # warm the caches

    def turn() -> dict[str, float]:
        stages = _turn(request)
        return {"asr": stages["asr"], "eos_to_audio": stages["end_of_speech_to_first_audio"]}

    return turn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="recordings for the batch run")
    parser.add_argument("--runs", type=int, default=5, help="rounds (turns per condition)")
    parser.add_argument(
        "--asr-only",
        action="store_true",
        help="time the daemon's ASR engine on a command (5 a turn) instead of whole turns",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        turn = _asr_turns(Path(tmp), 5) if args.asr_only else _pipeline_turns(Path(tmp))
        measure(args.folder, args.runs, turn)


if __name__ == "__main__":
    main()
