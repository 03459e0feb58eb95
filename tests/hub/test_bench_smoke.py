"""scripts/hub_bench.py --quick: the hub benchmark runs end to end (one hub, three fake
satellites, a few turns of each scenario) and prints well-formed JSON. No timing is
asserted: the figures are the benchmark's to report (docs/performance.md, "Hub")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_quick_hub_bench_prints_one_json_object_per_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "hub_bench.py"), "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=300,  # a hang, not a figure: it takes well under a minute
        env={**os.environ, "HEARTHVOX_HOME": str(tmp_path / "home")},
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    kinds = [r["scenario"] for r in rows]
    assert kinds[0] == "machine" and kinds[-1] == "summary", kinds
    assert {"capacity", "at-once", "arbitration", "restart"} <= set(kinds), kinds

    load = next(r for r in rows if r["scenario"] == "capacity")
    assert load["satellites"] == 3
    assert load["turns"] >= 1 and load["answered"] >= 1, load
    assert load["answered"] + load["shed"] + load["lost"] == load["turns"]
    assert load["cpu_s"] > 0 and load["p50_ms"] is not None

    together = next(r for r in rows if r["scenario"] == "at-once")
    assert together["turns"] == 3
    assert together["answered"] + together["shed"] + together["lost"] == 3

    arb = next(r for r in rows if r["scenario"] == "arbitration")
    assert arb["trials"] == 1
    assert arb["exactly_one"] + arb["none"] + arb["several"] == 1

    summary = rows[-1]
    assert isinstance(summary["shed"], int) and summary["shed"] >= 0
    assert "largest_n_p95_met" in summary
