"""``python -m tests.soak``: run the soak (see docs/soak.md); ``scripts/soak`` calls it."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from tests.soak.plan import Plan
from tests.soak.report import summarize, write
from tests.soak.runner import Soak

REPO = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=120.0, help="length of the run")
    parser.add_argument("--out", type=Path, required=True, help="directory for the report")
    parser.add_argument(
        "--corpus",
        type=Path,
        default=Path(os.environ.get("HEARTHVOX_CORPUS", REPO.parent / "shared" / "corpus")),
    )
    args = parser.parse_args(argv)
    try:
        plan = Plan.for_duration(args.minutes * 60)
    except ValueError as exc:
        print(f"soak: {exc}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    soak = Soak(plan, args.out.resolve(), args.corpus)
    log = soak.run()
    ran_s = time.monotonic() - soak.t0
    summary = summarize(plan, log, soak.sampler.samples, ran_s)
    print(write(args.out, summary, soak.sampler.samples), end="")
    ok = summary["turns_lost"] == 0 and summary["crashes"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
