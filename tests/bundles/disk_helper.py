"""Run inside a private mount namespace on a small tmpfs: a refused install on a full disk.

    python -m tests.bundles.disk_helper MOUNT FILES_DIR precheck|enospc

Prints one JSON line: the error, and whether the store tree and channels stayed the same.
"""

from __future__ import annotations

import errno
import json
import sys
from pathlib import Path

from hearthvox.bundles import fsutil
from hearthvox.bundles.install import install_bundle
from hearthvox.bundles.store import Store
from hearthvox.errors import ModelError
from tests.bundles.helpers import Publisher, tiny_manifest, tree_hash


def fill(path: Path) -> None:
    """Write until the file system is full (a real ENOSPC)."""
    with path.open("wb", buffering=0) as fh:
        block = b"\xff" * 65536
        while True:
            try:
                fh.write(block)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                if len(block) == 1:
                    return
                block = block[: len(block) // 2]


def main() -> None:
    mount, files, case = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    store = Store.open(mount / "store")
    publisher = Publisher()
    policy = publisher.policy()
    base = tiny_manifest(files, "home", 1, "stable")
    install_bundle(store, publisher.sign(base), None, "stable", policy, activate=True)
    size = 500_000 if case == "precheck" else 40_000
    new = tiny_manifest(files, "home", 2, "stable", size=size)
    before = tree_hash(store.root)
    channel = (store.channels / "stable.json").read_bytes()
    if case == "enospc":
        filled: list[str] = []

        def hook(label: str) -> None:
            if label == "write" and not filled:
                filled.append(label)
                fill(mount / "filler")

        fsutil.set_step_hook(hook)
    error = ""
    try:
        install_bundle(store, publisher.sign(new), None, "stable", policy, activate=True)
    except ModelError as exc:
        error = str(exc)
    fsutil.set_step_hook(None)
    result = {
        "error": error,
        "unchanged": tree_hash(store.root) == before,
        "channel_unchanged": (store.channels / "stable.json").read_bytes() == channel,
        "needed": new.total_size,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
