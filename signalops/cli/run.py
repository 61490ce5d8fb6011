"""The decision pipeline: run it, list the approval queue, approve or reject a trade."""

from __future__ import annotations

import getpass
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from signalops.cli import output
from signalops.cli.params import (
    AUDIT_OPTION,
    CONFIG_OPTION,
    RUNNER_OPTION,
    VENUE_OPTION,
    F,
    check_period,
    parse_interval,
    parse_time,
    snapshot_folder,
    with_options,
)
from signalops.errors import InputError
from signalops.orders import Mode

if TYPE_CHECKING:
    pass


@click.command("run")
@click.argument("strategies", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--mode",
    type=click.Choice([m.value for m in Mode]),
    help="Override each strategy's action_mode.",
)
@click.option("--once", is_flag=True, help="Run one cycle and stop (the default without --every).")
@click.option("--every", help="Cycle interval, e.g. 5m or 1h (on the wall clock or the replay).")
@click.option("--live", is_flag=True, help="Allow auto mode to place real orders.")
@click.option(
    "--replay",
    "replay_dir",
    type=click.Path(path_type=Path),
    help="Use replayed data from this snapshot folder instead of live sources.",
)
@click.option(
    "--record",
    "record_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Append everything the live sources fetch to this snapshot folder (for --replay).",
)
@click.option("--from", "start", help="With --replay: first decision time (e.g. 2023-03-01).")
@click.option("--to", "end", help="With --replay: last decision time.")
@click.option(
    "--wait",
    is_flag=True,
    help="If another run holds the audit log, wait for it to stop instead of refusing.",
)
@AUDIT_OPTION
@RUNNER_OPTION
@CONFIG_OPTION
@VENUE_OPTION
@click.pass_obj
def run_command(
    connections: object,
    strategies: tuple[Path, ...],
    mode: str | None,
    once: bool,
    every: str | None,
    live: bool,
    replay_dir: Path | None,
    record_dir: Path | None,
    start: str | None,
    end: str | None,
    wait: bool,
    audit_file: str | None,
    runner: str | None,
    config_file: Path | None,
    venue: str | None,
) -> None:
    """Evaluate strategies, pass verdicts through the risk gate, execute, record everything.

    STRATEGIES are strategy files or folders of them: a folder gives every *.yaml/*.yml file
    under it, found as `signalops validate` finds them, and each runs as if named on its own
    (a config file among them, such as a workspace's signalops.yaml, is left out; a file
    named twice runs once). Two files that name one strategy are refused together.

    Each cycle gathers every distinct data request once, then for each strategy and asset:
    evaluate, size, check the risk gate, execute (paper, notify or auto) and append the decision
    to the audit log, traded or not. Ctrl-C (or SIGTERM) finishes the current cycle first.
    One run at a time holds a SQLite log (a second is refused, naming the first; --wait waits);
    approving and rejecting trades while it runs is fine. A PostgreSQL log
    (--audit postgresql://...) takes many runners, on any machines, each under its own
    --runner id (one process per id), all in one hash chain and one paper account.

    A cycle whose leaves were UNKNOWN because a source failed or had no data ends its line with
    "WARNING data errors: CODE xN, ..."; one whose data was older than a leaf's max age (a
    stuck feed, a recording that ended) with "WARNING stale data: STALE xN (newest AGE old)".
    Those decisions fail closed and are recorded; a run of one cycle (--once) then exits 1.
    Runs with --every keep going. When every asset trades in US equity sessions (stocks), a
    time with no session opening before the next one (a weekend's, a holiday's) decides
    nothing, as in a backtest.

    With breakers: in the config, a drawdown, orders rejected in a row or an outage HALTS
    trading (a HALTED line; decisions are still recorded, orders denied) until
    `signalops resume`. Alerts (alerts: in the config) go to the notify webhooks. Notify mode
    with no webhooks in the config is warned about as the run starts: its approvals wait in
    `signalops approvals` and nobody is told. So is a strategy on stocks (a yfinance venue)
    whose daily-candle conditions have a max age under 4d: Friday's close is older on Mondays
    and after holidays, and they would be UNKNOWN then.

    The audit log is checked before the run appends anything and between cycles: on a log that
    does not verify the run does not start, or stops before the next cycle (one error line, exit
    1; `signalops audit verify` lists every problem). A kill switch file is said in one line as
    the run starts and when it appears or goes.

    Hot reload: a strategy or config file edited while the run goes on is read again before the
    next cycle. A version that validates is used from then on ("reloaded FILE (OLD -> NEW)",
    its new content hash cited by later decisions); one that does not is refused ("WARNING
    reload refused, keeping HASH: FILE:LINE:COL: ...") and the old version keeps running. A new
    name for a strategy whose book holds something waits until the old name holds nothing.
    Config sections the run was built from (paper, notify, audit, fundamental, news, venues;
    breakers and alerts when the run started without them) take a restart.

    \b
    Examples:
      signalops run strategies/banking_crisis_dip.yaml --once
      signalops run strategies/ --mode notify --every 5m
      signalops run strategies/banking_crisis_dip.yaml --replay examples/replay \\
          --from 2023-03-01 --to 2023-03-31 --every 1d
      signalops run strategies/*.yaml --every 1h --record recorded/
      signalops run strategies/*.yaml --every 5m --runner desk-1 \\
          --audit postgresql://signalops@db.example/signalops
    """
    from signalops.adapters.registry import Connections
    from signalops.pipeline import loop
    from signalops.strategy.check import strategy_files

    if replay_dir is not None and start is None:
        raise InputError("--replay needs --from (and optionally --to and --every)")
    if replay_dir is None and (start or end):
        raise InputError("--from/--to only apply with --replay")
    if replay_dir is not None and record_dir is not None:
        raise InputError("--record records a live run; it cannot be used with --replay")
    if replay_dir is not None and every is not None and end is None:
        # One cycle at --from, --every unused: said, not done silently.
        raise InputError("--every with --replay needs --to (the last decision time)")
    # Every value is checked before the run makes its log (and the log's lock): a refused
    # run leaves nothing behind.
    first = parse_time(start, "--from") if start else None
    last = parse_time(end, "--to") if end else None
    interval = parse_interval(every, "--every")
    if first is not None and last is not None:
        check_period(first, last)
    if replay_dir is not None:
        snapshot_folder(replay_dir)
    plan = loop.RunPlan(
        strategies=strategy_files(strategies),
        mode=Mode(mode) if mode else None,
        live=live,
        replay=replay_dir,
        start=first,
        end=last,
        every=interval,
        once=once,
        audit=audit_file,
        config=config_file,
        runner=runner,
        venue=venue,
        record=record_dir,
        wait=wait,
        # Tests serve recorded (or failing) answers through ``obj``, as for ``data download``.
        connections=connections if isinstance(connections, Connections) else None,
    )
    out = output.console()
    with output.status(out, "running..."):
        result = loop.run_plan(
            plan,
            on_cycle=lambda summary: out.print(summary.line()),
            # Notices quote files and errors (``rules[0]``...): printed as written, not markup.
            on_notice=lambda text: out.print(text, markup=False),
            on_warning=lambda text: output.warnings([text]),
        )
    if result.stopped:
        output.stopped(len(result.summaries))
    if result.failed_closed:
        sys.exit(1)


