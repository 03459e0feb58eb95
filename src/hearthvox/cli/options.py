"""One spelling per meaning across every verb (docs/cli.md).

* a file the verb writes: ``-o/--output FILE``; a folder it writes into: ``--out-dir DIR``;
* the global options ``-v/-q/--json/--config`` mean the same before or after the verb:
  the group keeps its values in the context, every verb merges them with its own;
* ``HEARTHVOX_CONFIG`` names the config file when ``--config`` is not given;
* an output the verb cannot write is an :class:`~hearthvox.errors.OutputError` (exit
  status 6), found before any work is done;
* an old spelling still works for one release, hidden from ``--help``, with one
  deprecation line on stderr.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from hearthvox.errors import OutputError

CONFIG_ENV = "HEARTHVOX_CONFIG"

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

_VERBOSE = "hearthvox.verbose"
_QUIET = "hearthvox.quiet"
_NOTES = "hearthvox.notes"
_LOG_FORMAT = "hearthvox: %(levelname)s %(name)s: %(message)s"


def _given(ctx: click.Context, name: str) -> bool:
    """Whether the user typed the option *name* (not a default, not the environment)."""
    return ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE


def given(ctx: click.Context, *names: str) -> list[str]:
    """The parameters among *names* the user typed on the command line."""
    return [n for n in names if _given(ctx, n)]


class Refused(click.UsageError):
    """Options that cannot apply (together, or to this input): exit status 2, one line."""

    def show(self, file: Any = None) -> None:
        click.echo(f"hearthvox: error: {self.format_message()}", err=True)


def refuse(message: str) -> click.UsageError:
    """An option that cannot apply: exit status 2, one line on stderr."""
    return Refused(message)


# ---------------------------------------------------------------- -v / -q


def quiet() -> bool:
    """``-q`` was given (before or after the verb): errors only, no progress."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx is not None and ctx.meta.get(_QUIET))


def apply_logging(ctx: click.Context) -> None:
    """Set the log level from the ``-v`` counts and ``-q`` seen so far (root and verb)."""
    verbose = int(ctx.meta.get(_VERBOSE, 0))
    if verbose and ctx.meta.get(_QUIET):
        raise refuse("-v and -q contradict each other: give one")
    level = logging.ERROR if ctx.meta.get(_QUIET) else logging.WARNING
    if verbose:
        level = logging.INFO if verbose == 1 else logging.DEBUG
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format=_LOG_FORMAT)
    root.setLevel(level)


def _verbose_cb(ctx: click.Context, _param: click.Parameter, value: int) -> int:
    if value:
        ctx.meta[_VERBOSE] = int(ctx.meta.get(_VERBOSE, 0)) + value
    apply_logging(ctx)
    return value


