"""Turn latency of the live assistant while a batch run shares the CPU.

``python -m hearthvox.batch.guardbench FOLDER [--runs N]`` runs a spoken request
("Hey Jarvis. What time is it?") through ``hearthvox run --realtime`` N times in
each of three conditions and prints the median and worst ASR time and time from
end of speech to first audio:

* ``idle``: nothing else running;
* ``batch, ignore``: ``hearthvox transcribe FOLDER --when-busy ignore`` running;
* ``batch, yield``: the same with ``--when-busy yield`` (the default).

In both batch conditions a helper process holds the daemon's lock
(:func:`hearthvox.batch.guard.daemon_lock_path`), as the daemon will; the batch
run is restarted with ``--force`` whenever it finishes, so it never stops first.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

from hearthvox.audio.wavio import load_wav, write_wav
from hearthvox.batch.guard import daemon_lock_path

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


class _Batch:
    """``hearthvox transcribe`` over *folder*, restarted until stopped."""

    def __init__(self, folder: Path, out: Path, when_busy: str) -> None:
        self.cmd = [*_HV, "transcribe", str(folder), "--out", str(out), "--force"]
        self.cmd += ["--when-busy", when_busy, "--no-progress"]
        self.stop = threading.Event()
        self.proc: subprocess.Popen[bytes] | None = None
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stop.is_set():
            self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL)
            self.proc.wait()

    def close(self) -> None:
        self.stop.set()
        if self.proc is not None:
            self.proc.terminate()
        self.thread.join(timeout=60)


def measure(folder: Path, runs: int) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        request = _request(work)
        _turn(request)  # warm the caches
        for name, busy in (("idle", None), ("batch, ignore", "ignore"), ("batch, yield", "yield")):
            holder = batch = None
            if busy is not None:
                holder = subprocess.Popen(
                    [sys.executable, "-c", HOLD, str(daemon_lock_path())],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
                batch = _Batch(folder, work / f"out-{busy}", busy)
                _turn(request)  # let the batch run get going
            try:
                turns = [_turn(request) for _ in range(runs)]
            finally:
                if batch is not None:
                    batch.close()
                if holder is not None:
                    holder.communicate("\n", timeout=30)
            asr = [t["asr"] for t in turns]
            e2e = [t["end_of_speech_to_first_audio"] for t in turns]
            results[name] = {
                "asr_p50_ms": statistics.median(asr),
                "asr_max_ms": max(asr),
                "eos_to_audio_p50_ms": statistics.median(e2e),
                "eos_to_audio_max_ms": max(e2e),
            }
            print(name, json.dumps(results[name]), flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="recordings for the batch run")
    parser.add_argument("--runs", type=int, default=5, help="turns per condition")
    args = parser.parse_args()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    measure(args.folder, args.runs)


if __name__ == "__main__":
    main()