@click.command("approvals")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.option("--at", help="Judge expiry at this time (default: now; for replays).")
@AUDIT_OPTION
@CONFIG_OPTION
def approvals_command(
    as_json: bool, at: str | None, audit_file: str | None, config_file: Path | None
) -> None:
    """List decisions waiting for a human (notify mode), soonest expiry first.

    \b
    Examples:
      signalops approvals
      signalops approvals --json --audit state/signalops.db
    """
    from signalops.workspace import open_workspace

    now = parse_time(at, "--at") if at else datetime.now(UTC)
    workspace = open_workspace(audit=audit_file, config=config_file, create=False)
    click.get_current_context().call_on_close(workspace.close)  # see cli.audit._reader
    pending = workspace.audit.pending_approvals(now)
    if as_json:
        output.json_out([output.pending_dict(p) for p in pending])
        return
    output.pending(pending)


def _answer(
    approval_id: str,
    approve: bool,
    by: str | None,
    note: str | None,
    audit_file: str | None,
    config_file: Path | None,
    live: bool,
    replay_dir: Path | None,
    at: str | None,
) -> None:
    from signalops import breakers
    from signalops.pipeline import approvals
    from signalops.workspace import open_workspace

    now = parse_time(at, "--at") if at else datetime.now(UTC)
    workspace = open_workspace(audit=audit_file, config=config_file, existing=True)
    # A tripped breaker denies an approval's order as it denies the loop's (TRADING_STATE).
    workspace.config = breakers.applied(workspace.config, workspace.audit)
    outcome = approvals.answer(
        workspace,
        approval_id,
        approve=approve,
        by=by or getpass.getuser(),
        now=now,
        note=note,
        live=live,
        replay=replay_dir,
    )
    sys.exit(output.answered(outcome))


