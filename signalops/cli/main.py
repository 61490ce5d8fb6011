"""The ``signalops`` command group, its entry point, and the one place library errors end.

Commands parse, make one library call and render; none catches an error. A ``SignalOpsError``
from anywhere below becomes ``error: ...`` on stderr (a strategy or config error with its
source line and caret) and exit status 1, here; so does an ``OSError`` that names a file
(``error: afile: Not a directory`` for ``--report afile/x``; a full disk as ``disk full
writing ...``), and click's refusal of a parameter the command has (``error: --from is required
(see 'signalops sweep --help')``). Only what click does not know (an unknown option or command,
an extra argument) keeps click's usage text and exit status 2. Anything else is a bug in
SignalOps and keeps its traceback.
"""

from __future__ import annotations

import errno
import importlib
import logging
import os
import sys
from collections.abc import Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import click

from signalops import __version__, logs
from signalops.errors import DiskFull, InputError, SignalOpsError

_LOG = logging.getLogger("signalops.cli")
_LOG_SETTINGS = "signalops.log_settings"  # the command line's log settings, in ctx.meta

# Where each command lives, in the order of ``signalops --help`` before the split (click sorts
# them by name anyway). A command's module is imported when that command runs (or --help lists
# it), so ``signalops --version`` imports none of them, and ``signalops why`` only the audit one.
COMMANDS = {
    "init": "init:init_command",
    "validate": "strategy:validate",
    "explain": "strategy:explain",
    "metrics": "strategy:metrics",
    "adapters": "strategy:adapters",
    "evaluate": "strategy:evaluate_command",
    "run": "run:run_command",
    "approvals": "run:approvals_command",
    "approve": "run:approve_command",
    "reject": "run:reject_command",
    "resume": "run:resume_command",
    "telegram": "telegram:telegram_command",
    "decisions": "audit:decisions_command",
    "why": "audit:why_command",
    "audit": "audit:audit_group",
    "dashboard": "dashboard:dashboard_command",
    "backtest": "backtest:backtest_command",
    "sweep": "backtest:sweep_command",
    "walkforward": "backtest:walkforward_command",
    "stress": "stress:stress_command",
    "data": "data:data",
    "schema": "strategy:schema",
}


class LazyCommands(MutableMapping[str, click.Command]):
    """The group's commands by name, each imported from ``signalops.cli.<module>`` on first use.

    A mapping, so click's own ``get_command``/``list_commands`` and ``name in cli.commands``
    work unchanged; only looking a command up imports its module.
    """

    def __init__(self, where: dict[str, str]) -> None:
        self._where = dict(where)
        self._loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._loaded:
            module, attribute = self._where[name].split(":")
            found = importlib.import_module(f"signalops.cli.{module}")
            self._loaded[name] = getattr(found, attribute)
        return self._loaded[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._loaded[name] = command
        self._where.setdefault(name, "")

    def __delitem__(self, name: str) -> None:
        del self._where[name]
        self._loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, name: object) -> bool:
        return name in self._where


