"""Credits of the models a bundle runs: the packaged models.lock's provenance records."""

from __future__ import annotations

import functools
from collections.abc import Iterable

from hearthvox.bundles.lock import Artifact, load_lock
from hearthvox.bundles.provenance import Provenance
from hearthvox.errors import ModelError


@functools.cache
def _packaged() -> dict[str, tuple[Artifact, Provenance]]:
    lock = load_lock()
    return {a.id: (a, p) for a in lock.artifacts if (p := lock.provenance.get(a.id)) is not None}


def provenance_of(artifact: Artifact) -> Provenance | None:
    """The packaged lock's provenance of *artifact*, when it pins the very same files.

    A bundle artifact with the id of a packaged one but other files (a retrained
    model) gets none: its credits are not the packaged model's.
    """
    try:
        entry = _packaged().get(artifact.id)
    except ModelError:
        return None
    if entry is None:
        return None
    pinned, provenance = entry
    same = {(f.name, f.sha256) for f in pinned.files} == {
        (f.name, f.sha256) for f in artifact.files
    }
    return provenance if same else None


def credit_lines(artifacts: Iterable[Artifact]) -> dict[str, str]:
    """Artifact id -> one line of credits (``models list``, the report)."""
    lines = {}
    for a in artifacts:
        provenance = provenance_of(a)
        lines[a.id] = (
            provenance.summary()
            if provenance is not None
            else f"licence {a.license}; no upstream record in models.lock"
        )
    return lines
