"""The eval corpus: a folder with ``corpus.csv`` (file, kind, sample_rate, transcript, source).

Kinds: ``speech`` (a recording with its reference transcript), ``vad`` (speech
segments labelled in the ``source`` column: ``speech segments in seconds: 0.38-2.00
4.10-5.88; no speech 6.00-8.00``), ``noise`` and ``environment`` (background sounds
mixed into the noisy slices) and ``room_impulse_response`` (for the far-field slice).
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from hearthvox.errors import HearthvoxError

KINDS = ("speech", "vad", "noise", "environment", "room_impulse_response")
_COLUMNS = ("file", "kind", "transcript", "source")
_SPAN = re.compile(r"(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)")


class EvalError(HearthvoxError):
    """The eval cannot run: no corpus, a malformed corpus.csv, mismatched results."""


@dataclass(frozen=True)
class CorpusFile:
    name: str
    kind: str
    path: Path
    transcript: str
    source: str
    sha256: str

    def vad_labels(self) -> tuple[tuple[tuple[float, float], ...], float]:
        """(speech segments in seconds, end of the labelled part) of a ``vad`` file."""
        _, _, rest = self.source.partition("speech segments in seconds:")
        if not rest:
            raise EvalError(
                f"{self.name}: a vad file needs 'speech segments in seconds: A-B ...' "
                "in its source column"
            )
        speech_text, _, silence_text = rest.partition("no speech")
        speech = tuple((float(a), float(b)) for a, b in _SPAN.findall(speech_text.split(";")[0]))
        silence = [(float(a), float(b)) for a, b in _SPAN.findall(silence_text.split("(")[0])]
        if not speech:
            raise EvalError(f"{self.name}: no speech segments found in its source column")
        return speech, max(end for _, end in [*speech, *silence])


@dataclass(frozen=True)
class Corpus:
    root: Path
    files: tuple[CorpusFile, ...]

    def of(self, *kinds: str) -> list[CorpusFile]:
        return [f for f in self.files if f.kind in kinds]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_corpus(root: Path) -> Corpus:
    """Read ``root/corpus.csv``; every listed file must exist. Unknown kinds are skipped."""
    index = root / "corpus.csv"
    try:
        with index.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise EvalError(
            f"cannot read {index}: {exc.strerror or exc}; give --corpus DIR, a folder with "
            "corpus.csv (columns: file, kind, sample_rate, transcript, source)"
        ) from None
    if rows and not set(_COLUMNS) <= set(rows[0]):
        missing = ", ".join(c for c in _COLUMNS if c not in rows[0])
        raise EvalError(f"{index}: missing column(s) {missing}")
    files = []
    for i, row in enumerate(rows, 2):
        kind = (row.get("kind") or "").strip()
        if kind not in KINDS:
            continue
        path = root / (row.get("file") or "").strip()
        if not path.is_file():
            raise EvalError(f"{index} line {i}: {path.name or '(empty)'} is not in {root}")
        transcript = (row.get("transcript") or "").strip()
        if kind == "speech" and not transcript:
            raise EvalError(f"{index} line {i}: speech file {path.name} has no transcript")
        files.append(
            CorpusFile(path.name, kind, path, transcript, row.get("source") or "", _sha256(path))
        )
    corpus = Corpus(root, tuple(files))
    for kind, why in (("speech", "the recorded slices"), ("noise", "the noisy slices")):
        if not corpus.of(kind, "environment" if kind == "noise" else kind):
            raise EvalError(f"{index} lists no {kind} file: {why} need at least one")
    return corpus


def find_corpus(given: Path | None, configured: str) -> Path:
    """--corpus, else ``[eval] corpus``, else $HEARTHVOX_CORPUS, else ``../shared/corpus``
    (a development checkout's layout) when it exists."""
    for candidate in (given, configured, os.environ.get("HEARTHVOX_CORPUS")):
        if candidate:
            return Path(candidate).expanduser()
    fallback = Path.cwd().parent / "shared" / "corpus"
    if (fallback / "corpus.csv").is_file():
        return fallback
    raise EvalError(
        "no eval corpus: give --corpus DIR (a folder with corpus.csv and its recordings), "
        "or set [eval] corpus in the config, or HEARTHVOX_CORPUS"
    )
