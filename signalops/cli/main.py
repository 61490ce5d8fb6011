"""The ``signalops`` command group, its entry point, and the one place library errors end.

Commands parse, make one library call and render; none catches an error. A ``SignalOpsError``
from anywhere below becomes ``error: ...`` on stderr (a strategy or config error with its
source line and caret) and exit status 1, here. Anything else is a bug in SignalOps and keeps
its traceback.
"""

from __future__ import annotations

import errno
import sys
from pathlib import Path
from typing import Any

import click

from signalops import __version__, logs
from signalops.cli import (
    audit,
    backtest,
    dashboard,
    data,
    init,
    output,
    run,
    strategy,
    telegram,
)
from signalops.errors import SignalOpsError


class _Commands(click.Group):
    """A click group whose subcommands' library errors are printed, not raised."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SignalOpsError as exc:
            output.error(exc)
            ctx.exit(1)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            # A full disk is the machine's state, not a bug: one line, as for library errors.
            output.error(SignalOpsError(f"disk full writing {exc.filename or 'a file'}"))
            ctx.exit(1)


@click.group(
    cls=_Commands,
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
    Typical session:
      signalops validate strategies/           check every strategy file, with line:column errors
      signalops explain strategies/x.yaml      draw the logic tree a file compiles into
      signalops metrics                        list every metric a strategy may use
      signalops schema > strategy.schema.json  the JSON Schema, for editor completion
    """
    ctx.call_on_close(logs.configure(logs.LogSettings(verbose, quiet, log_file, log_format)))


# In the order of ``signalops --help`` before the split (click sorts them by name anyway).
for command in (
    init.init_command,
    strategy.validate,
    strategy.explain,
    strategy.metrics,
    strategy.adapters,
    strategy.evaluate_command,
    run.run_command,
    run.approvals_command,
    run.approve_command,
    run.reject_command,
    run.resume_command,
    telegram.telegram_command,
    audit.decisions_command,
    audit.why_command,
    audit.audit_group,
    dashboard.dashboard_command,
    backtest.backtest_command,
    backtest.sweep_command,
    data.data,
    strategy.schema,
):
    cli.add_command(command)


def main() -> None:
    # A console that cannot encode the tree characters (e.g. a legacy Windows code page when
    # piping, or PYTHONIOENCODING=ascii) gets '?' instead of a UnicodeEncodeError traceback.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")
    cli(prog_name="signalops")