BY_OPTION = click.option("--by", help="Who decides (recorded). Default: the current user.")


def _replay_option(hidden: bool = False) -> Callable[[F], F]:
    return click.option(
        "--replay",
        "replay_dir",
        type=click.Path(path_type=Path),
        hidden=hidden,
        help="Re-check the signal on replayed data (for replays and tests).",
    )


ANSWER_OPTIONS = [
    BY_OPTION,
    click.option("--live", is_flag=True, help="Execute through the live exchange (auto mode)."),
    _replay_option(),
    click.option("--at", help="Decision time of the re-check (default: now)."),
    AUDIT_OPTION,
    CONFIG_OPTION,
]

# A rejection re-checks and executes nothing: --live and --replay are accepted as approve's
# twins (one script can answer either way) but hidden and ignored. --at is when it is given.
REJECT_OPTIONS = [
    BY_OPTION,
    click.option("--live", is_flag=True, hidden=True),
    _replay_option(hidden=True),
    click.option("--at", help="When the rejection is made; judges the expiry (default: now)."),
    AUDIT_OPTION,
    CONFIG_OPTION,
]


@click.command("approve")
@click.argument("approval_id")
@click.option("--note", help="A note kept in the audit record.")
@with_options(ANSWER_OPTIONS)
def approve_command(
    approval_id: str,
    note: str | None,
    by: str | None,
    live: bool,
    replay_dir: Path | None,
    at: str | None,
    audit_file: str | None,
    config_file: Path | None,
) -> None:
    """Approve a pending trade: re-check data and risk, then execute and record.

    \b
    Example:
      signalops approve apv-06b9f3bcf8279e462f0c49f6 --note "checked the news"
    """
    _answer(approval_id, True, by, note, audit_file, config_file, live, replay_dir, at)


@click.command("reject")
@click.argument("approval_id")
@click.option("--note", required=True, help="Why (kept in the audit record).")
@with_options(REJECT_OPTIONS)
def reject_command(
    approval_id: str,
    note: str,
    by: str | None,
    live: bool,
    replay_dir: Path | None,
    at: str | None,
    audit_file: str | None,
    config_file: Path | None,
) -> None:
    """Reject a pending trade; the rejection is recorded with your note.

    \b
    Example:
      signalops reject apv-06b9f3bcf8279e462f0c49f6 --note "FOMC in an hour"
    """
    del live  # nothing is executed
    _answer(approval_id, False, by, note, audit_file, config_file, False, replay_dir, at)


@click.command("resume")
@click.option("--by", help="Who resumes (recorded). Default: the current user.")
@click.option("--note", required=True, help="Why it is safe to trade again (recorded).")
@click.option("--at", help="When (default: now; for replays and tests).")
@AUDIT_OPTION
@CONFIG_OPTION
def resume_command(
    by: str | None,
    note: str,
    at: str | None,
    audit_file: str | None,
    config_file: Path | None,
) -> None:
    """Clear a tripped circuit breaker: trading resumes at the next cycle.

    A breaker (breakers: in the config) halts trading on a drawdown, on orders rejected in a
    row or on a data outage, and only this command clears it. Who and why are recorded in
    the audit log (a breaker record, like the trip) and in <log>.breaker.json. A
    running `signalops run` picks the resume up at its next cycle.

    \b
    Example:
      signalops resume --by alice --note "venue back, balances checked"
    """
    from signalops import breakers
    from signalops.logs import event
    from signalops.workspace import open_workspace

    now = parse_time(at, "--at") if at else datetime.now(UTC)
    workspace = open_workspace(audit=audit_file, config=config_file, existing=True)
    try:
        path = breakers.state_file(workspace.audit)
        state = breakers.effective(breakers.load(path), workspace.audit)
        who = by or getpass.getuser()
        resumed = breakers.resume(state, by=who, note=note, at=now)
        breakers.record(workspace.audit, resumed)  # the log first: it is the authority
        breakers.save(path, resumed)
    finally:
        workspace.close()
    event(
        logging.getLogger("signalops.breakers"),
        logging.INFO,
        "breaker_resumed",
        f"the {state.trigger} breaker cleared by {who}: {note}",
        trigger=state.trigger,
        by=who,
        note=note,
    )
    click.echo(f"resumed: the {state.trigger} breaker ({state.message}) cleared by {who}")
