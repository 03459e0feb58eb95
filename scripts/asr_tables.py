"""What scripts/vocabulary_table.py and scripts/cascade_table.py share: scoring a
variant's transcripts against the eval's clips, and the vocabulary's two-pass text."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from hearthvox.config import Config
from hearthvox.engines.biasing import SUSPECT, correct, prefer_second, suspect
from hearthvox.evaluation.evalset import Clip, EvalSet
from hearthvox.evaluation.evaluate import options_for, prepare_set
from hearthvox.evaluation.gate import Check
from hearthvox.evaluation.metrics import SliceMetrics
from hearthvox.evaluation.runner import ClipOutcome
from hearthvox.evaluation.wer import (
    entity_found,
    false_insertions,
    letters_digits,
    term_said,
    word_errors,
)
from hearthvox.vocabulary import Vocabulary

REPO = Path(__file__).resolve().parent.parent


def rescore(
    outcomes: Sequence[ClipOutcome],
    texts: Sequence[str],
    clips: Mapping[str, Clip],
    listed: Sequence[str],
) -> list[ClipOutcome]:
    """Each clip's outcome with ``texts`` as what was heard (endpointing as it was)."""
    out = []
    for o, text in zip(outcomes, texts, strict=True):
        clip = clips[o.id]
        edits, words = word_errors(clip.reference, text)
        exact = letters_digits(clip.reference) == letters_digits(text)
        out.append(
            dataclasses.replace(
                o,
                hypothesis=text,
                edits=edits,
                words=words,
                entity_ok=entity_found(clip.entity, text) if clip.entity else None,
                exact_ok=exact if clip.style == "alphanumeric" else None,
                listed_said=any(term_said(t, clip.reference) for t in listed),
                inserted=false_insertions(listed, clip.reference, text),
            )
        )
    return out


def two_pass(
    first: str,
    prompted: str,
    vocabulary: Vocabulary,
    threshold: float,
    known: Callable[[str], bool],
) -> str:
    """What ``WhisperAsr.transcribe`` gives with a vocabulary (engines/biasing.py),
    from the plain decode's text and the prompted decode's."""
    text = correct(first, vocabulary, threshold, known).text
    if not first or not suspect(first, vocabulary, SUSPECT, known):
        return text
    second = correct(prompted, vocabulary, threshold, known).text
    return second if prefer_second(text, second, vocabulary) else text


def parser(doc: str, sweep_help: str) -> argparse.ArgumentParser:
    """The options both scripts take: the split, the vocabulary, the slices, a sweep."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--split", choices=("dev", "test"), default="dev")
    ap.add_argument("--vocabulary", type=Path, default=REPO / "docs/examples/vocabulary.txt")
    ap.add_argument("--slices", default="clean,tts,entities")
    ap.add_argument("--sweep", default="", help=f"{sweep_help} to compare (dev only)")
    return ap


def command_clips(
    ap: argparse.ArgumentParser, args: argparse.Namespace, cfg: Config
) -> tuple[EvalSet, tuple[Clip, ...]]:
    """The eval set of ``--split`` and its command clips of ``--slices``."""
    if args.sweep and args.split != "dev":
        ap.error("tune on dev only: --sweep needs --split dev")
    slices = tuple(args.slices.split(","))
    options = options_for(cfg, None, quick=False, split=args.split, keep_text=True)
    evalset = prepare_set(options, cfg)
    clips = tuple(c for c in evalset.clips if c.slice in slices and c.role == "command")
    print(f"{len(clips)} clips of {', '.join(slices)} ({args.split} split)", file=sys.stderr)
    return evalset, clips


def cells(
    m: SliceMetrics, checks: Mapping[tuple[str, str], Check], view: str, paired: bool
) -> dict[str, str]:
    """One table row's figures: WER, exact, entity errors, insertions per 100, and
    the paired changes of WER and entity error (when ``paired``)."""
    change = []
    for metric in ("wer", "entity_error"):
        c = checks.get((view, metric))
        if c is not None and paired:
            change.append(f"{metric} {c.change_text()}")
    return {
        "wer": f"{m.wer * 100:.1f}%" if m.wer is not None else "-",
        "exact": f"{m.exact_match * 100:.0f}%" if m.exact_match is not None else "-",
        "entity": f"{m.entity_errors}/{m.entities}" if m.entities else "-",
        "ins": f"{m.insertions_per_100:.1f}" if m.insertions_per_100 is not None else "-",
        "change": "; ".join(change),
    }