def _quiet_cb(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta[_QUIET] = True
    apply_logging(ctx)
    return value


def _verbosity_params(*, expose: bool) -> list[click.Parameter]:
    """``-v/--verbose`` (count) and ``-q/--quiet``, merged over the group and the verb."""
    return [
        click.Option(
            ["-v", "--verbose"],
            count=True,
            expose_value=expose,
            callback=_verbose_cb,
            help="More log output on stderr (-vv for debug).",
        ),
        click.Option(
            ["-q", "--quiet"],
            is_flag=True,
            expose_value=expose,
            callback=_quiet_cb,
            help="Errors only: no log lines below error, no progress, no notes on stderr.",
        ),
    ]


# ---------------------------------------------------------------- --config / --json

_CONFIG_HELP = (
    f"Config file (default: ${CONFIG_ENV}, else the user's config.toml, if any); "
    "the same before or after the verb."
)


def _root_value(ctx: click.Context, name: str) -> tuple[Any, bool]:
    """The group's value of *name* and whether it was typed (None, False at the root)."""
    root = ctx.find_root()
    if root is ctx:
        return None, False
    return root.params.get(name), _given(root, name)


def _config_cb(ctx: click.Context, _param: click.Parameter, value: Path | None) -> Path | None:
    before, typed = _root_value(ctx, "config_path")
    if value is None:
        return Path(before) if before is not None else None  # before the verb, or the env
    if typed and before is not None and Path(before).resolve() != value.resolve():
        raise refuse(f"--config {before} before the verb and --config {value} after it: give one")
    return value


def config_option(help: str = _CONFIG_HELP) -> Decorator:
    """``--config FILE`` of a verb (``config_path``), merged with the group's and the env."""
    return click.option(
        "--config",
        "config_path",
        type=click.Path(path_type=Path, dir_okay=False),
        callback=_config_cb,
        help=help,
    )


def _json_cb(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    before, _typed = _root_value(ctx, "as_json")
    return bool(value or before)


def json_option(help: str) -> Decorator:
    """``--json`` of a verb (``as_json``); ``hearthvox --json VERB`` means the same."""
    return click.option("--json", "as_json", is_flag=True, callback=_json_cb, help=help)


def root_params() -> list[click.Parameter]:
    """The group's own ``-v/-q/--json/--config`` (``verbose``, ``quiet``, ``as_json``,
    ``config_path``)."""
    return [
        *_verbosity_params(expose=True),
        click.Option(
            ["--json", "as_json"],
            is_flag=True,
            help="JSON output on stdout (for the verbs that have it; same as after the verb).",
        ),
        click.Option(
            ["--config", "config_path"],
            type=click.Path(path_type=Path, dir_okay=False),
            envvar=CONFIG_ENV,
            show_envvar=True,
            help="Config file for the verb (default: the user's config.toml, if any).",
        ),
    ]


def _check_globals(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    """Processed last: say the deprecation notes (unless -q), then refuse a global
    option typed before a verb that has no use for it."""
    for note in ctx.meta.pop(_NOTES, []):
        if not quiet():
            click.echo(note, err=True)
    root = ctx.find_root()
    if root is not ctx:
        names = {p.name for p in ctx.command.params}
        verb = ctx.command_path.removeprefix(root.command_path).strip()
        for name, flag in (("as_json", "--json"), ("config_path", "--config")):
            if name not in names and _given(root, name):
                raise refuse(f"{verb} has no {flag}")
    return value


def add_globals(command: click.Command) -> None:
    """Give *command* (and every verb under a group) ``-v/-q`` and the global checks."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            add_globals(sub)
        return
    names = {p.name for p in command.params}
    if "verbose" in names:
        return
    command.params.extend(_verbosity_params(expose=False))
    command.params.append(
        click.Option(
            ["--hearthvox-globals"],
            is_flag=True,
            hidden=True,
            expose_value=False,
            callback=_check_globals,
            help="Internal: checks the options given before the verb.",
        )
    )


# ---------------------------------------------------------------- outputs


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(path.anchor or ".")


def _probe_dir(folder: Path, what: Path) -> None:
    """Create *folder* (with its parents) and write a throw-away file in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder, prefix=".hearthvox-probe-"):
            pass
    except OSError as exc:
        blocker = _nearest_existing(folder)
        reason = exc.strerror or str(exc)
        if blocker.exists() and not blocker.is_dir():
            reason = f"{blocker} is not a directory"
        raise OutputError(f"cannot write {what}: {reason}") from None


def check_output_file(path: Path) -> Path:
    """An output file the verb can write: its folder is created, a directory is refused."""
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a directory (give a file name)")
    _probe_dir(path.parent if str(path.parent) else Path("."), path)
    if path.exists() and not os.access(path, os.W_OK):
        raise OutputError(f"cannot write {path}: permission denied")
    return path


def check_output_dir(path: Path) -> Path:
    """An output folder the verb can write into (or create). Nothing is created here:
    the verb makes the folder when it has something to put in it, so a run refused
    later (an unknown bundle, say) leaves no empty folder behind."""
    if path.exists() and not path.is_dir():
        raise OutputError(f"cannot write into {path}: it is not a directory")
    existing = _nearest_existing(path)
    if not existing.is_dir():
        raise OutputError(f"cannot write into {path}: {existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write into {path}: permission denied in {existing}")
    return path


Check = Callable[[click.Context, click.Parameter, Any], Any]


def _output_file_cb(special: Iterable[str]) -> Check:
    keep = frozenset(special)

    def cb(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is None or str(value) in keep or ctx.resilient_parsing or _lost(ctx, param):
            return value
        check_output_file(Path(value))
        return value

    return cb


def _output_dir_cb(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    if value is None or ctx.resilient_parsing or _lost(ctx, param):
        return value
    return check_output_dir(Path(value))


def _lost(ctx: click.Context, param: click.Parameter) -> bool:
    """A default processed after the old spelling already set the value."""
    return (
        param.name is not None
        and param.name in ctx.params
        and ctx.get_parameter_source(param.name) is ParameterSource.DEFAULT
    )


def _old_spelling_cb(old: str, new: str, dest: str, check: Check) -> Check:
    """The hidden old spelling: one note on stderr, then the value goes to *dest*."""

    def cb(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is None or param.name is None or not _given(ctx, param.name):
            return value
        if _given(ctx, dest):
            raise refuse(f"{old} and {new} mean the same: give {new}")
        note = f"hearthvox: {old} is deprecated; use {new} (removed in the next release)"
        ctx.meta.setdefault(_NOTES, []).append(note)  # said once -q is known (_check_globals)
        value = check(ctx, param, value)
        ctx.params[dest] = value
        ctx.set_parameter_source(dest, ParameterSource.COMMANDLINE)
        return value

    return cb


def _with_alias(
    decls: list[str],
    old: str | None,
    new: str,
    dest: str,
    kwargs: dict[str, Any],
) -> Decorator:
    check: Check = kwargs.pop("callback")
    old_name = f"{dest}_old_spelling"

    def new_cb(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if old is not None and _given(ctx, dest) and _given(ctx, old_name):
            raise refuse(f"{old} and {new} mean the same: give {new}")
        return check(ctx, param, value)

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        if old is not None:
            alias = {k: v for k, v in kwargs.items() if k in ("type", "metavar", "help")}
            fn = click.option(
                old,
                old_name,
                hidden=True,
                expose_value=False,
                callback=_old_spelling_cb(old, new, dest, check),
                **alias,
            )(fn)
        return click.option(*decls, dest, callback=new_cb, **kwargs)(fn)

    return deco


def output_file_option(
    help: str,
    *,
    special: Iterable[str] = (),
    deprecated: str | None = None,
    **kwargs: Any,
) -> Decorator:
    """``-o/--output FILE`` (the ``output`` argument), checked writable before the work.

    *special* values (``speaker``, ``none``, ``-``) are not files. *deprecated* is an
    old spelling that still works for one release, hidden, with a note on stderr.
    A bad place is an :class:`OutputError` (exit status 6), not a usage error.
    """
    kwargs.setdefault("type", click.Path(path_type=Path))
    kwargs.setdefault("metavar", "FILE")
    kwargs.update(help=help, callback=_output_file_cb(special))
    return _with_alias(["-o", "--output"], deprecated, "-o/--output", "output", kwargs)


def audio_io_options(output_help: str) -> Decorator:
    """``--input mic|FILE.wav|-`` (the ``input_`` argument) and ``-o/--output
    speaker|FILE.wav|none`` (``output``): where a live loop's audio comes from and where
    its replies go (``run``, ``satellite``)."""
    take = click.option(
        "--input",
        "input_",
        default="mic",
        show_default=True,
        metavar="mic|FILE.wav|-",
        help="Where the audio comes from: the microphone, a WAV file, or a WAV on stdin.",
    )
    give = output_file_option(
        output_help,
        special=("speaker", "none"),
        type=str,
        default="speaker",
        show_default=True,
        metavar="speaker|FILE.wav|none",
    )

    def both(f: Any) -> Any:
        return take(give(f))

    return both


def out_dir_option(help: str, *, deprecated: str | None = None, **kwargs: Any) -> Decorator:
    """``--out-dir DIR`` (the ``out_dir`` argument), created and checked before the work."""
    kwargs.setdefault("type", click.Path(path_type=Path))
    kwargs.setdefault("metavar", "DIR")
    kwargs.update(help=help, callback=_output_dir_cb)
    return _with_alias(["--out-dir"], deprecated, "--out-dir", "out_dir", kwargs)


# ---------------------------------------------------------------- --priority


def priority_option(work: str) -> Decorator:
    """``--priority low|normal`` (``priority``) of batch work and evaluation: at ``low``
    (the default) the verb calls :func:`yield_cpu` before it loads a model."""
    return click.option(
        "--priority",
        type=click.Choice(["low", "normal"]),
        default="low",
        show_default=True,
        help=f"low: run {work} at nice 10 and the lowest best-effort disk I/O priority "
        "(its threads and subprocesses too), so that the live assistant's real-time "
        "turns (run, serve, hub) on this device go first; normal: keep the priority it "
        "was started with.",
    )


def yield_cpu(priority: str) -> None:
    """Apply ``--priority``; a priority that cannot be lowered is a warning, not an error."""
    from hearthvox.batch.guard import background_priority

    warning = background_priority("normal" if priority == "normal" else "low")
    if warning and not quiet():
        click.echo(f"hearthvox: warning: {warning}", err=True)