class _Commands(click.Group):
    """A click group whose subcommands' library errors are printed, not raised."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        # The group's own options (--log-format xml) are parsed here, before ``invoke``.
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            line = _one_line(exc)
            if line is None:
                raise
            from signalops.cli import output

            output.error(line)
            raise click.exceptions.Exit(1) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.NoSuchOption as exc:
            raise _before_the_command(self, ctx, exc) from None
        except click.UsageError as exc:
            line = _one_line(exc)
            if line is None:
                raise  # a word click does not know: its usage text answers that
            _fail(ctx, line)
        except SignalOpsError as exc:
            _fail(ctx, exc)
        except OSError as exc:
            if exc.errno != errno.ENOSPC and not _is_name(exc.filename):
                raise  # not about a named file (a socket, a broken pipe, a bug): as it is
            # A full disk, or a path that is a file, a folder, missing or not writable, is the
            # machine's state or the user's, not a bug: one line, as for library errors (with
            # -vv the traceback too, for the day it is a bug after all).
            _LOG.debug("%s", exc, exc_info=True)
            _fail(ctx, _file_error(exc))


def _fail(ctx: click.Context, exc: SignalOpsError) -> None:
    """``error: ...`` on stderr (and in the log, see ``_log_failure``), exit status 1."""
    from signalops.cli import output

    _log_failure(ctx, exc)
    output.error(exc)
    ctx.exit(1)


def _one_line(exc: click.UsageError) -> InputError | None:
    """click's refusal of a parameter the command has (missing, or a value its type refuses)
    as the one line any other bad value gets: ``--from is required (see 'signalops sweep
    --help')``, ``--limit: 0 is not in the range x>=1``, ``option '--from' requires an
    argument``. None for what click does not know (an option or command that does not exist,
    an extra argument): its usage text, which lists what there is, stays."""
    if isinstance(exc, click.BadParameter) and exc.param is not None:
        name = _parameter_name(exc.param)
        if isinstance(exc, click.MissingParameter):
            where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            return InputError(f"{name} is required{where}")
        return InputError(f"{name}: {_clause(exc.message)}")
    if isinstance(exc, click.BadOptionUsage) and not isinstance(exc, click.NoSuchOption):
        return InputError(_clause(exc.message))
    return None


def _parameter_name(param: click.Parameter) -> str:
    """``--from`` (an option's longest name, as ``params`` names options), ``STRATEGY``."""
    if isinstance(param, click.Option):
        return max(param.opts, key=len)
    return param.human_readable_name


def _clause(message: str) -> str:
    """click's sentence as the part of a line after ``error:``: ``Option '--from' requires an
    argument.`` -> ``option '--from' requires an argument``."""
    text = message.strip().rstrip(".")
    return text[:1].lower() + text[1:]


def _log_failure(ctx: click.Context, exc: SignalOpsError) -> None:
    """The error that ends a command, as an event in the log when the log is not the terminal
    the error line goes to (``--log-file``, ``--log-format json``): a runner's log otherwise
    ends at its last cycle, with no word of why it stopped."""
    settings = ctx.meta.get(_LOG_SETTINGS)
    if not isinstance(settings, logs.LogSettings):
        return
    if settings.file is None and settings.format != "json":
        return
    command = ctx.invoked_subcommand
    logs.event(_LOG, logging.ERROR, "command_failed", str(exc), command=command)


def _before_the_command(
    group: click.Group, ctx: click.Context, exc: click.NoSuchOption
) -> click.NoSuchOption:
    """``exc`` as it is, or, when the option a (sub)command refused is one of the group's own
    (``signalops run -v``), with where it goes: ``(-v is signalops' own option: put it before
    the command: signalops -v run ...)``."""
    own = next((p for p in group.params if exc.option_name in (*p.opts, *p.secondary_opts)), None)
    if not isinstance(own, click.Option) or exc.ctx is None:
        return exc
    name, command = exc.option_name, exc.ctx.command_path.split(" ", 1)[-1]
    program = ctx.command_path
    if not own.expose_value:  # --version: it answers and exits, whatever follows
        where = f"{name} is {program}' own option: {program} {name}"
    else:
        value = "" if own.is_flag or own.count else f" {own.make_metavar(ctx)}"
        where = (
            f"{name} is {program}' own option: put it before the command: "
            f"{program} {name}{value} {command} ..."
        )
    return click.NoSuchOption(name, message=f"{exc.message} ({where})", ctx=exc.ctx)


def _file_error(exc: OSError) -> SignalOpsError:
    """``path: the OS's reason``, the path being the part of it to fix; a full disk as
    ``DiskFull``."""
    if exc.errno == errno.ENOSPC:
        return DiskFull(exc.filename or "a file")
    number, reason = exc.errno, exc.strerror or str(exc)
    if _wanted_a_folder(exc):
        number, reason = errno.ENOTDIR, os.strerror(errno.ENOTDIR)
    path = _culprit(os.fsdecode(exc.filename), number)
    if _is_name(exc.filename2):  # a rename or a link: both names
        path = f"{path} -> {os.fsdecode(exc.filename2)}"
    return SignalOpsError(f"{path}: {reason}")


def _is_name(filename: object) -> bool:
    """A path (not None, nor the descriptor number some calls put there)."""
    return isinstance(filename, str | bytes | os.PathLike)


def _wanted_a_folder(exc: OSError) -> bool:
    """A FileExistsError from ``mkdir``: a file is where a folder was to be made (every mkdir in
    SignalOps passes exist_ok=True, with which it raises only then)."""
    if not isinstance(exc, FileExistsError) or exc.__traceback__ is None:
        return False
    last = exc.__traceback__
    while last.tb_next is not None:
        last = last.tb_next
    return last.tb_frame.f_code.co_name in ("mkdir", "makedirs")


def _culprit(filename: str, number: int | None) -> str:
    """For "not a directory" the first part of the path that is not a folder (``afile`` of
    ``afile/x/backtest.db``), for "no such file" the first part that is missing."""
    if number == errno.ENOTDIR:
        wrong = _first(filename, lambda part: part.exists() and not part.is_dir())
    elif number == errno.ENOENT:
        wrong = _first(filename, lambda part: not part.exists())
    else:
        wrong = None
    return filename if wrong is None else str(wrong)


def _first(filename: str, wrong: Callable[[Path], bool]) -> Path | None:
    path = Path(filename)
    return next((part for part in (*reversed(path.parents), path) if wrong(part)), None)


@click.group(
    cls=_Commands,
    commands=LazyCommands(COMMANDS),
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "-V", "--version", prog_name="signalops")
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="Log more: -v INFO (adapter errors, denials, orders, approvals), -vv DEBUG.",
)
@click.option("-q", "--quiet", is_flag=True, help="Log errors only.")
@click.option(
    "--log-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Append log lines to this file instead of stderr.",
)
@click.option(
    "--log-format",
    type=click.Choice(logs.FORMATS),
    default="text",
    show_default=True,
    help="json: one object per line.",
)
@click.pass_context
def cli(
    ctx: click.Context, verbose: int, quiet: bool, log_file: Path | None, log_format: logs.Format
) -> None:
    """SignalOps: trading strategies written in YAML, compiled into explicit, auditable logic trees.

    \b
    Typical session (in a folder made by `signalops init tour`):
      signalops data import                    load the bundled real data for replay
      signalops validate strategies/           check every strategy file, with line:column errors
      signalops explain strategies/x.yaml      draw the logic tree a file compiles into
      signalops backtest strategies/x.yaml --from 2023-01-01 --to 2023-06-30
                                               decisions, fills, metrics and report.html on history
      signalops why BTC --at 2023-03-10 --audit reports/x/backtest.db
                                               the tree, values and thresholds behind a decision
      signalops run strategies/ --every 1h     decide every hour: risk gate, execution, audit log
      signalops approvals                      trades waiting for a human (notify mode)
      signalops dashboard                      all of it in the browser

    \b
    Research (each command's --help has a worked example):
      signalops sweep                          a grid of parameter values, screened on history
      signalops walkforward                    parameters picked in-sample, judged out of sample
      signalops stress                         crises and shocks replayed through a strategy

    \b
    Writing strategies:
      signalops metrics                        list every metric a strategy may use
      signalops schema > strategy.schema.json  the JSON Schema, for editor completion
    """
    settings = logs.LogSettings(verbose, quiet, log_file, log_format)
    ctx.meta[_LOG_SETTINGS] = settings
    ctx.call_on_close(logs.configure(settings))


def main() -> None:
    # A console that cannot encode the tree characters (e.g. a legacy Windows code page when
    # piping, or PYTHONIOENCODING=ascii) gets '?' instead of a UnicodeEncodeError traceback.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")
    cli(prog_name="signalops")
