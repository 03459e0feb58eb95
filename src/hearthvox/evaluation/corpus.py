"""The eval corpus: a folder with ``corpus.csv`` (file, kind, sample_rate, transcript, source)
and, when present, ``speech.csv`` (more real speech, with its speakers).

Kinds: ``speech`` (a recording with its reference transcript), ``vad`` (speech
segments labelled in the ``source`` column: ``speech segments in seconds: 0.38-2.00
4.10-5.88; no speech 6.00-8.00``), ``noise`` and ``environment`` (background sounds
mixed into the noisy slices) and ``room_impulse_response`` (for the far-field slice).

``speech.csv`` (file, speaker_id, gender, accent, kind, transcript, ...) lists speech
only; its ``kind`` (``read``, ``command``, ``alphanumeric``) is kept as the file's
``style``. Speech of ``corpus.csv`` is read speech; its speaker is its ``speaker_id``
column when it has one, else the file name's prefix (``spk1_snt3.wav`` -> ``spk1``).
Every listed path must stay inside the folder.

Which corpus (:func:`find_corpus`): ``--corpus``, ``[eval] corpus``, ``$HEARTHVOX_CORPUS``,
``../shared/corpus`` when it exists (a development checkout), else the built-in set
packaged with hearthvox (:data:`BUILTIN`: a few clips whose licences allow
redistribution, with their notices; see docs/evaluation.md).
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from hearthvox.errors import HearthvoxError

BUILTIN = Path(__file__).resolve().parent.parent / "data" / "evalset"
"""The built-in eval set: packaged with hearthvox, in the corpus layout."""

KINDS = ("speech", "vad", "noise", "environment", "room_impulse_response")
_COLUMNS = ("file", "kind", "transcript", "source")
_SPEECH_COLUMNS = ("file", "speaker_id", "gender", "accent", "kind", "transcript")
STYLES = ("read", "command", "alphanumeric")
MAX_ROWS = 100_000
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
    speaker: str = ""
    gender: str = "unknown"
    accent: str = "unknown"
    style: str = "read"

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


def _rows(index: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    try:
        with index.open(newline="", encoding="utf-8") as fh:
            rows = []
            for row in csv.DictReader(fh):
                rows.append({k: (v or "").strip() for k, v in row.items() if k})
                if len(rows) > MAX_ROWS:
                    raise EvalError(f"{index}: more than {MAX_ROWS} rows")
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise EvalError(
            f"cannot read {index}: {getattr(exc, 'strerror', None) or exc}; give --corpus DIR, "
            "a folder with corpus.csv (columns: file, kind, sample_rate, transcript, source)"
        ) from None
    if rows and not set(columns) <= set(rows[0]):
        missing = ", ".join(c for c in columns if c not in rows[0])
        raise EvalError(f"{index}: missing column(s) {missing}")
    return rows


def _inside(root: Path, index: Path, line: int, name: str) -> Path:
    """The listed file, which must be a file inside *root* (no ``..``, no absolute path)."""
    path = (root / name).resolve()
    if not name or not path.is_relative_to(root.resolve()) or not path.is_file():
        raise EvalError(f"{index} line {line}: {name or '(empty)'} is not in {root}")
    return path


def load_corpus(root: Path) -> Corpus:
    """Read ``root/corpus.csv`` (and ``root/speech.csv`` when present); every listed file
    must exist inside *root*. Unknown kinds are skipped."""
    index = root / "corpus.csv"
    files = []
    for i, row in enumerate(_rows(index, _COLUMNS), 2):
        kind = row.get("kind", "")
        if kind not in KINDS:
            continue
        path = _inside(root, index, i, row.get("file", ""))
        transcript = row.get("transcript", "")
        if kind == "speech" and not transcript:
            raise EvalError(f"{index} line {i}: speech file {path.name} has no transcript")
        speaker = row.get("speaker_id") or path.stem.split("_snt")[0]
        files.append(
            CorpusFile(
                path.name,
                kind,
                path,
                transcript,
                row.get("source", ""),
                _sha256(path),
                speaker,
                row.get("gender") or "unknown",
                row.get("accent") or "unknown",
            )
        )
    more = root / "speech.csv"
    for i, row in enumerate(_rows(more, _SPEECH_COLUMNS) if more.is_file() else [], 2):
        path = _inside(root, more, i, row["file"])
        if not row["transcript"] or not row["speaker_id"] or row["kind"] not in STYLES:
            raise EvalError(
                f"{more} line {i}: {row['file']} needs a transcript, a speaker_id and a kind "
                f"({', '.join(STYLES)})"
            )
        files.append(
            CorpusFile(
                row["file"],
                "speech",
                path,
                row["transcript"],
                row.get("source", ""),
                _sha256(path),
                row["speaker_id"],
                row["gender"] or "unknown",
                row["accent"] or "unknown",
                row["kind"],
            )
        )
    corpus = Corpus(root, tuple(files))
    for kind, why in (("speech", "the recorded slices"), ("noise", "the noisy slices")):
        if not corpus.of(kind, "environment" if kind == "noise" else kind):
            raise EvalError(f"{index} lists no {kind} file: {why} need at least one")
    return corpus


def find_corpus(given: Path | None, configured: str) -> Path:
    """--corpus, else ``[eval] corpus``, else $HEARTHVOX_CORPUS, else ``../shared/corpus``
    (a development checkout's layout) when it exists, else the built-in set."""
    for candidate in (given, configured, os.environ.get("HEARTHVOX_CORPUS")):
        if candidate:
            return Path(candidate).expanduser()
    fallback = Path.cwd().parent / "shared" / "corpus"
    if (fallback / "corpus.csv").is_file():
        return fallback
    if (BUILTIN / "corpus.csv").is_file():
        return BUILTIN
    raise EvalError(
        "no eval corpus: give --corpus DIR (a folder with corpus.csv and its recordings), "
        "or set [eval] corpus in the config, or HEARTHVOX_CORPUS"
    )


def is_builtin(root: Path) -> bool:
    return root.resolve() == BUILTIN


def builtin_note(root: Path) -> str | None:
    """What to tell the user when *root* is the built-in set (None for any other corpus)."""
    if not is_builtin(root):
        return None
    corpus = load_corpus(root)
    return f"built-in set: {len(corpus.of('speech'))} clips; use --corpus for the full corpus"
