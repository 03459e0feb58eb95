"""``hearthvox eval``: quality by slice of a bundle, as a table or JSON, and side by side."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from hearthvox import config as config_mod
from hearthvox.bundles.manifest import CHANNELS
from hearthvox.cli.options import config_option, json_option, priority_option, quiet, yield_cpu
from hearthvox.evaluation.corpus import builtin_note

if TYPE_CHECKING:
    from hearthvox.bundles.store import Store
    from hearthvox.config import Config
    from hearthvox.evaluation.evalset import EvalSet
    from hearthvox.evaluation.gate import Check
    from hearthvox.evaluation.metrics import EvalResult

corpus_option = click.option(
    "--corpus",
    type=click.Path(path_type=Path, file_okay=False),
    help="Corpus: a folder with corpus.csv and its recordings. Default, the first that is set: "
    "[eval] corpus in the config, $HEARTHVOX_CORPUS, ../shared/corpus when it exists (a "
    "development checkout), else the built-in set packaged with hearthvox (a few clips).",
)
"""The ``--corpus`` option of every command that reads the corpus (eval, models promote,
bench, report); resolved by :func:`hearthvox.evaluation.corpus.find_corpus`."""
quick_option = click.option(
    "--quick",
    is_flag=True,
    help="A small fixed subset for quick checks (every eighth recording under 4 s; "
    "clean, 0 dB noise and far field).",
)
split_option = click.option(
    "--split",
    type=click.Choice(["test", "dev"]),
    default="test",
    show_default=True,
    help="Whose recordings: test speakers (report, gate) or dev speakers (tuning).",
)


def say(msg: str) -> None:
    """A note on stderr (not with -q)."""
    if not quiet():
        click.echo(f"hearthvox: {msg}", err=True)


def say_if_builtin(corpus: Path) -> None:
    """Say so (on stderr) when the corpus is the built-in set."""
    note = builtin_note(corpus)
    if note is not None:
        say(note)


@contextlib.contextmanager
def progress_bars(**options: Any) -> Iterator[Callable[[str, int], Callable[[int], None]]]:
    """``start(what, total)`` opens a tqdm bar on stderr (on a terminal only) and returns
    its ``update``; every bar is closed at the end."""
    from tqdm import tqdm  # type: ignore[import-untyped]  # tqdm ships no type information

    bars: list[Any] = []

    def start(what: str, total: int) -> Callable[[int], None]:
        off = True if quiet() else None  # None: shown on a terminal only
        bar = tqdm(total=total, desc=what or None, disable=off, file=sys.stderr, **options)
        bars.append(bar)
        return bar.update  # type: ignore[no-any-return]  # tqdm is untyped

    try:
        yield start
    finally:
        for bar in bars:
            bar.close()


def clip_progress() -> contextlib.AbstractContextManager[
    Callable[[str, int], Callable[[int], None]]
]:
    """One progress bar per evaluated bundle, counting clips."""
    return progress_bars(unit="clip")


def synth_notice() -> Callable[[str], None]:
    """Say once that the voice is synthesising clips (first use of a recipe)."""
    said: list[bool] = []

    def notice(_text: str) -> None:
        if not said:
            said.append(True)
            say("synthesising the eval set's spoken clips (once; they are cached)")

    return notice


@click.command(name="eval")
@corpus_option
@click.option("--bundle", metavar="BUNDLE[@VERSION]", help="An installed bundle to evaluate.")
@click.option(
    "--channel",
    type=click.Choice(CHANNELS),
    help="Evaluate this channel's current bundle (default: [models] channel).",
)
@click.option(
    "--compare",
    "other",
    metavar="OTHER",
    help="Compare with OTHER (a channel, BUNDLE[@VERSION], or a FILE saved from eval --json), "
    "paired clip by clip, against the [eval] budgets.",
)
@json_option("One JSON object per slice.")
@quick_option
@split_option
@click.option("--fresh", is_flag=True, help="Run again even if this result is cached.")
@click.option(
    "--clips",
    is_flag=True,
    help="Also print every command's reference and transcript (on stdout only).",
)
@priority_option("the evaluation")
@config_option()
def eval_(
    corpus: Path | None,
    bundle: str | None,
    channel: str | None,
    other: str | None,
    as_json: bool,
    quick: bool,
    split: str,
    fresh: bool,
    clips: bool,
    priority: str,
    config_path: Path | None,
) -> None:
    """How a bundle hears, slice by slice, on real speakers it was never tuned on.

    Slices: clean recordings (and by style: read, commands, alphanumeric; by
    accent, gender, length), noisy (10/5/0 dB SNR), quiet (-25 dB), far field, long
    silences, the voice at normal and fast speed, rare names and codes. Per slice:
    word error rate, entity error rate, exact alphanumerics, wake-word misses and
    false accepts per hour, VAD F1, cut-off and late endpoints, each rate with a
    95 % bootstrap interval. The set is built on this device from the corpus
    recordings of one speaker split and the packaged voice (seeded, cached);
    results are cached per bundle and settings.

    \b
    hearthvox eval                            # the configured channel's bundle
    hearthvox eval --channel canary --compare stable
    hearthvox eval --json > before.json; hearthvox eval --compare before.json
    hearthvox eval --split dev                # the speakers for tuning
    """
    from hearthvox.bundles.active import ensure_initialised, open_store
    from hearthvox.evaluation import saved
    from hearthvox.evaluation.evaluate import evaluate, options_for, prepare_set, resolve
    from hearthvox.evaluation.gate import compare
    from hearthvox.evaluation.table import compare_lines, legend, result_lines

    yield_cpu(priority)  # before any model loads: its threads inherit the priority
    cfg = config_mod.load(config_path)
    store = open_store()
    ensure_initialised(store, cfg)
    options = options_for(cfg, corpus, quick, reuse=not fresh, keep_text=clips, split=split)
    say_if_builtin(options.corpus)
    evalset = prepare_set(options, cfg, synth_notice())
    targets = [resolve(cfg, store, bundle, channel)]
    saved_other = None
    if other and other not in CHANNELS and Path(other).is_file():
        saved_other = saved.load(Path(other))
    elif other:
        is_channel = other in CHANNELS
        targets.append(
            resolve(cfg, store, None if is_channel else other, other if is_channel else None)
        )
    with clip_progress() as progress:
        results = [
            evaluate(t, evalset, options, progress(t.label, len(evalset.clips))) for t in targets
        ]
    if saved_other is not None:
        results.append(saved_other)
    result = results[0]
    checks = compare(cfg.eval, results[1], result) if other else []
    if as_json:
        for obj in saved.rows(result):
            mine = [c for c in checks if c.slice == obj["slice"]]
            if other:
                obj["compare"] = {"bundle": results[1].bundle} | {
                    c.metric.name: {
                        "other": c.baseline,
                        "change": c.change,
                        "change_ci95": list(c.change_ci95) if c.change_ci95 else None,
                        "verdict": c.verdict,
                    }
                    for c in mine
                }
            click.echo(json.dumps(obj))
        if clips:
            _clip_lines(evalset, result, as_json)
        return
    took = f"{result.seconds:.0f} s"
    cached = f" (cached result of a {took} run)" if result.extra.get("cached") else f" in {took}"
    click.echo(
        f"{result.bundle}: {len(evalset.clips)} clips, {evalset.audio_s / 60:.1f} min of audio "
        f"({split} speakers; eval set {evalset.digest[:12]}{', quick' if quick else ''}){cached}"
    )
    for line in result_lines(result):
        click.echo(line)
    click.echo(legend())
    if other:
        click.echo(f"\n{result.bundle} against {results[1].bundle}:")
        for line in compare_lines(checks, result.bundle, results[1].bundle):
            click.echo(line)
        click.echo(_verdict_line(checks))
    if clips:
        _clip_lines(evalset, result, as_json)


def run_promote(
    cfg: Config,
    store: Store,
    source: str,
    target: str | None,
    force: bool,
    corpus: Path | None,
    quick: bool,
    *,
    as_json: bool = False,
) -> None:
    """The body of ``models promote``: gate, promote, show the checks and the record
    (``as_json``: one object on stdout instead)."""
    from hearthvox.bundles.promote import default_target
    from hearthvox.evaluation.evaluate import options_for
    from hearthvox.evaluation.gate import GateRefused, failures, unsure
    from hearthvox.evaluation.promotion import promote_channel

    target = target or default_target(source)
    options = options_for(cfg, corpus, quick)
    say_if_builtin(options.corpus)
    try:
        with clip_progress() as progress:
            done = promote_channel(
                cfg,
                store,
                source,
                target,
                options,
                force=force,
                progress=progress,
                on_synth=synth_notice(),
            )
    except GateRefused as exc:
        if not as_json:
            _gate_summary(exc.checks, target)
        raise
    failed, unknown = len(failures(done.checks)), len(unsure(done.checks))
    if as_json:
        record: dict[str, object] = {"from": source, "to": target, "current": str(done.current)}
        record |= {"forced": bool(failed or unknown), "over_budget": failed}
        record |= {"not_enough_data": unknown, "checks": len(done.checks)}
        record |= {"baseline": done.baseline.bundle if done.baseline else None}
        click.echo(json.dumps(record | {"record": str(done.record), "trial": "pending"}))
        return
    _gate_summary(done.checks, target)
    verdict = "within budget"
    if failed or unknown:
        verdict = f"FORCED past {failed} metric(s) over budget and {unknown} with not enough data"
    if done.baseline is None:
        verdict = f"{target} had no bundle to compare with"
    say(f"channel {target} now runs {done.current} (from {source}; {verdict}; on trial)")
    say(f"record: {done.record}")


def _verdict_line(checks: list[Check]) -> str:
    from hearthvox.evaluation.gate import failures, unsure

    parts = []
    for what, found in (("over budget", failures(checks)), ("not enough data", unsure(checks))):
        if found:
            slices = ", ".join(dict.fromkeys(c.slice for c in found))
            parts.append(f"{len(found)} metric(s) {what}: {slices}")
    return "; ".join(parts) or "every slice within budget"


def _gate_summary(checks: list[Check], target: str) -> None:
    """The checks not passed (one line each), then how many passed."""
    from hearthvox.evaluation.table import compare_lines

    shown = [c for c in checks if not c.ok]
    if shown:
        for line in compare_lines(shown, "candidate", f"on {target}"):
            click.echo(line)
    slices = len({c.slice for c in checks})
    passed = sum(c.ok for c in checks)
    click.echo(f"{passed} of {len(checks)} checks within budget on {slices} slices")
    click.echo(_verdict_line(checks))


def _clip_lines(evalset: EvalSet, result: EvalResult, as_json: bool) -> None:
    """Each command's reference and transcript (only when asked: ``--clips``)."""
    references = {c.id: c.reference for c in evalset.clips}
    for c in result.clips:
        if c.role != "command":
            continue
        flags = ",".join(f for f, on in (("cut-off", c.cutoff), ("late", c.late)) if on)
        if as_json:
            row: dict[str, Any] = {
                "clip": c.id,
                "slice": c.slice,
                "reference": references.get(c.id, ""),
            }
            row |= {"text": c.hypothesis, "edits": c.edits, "words": c.words, "flags": flags}
            click.echo(json.dumps(row))
        else:
            click.echo(
                f"{c.id}\t{c.edits}/{c.words}\t{flags or '-'}\t"
                f"{references.get(c.id, '')}\t{c.hypothesis}"
            )
