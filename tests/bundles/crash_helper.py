"""The installing process the crash test kills with SIGKILL.

    python -m tests.bundles.crash_helper DATA_DIR WORK_DIR STOP_AT

Installs and activates ``WORK_DIR/stable.json`` on stable, installs
``WORK_DIR/beta.json`` on beta and activates it. With STOP_AT = N > 0 it stops at
the N-th durable step of the store (a write, flush, fsync or rename), prints
``STOP N LABEL`` and waits there to be killed. At the end it prints ``DONE STEPS``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hearthvox.bundles import fsutil
from hearthvox.bundles.install import Policy, activate_bundle, install_bundle
from hearthvox.bundles.manifest import now_utc
from hearthvox.bundles.signing import TrustedKeys, parse_public
from hearthvox.bundles.store import Store


def run(store: Store, work: Path, policy: Policy) -> None:
    install_bundle(
        store, (work / "stable.json").read_bytes(), None, "stable", policy, activate=True
    )
    install_bundle(store, (work / "beta.json").read_bytes(), None, "beta", policy)
    activate_bundle(store, "beta", "trial@2", policy)


def main() -> None:
    data, work, stop_at = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    trusted = TrustedKeys.of(parse_public((work / "key.pub").read_text().strip()))
    # no hardware probe here: the crash points of interest are the store's writes
    policy = Policy(trusted, 2, now_utc(), hardware=lambda m: None)
    steps = 0

    def hook(label: str) -> None:
        nonlocal steps
        steps += 1
        if steps == stop_at:
            print(f"STOP {steps} {label}", flush=True)
            sys.stdin.read()  # blocks until the test kills this process

    fsutil.set_step_hook(hook)
    run(Store.open(data), work, policy)
    print(f"DONE {steps}", flush=True)


if __name__ == "__main__":
    main()
