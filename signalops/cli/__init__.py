"""The ``signalops`` command: parse arguments, call one library function, render the result.

No decision logic lives here. Library errors become ``error: ...`` on stderr and exit status 1;
a traceback only ever means a bug in SignalOps.
"""

from __future__ import annotations

import getpass
import importlib.util
import json
import os
import subprocess
import sys
import threading
from contextlib import nullcontext
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.text import Text

from signalops import __version__
from signalops.adapters import registry
from signalops.adapters.bundled import DEFAULT_DATA_DIR, DEFAULT_SNAPSHOT_DIR, import_bundled
from signalops.adapters.store import SnapshotStore
from signalops.audit import why
from signalops.catalogue.spec import parse_duration
from signalops.errors import SignalOpsError, StrategyError
from signalops.evaluation.tree import Verdict
from signalops.explain import draw_tree, iso, strategy_header
from signalops.orders import Mode

# Every command, even --help, pays for what is imported here. What only some commands need
# (the strategy compiler, the audit log with sqlite-utils and pandas, the pipeline, ccxt and
# py-clob-client, the dashboard) is imported inside them.
if TYPE_CHECKING:
    from signalops.strategy.model import Strategy
    from signalops.workspace import Workspace


def _console(stderr: bool = False) -> Console:
    # Lines never wrap: error messages and tree lines stay greppable and testable.
    return Console(stderr=stderr, soft_wrap=True, highlight=False)


def _count(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


def _print_strategy_error(error: StrategyError, console: Console) -> None:
    for item in error.errors:
        console.print(Text("error: ", style="bold red") + Text(str(item)))
        if item.excerpt:
            console.print(Text(item.excerpt, style="dim"))


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="signalops")
def cli() -> None:
    """SignalOps: trading strategies written in YAML, compiled into explicit, auditable logic trees.

    \b
    Typical session:
      signalops validate strategies/           check every strategy file, with line:column errors
      signalops explain strategies/x.yaml      draw the logic tree a file compiles into
      signalops metrics                        list every metric a strategy may use
      signalops schema > strategy.schema.json  the JSON Schema, for editor completion
    """


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate(paths: tuple[Path, ...]) -> None:
    """Check strategy files (or every *.yaml/*.yml under folders).

    Every problem is printed as FILE:LINE:COLUMN: PATH: MESSAGE (HINT). Exits 0 when every file
    is valid, 1 otherwise.

    \b
    Example:
      signalops validate strategies/ my_strategy.yaml
    """
    from signalops.strategy import find_strategy_files, load

    out, err = _console(), _console(stderr=True)
    files = list(find_strategy_files(paths))
    if not files:
        where = ", ".join(str(p) for p in paths)
        err.print(
            Text("error: ", style="bold red")
            + Text(f"no strategy files (*.yaml, *.yml) found in {where}")
        )
        sys.exit(1)
    invalid = 0
    problems = 0
    for file in files:
        try:
            strategy = load(file, registry.catalogue())
        except StrategyError as exc:
            invalid += 1
            problems += len(exc.errors)
            _print_strategy_error(exc, err)
            continue
        tree = strategy.tree
        summary = ", ".join(
            (
                _count(len(tree.entry.children), "entry rule"),
                _count(len(tree.exit.children) if tree.exit else 0, "exit rule"),
                _count(len(tree.vetoes), "veto", "vetoes"),
                _count(len(tree.leaves()), "condition"),
            )
        )
        line = Text("ok ", style="bold green")
        line.append(f"{file}")
        line.append(f"  {strategy.name}: {summary}", style="dim")
        out.print(line)
    total = len(files)
    verdict = f"{_count(total, 'file')}: {total - invalid} valid"
    if invalid:
        verdict += f", {invalid} invalid ({_count(problems, 'error')})"
    out.print(Text(verdict, style="bold"))
    sys.exit(1 if invalid else 0)


@cli.command()
@click.argument("strategy", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the compiled tree as JSON.")
def explain(strategy: Path, as_json: bool) -> None:
    """Draw the logic tree a strategy file compiles into.

    Each condition shows its source, its staleness limit (max age) and its line in the file;
    the headings say how many rules must pass and what each veto blocks.

    \b
    Example:
      signalops explain strategies/event_filter.yaml
      signalops explain --json strategies/event_filter.yaml
    """
    from signalops.strategy import load

    try:
        compiled = load(strategy, registry.catalogue())
    except StrategyError as exc:
        _print_strategy_error(exc, _console(stderr=True))
        sys.exit(1)
    out = _console()
    if as_json:
        from signalops.explain import tree_to_dict

        # Plain text, never styled: this output is for jq and other programs.
        click.echo(json.dumps(tree_to_dict(compiled), indent=2, ensure_ascii=False))
        return
    for line in strategy_header(compiled):
        out.print(line)
    for line in draw_tree(compiled.tree, file_name=str(strategy)):
        out.print(line)


def _print_catalogue(source: str | None, *, with_adapters: bool) -> None:
    out = _console()
    sources = registry.catalogue().sources
    if source is not None and source not in sources:
        _console(stderr=True).print(
            Text("error: ", style="bold red")
            + Text(f"unknown source '{source}' (one of: {', '.join(sources)})")
        )
        sys.exit(1)
    shown = {n: c for n, c in sources.items() if source is None or n == source}
    specs = [spec for c in shown.values() for spec in c.metrics.values()]
    width = max(len(spec.signature()) for spec in specs)
    unit_width = max(len(spec.unit) for spec in specs)
    for name, catalogue in shown.items():
        head = Text(f"{name}", style="bold")
        if with_adapters:
            head.append(f"  {registry.BUILTIN.get(name, 'plugin')}", style="magenta")
        out.print(head + Text(f"  {catalogue.description}", style="dim"))
        for spec in catalogue.metrics.values():
            line = Text(f"  {spec.signature():<{width}}", style="cyan")
            line.append(f"  {spec.unit:<{unit_width}}  ")
            line.append(spec.description, style="dim")
            if spec.aliases:
                line.append(f" (also: {', '.join(spec.aliases)})", style="dim")
            out.print(line)


@cli.command()
@click.argument("source", required=False)
def metrics(source: str | None) -> None:
    """List the metrics strategies may use, with parameters, unit and description.

    \b
    Example:
      signalops metrics technical
    """
    _print_catalogue(source, with_adapters=False)


@cli.command()
@click.argument("source", required=False)
def adapters(source: str | None) -> None:
    """List every data adapter (built-in and plugins) with its metrics.

    Plugins register under the entry-point group 'signalops.adapters'.

    \b
    Example:
      signalops adapters onchain
    """
    _print_catalogue(source, with_adapters=True)


def _parse_time(text: str) -> datetime:
    """``2023-03-12`` (midnight UTC) or an ISO-8601 time; naive times are UTC."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"'{text}' is not a date or ISO-8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@cli.command("evaluate")
@click.argument("strategy", type=click.Path(path_type=Path))
@click.option("--at", "at", required=True, help="Decision time: 2023-03-12 or 2023-03-12T09:00Z.")
@click.option("--asset", help="Asset to evaluate (default: every asset of the strategy).")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(path_type=Path),
    default=DEFAULT_SNAPSHOT_DIR,
    show_default=True,
    help="Replay snapshot folder (made by 'signalops data import').",
)
@click.option("--json", "as_json", is_flag=True, help="Print the full trace as JSON.")
def evaluate_command(
    strategy: Path, at: str, asset: str | None, data_dir: Path, as_json: bool
) -> None:
    """Evaluate a strategy at a past time on replayed real data, and show the traced tree.

    Each condition shows PASS, FAIL or UNKNOWN with the value it saw, the data's timestamp and
    age; vetoes show whether they block. Nothing is traded.

    \b
    Example:
      signalops data import
      signalops evaluate strategies/banking_crisis_dip.yaml --at 2023-03-12
    """
    from signalops.adapters import gather as engine
    from signalops.strategy import load

    as_of = _parse_time(at)
    err = _console(stderr=True)
    try:
        compiled = load(strategy, registry.catalogue())
    except StrategyError as exc:
        _print_strategy_error(exc, err)
        sys.exit(1)
    if not data_dir.is_dir():
        err.print(
            Text("error: ", style="bold red")
            + Text(f"{data_dir}: no snapshot folder (run 'signalops data import' first)")
        )
        sys.exit(1)
    adapters = registry.replay_adapters(SnapshotStore(data_dir))
    out = _console()
    assets = [asset] if asset else list(compiled.assets)
    for name in assets:
        evaluation = engine.evaluate(compiled, name, as_of, adapters)
        if as_json:
            click.echo(json.dumps(evaluation.trace.to_dict(evaluation), indent=2))
            continue
        head = Text(f"{compiled.name} · {name} · {iso(as_of)}: ", style="bold")
        head.append(str(evaluation.verdict), style=f"bold {_VERDICT_STYLE[evaluation.verdict]}")
        if evaluation.blocked_by:
            head.append(f" ({evaluation.action} blocked by {', '.join(evaluation.blocked_by)})")
        out.print(head)
        for note in evaluation.conflicts:
            out.print(Text(f"conflict: {note}", style="magenta"))
        for line in draw_tree(compiled.tree, evaluation.trace, file_name=str(strategy)):
            out.print(line)


_VERDICT_STYLE = {"BUY": "green", "SELL": "red", "HOLD": "blue", "BLOCKED": "magenta"}


# --- the decision pipeline -------------------------------------------------------------------

AUDIT_OPTION = click.option(
    "--audit",
    "audit_file",
    type=click.Path(path_type=Path),
    help="Audit log (SQLite). Default: $SIGNALOPS_AUDIT, the config's audit.path, signalops.db.",
)
CONFIG_OPTION = click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    help="Config file (risk limits, paper, notify). Default: ./signalops.yaml if present.",
)


def _fail(message: str) -> None:
    _console(stderr=True).print(Text("error: ", style="bold red") + Text(message))
    sys.exit(1)


def _workspace(audit_file: Path | None, config_file: Path | None) -> Workspace:
    from signalops.workspace import open_workspace

    try:
        return open_workspace(audit=audit_file, config=config_file)
    except StrategyError as exc:  # a bad config file reads like a bad strategy file
        _print_strategy_error(exc, _console(stderr=True))
        sys.exit(1)


def _duration(text: str | None) -> timedelta | None:
    if text is None:
        return None
    seconds = parse_duration(text)
    if seconds is None:
        raise click.BadParameter(f"'{text}' is not a duration such as 30s, 5m, 1h or 1d")
    return timedelta(seconds=seconds)


@cli.command("run")
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
@click.option("--from", "start", help="With --replay: first decision time (e.g. 2023-03-01).")
@click.option("--to", "end", help="With --replay: last decision time.")
@AUDIT_OPTION
@CONFIG_OPTION
def run_command(
    strategies: tuple[Path, ...],
    mode: str | None,
    once: bool,
    every: str | None,
    live: bool,
    replay_dir: Path | None,
    start: str | None,
    end: str | None,
    audit_file: Path | None,
    config_file: Path | None,
) -> None:
    """Evaluate strategies, pass verdicts through the risk gate, execute, record everything.

    Each cycle gathers every distinct data request once, then for each strategy and asset:
    evaluate, size, check the risk gate, execute (paper, notify or auto) and append the decision
    to the audit log, traded or not. Ctrl-C (or SIGTERM) finishes the current cycle first.

    \b
    Examples:
      signalops run strategies/banking_crisis_dip.yaml --once
      signalops run strategies/*.yaml --mode notify --every 5m
      signalops run strategies/banking_crisis_dip.yaml --replay examples/replay \\
          --from 2023-03-01 --to 2023-03-31 --every 1d
    """
    from signalops.pipeline import loop as runner
    from signalops.pipeline.loop import simulated_times, wall_clock_times
    from signalops.workspace import build_pipeline, load_strategies

    interval = _duration(every)
    try:
        loaded = load_strategies(strategies)
    except StrategyError as exc:
        _print_strategy_error(exc, _console(stderr=True))
        sys.exit(1)
    workspace = _workspace(audit_file, config_file)
    simulated: dict[str, datetime] = {}
    if replay_dir is not None:
        if start is None:
            raise click.UsageError("--replay needs --from (and optionally --to and --every)")
        first = _parse_time(start)
        times = simulated_times(
            first, _parse_time(end) if end else first, interval or timedelta(days=1)
        )
        clock = lambda: simulated.get("now", first)  # noqa: E731 - the replay's own clock
    elif start or end:
        raise click.UsageError("--from/--to only apply with --replay")
    else:
        times = None
        clock = None
    try:
        pipeline = build_pipeline(
            workspace,
            loaded,
            mode=Mode(mode) if mode else None,
            live=live,
            replay=replay_dir,
            clock=clock,
        )
    except SignalOpsError as exc:
        _fail(str(exc))
    out = _console()
    stop = threading.Event()
    if times is None:
        times = wall_clock_times(None if once else interval, pipeline.clock, stop)
    else:
        times = _ticking(times, simulated)
    with out.status("running...") if out.is_terminal else nullcontext():
        summaries = runner.run(pipeline, times, stop=stop, on_cycle=lambda s: out.print(s.line()))
    if stop.is_set():
        out.print(
            Text(f"stopped after {len(summaries)} cycles; audit log is complete", style="dim")
        )
    workspace.close()


def _ticking(times, holder: dict[str, datetime]):
    for moment in times:
        holder["now"] = moment
        yield moment


@cli.command("approvals")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.option("--at", help="Judge expiry at this time (default: now; for replays).")
@AUDIT_OPTION
@CONFIG_OPTION
def approvals_command(
    as_json: bool, at: str | None, audit_file: Path | None, config_file: Path | None
) -> None:
    """List decisions waiting for a human (notify mode), soonest expiry first."""
    workspace = _workspace(audit_file, config_file)
    now = _parse_time(at) if at else datetime.now(UTC)
    pending = workspace.audit.pending_approvals(now)
    if as_json:
        click.echo(json.dumps([_pending_dict(p) for p in pending], indent=2))
        return
    out = _console()
    if not pending:
        out.print("no approvals pending")
    for item in pending:
        order = item.record.get("order") or {}
        line = Text(f"{item.approval_id}  ", style="bold")
        line.append(f"{order.get('side', '?')} {order.get('quantity', '?')} {item.asset}  ")
        line.append(f"{item.strategy}  decided {item.as_of}  ")
        line.append(
            "EXPIRED" if item.expired else f"expires {iso(item.expires_at)}",
            style="red" if item.expired else "dim",
        )
        out.print(line)


def _pending_dict(item: Any) -> dict[str, Any]:
    return {
        "approval_id": item.approval_id,
        "decision_id": item.decision_id,
        "asset": item.asset,
        "strategy": item.strategy,
        "as_of": item.as_of,
        "expires_at": iso(item.expires_at),
        "expired": item.expired,
        "order": item.record.get("order"),
    }


def _answer(
    approval_id: str,
    approve: bool,
    by: str | None,
    note: str | None,
    audit_file: Path | None,
    config_file: Path | None,
    live: bool,
    replay_dir: Path | None,
    at: str | None,
) -> None:
    from signalops.workspace import build_pipeline, load_strategies

    workspace = _workspace(audit_file, config_file)
    now = _parse_time(at) if at else datetime.now(UTC)
    pending = [
        p
        for p in workspace.audit.pending_approvals(now)
        if approval_id in (p.approval_id, p.decision_id)
    ]
    strategies: list[Strategy] = []
    if pending and approve:
        try:
            strategies = load_strategies([pending[0].record["strategy"]["file"]])
        except StrategyError as exc:
            _print_strategy_error(exc, _console(stderr=True))
            sys.exit(1)
    try:
        pipeline = build_pipeline(
            workspace, strategies, live=live, replay=replay_dir, clock=lambda: now
        )
        outcome = pipeline.answer_approval(
            approval_id, approve=approve, by=by or getpass.getuser(), note=note, now=now
        )
    except SignalOpsError as exc:
        _fail(str(exc))
    style = {"FILLED": "green", "REJECTED": "yellow", "SUBMITTED": "green"}.get(
        outcome.status, "red"
    )
    _console().print(
        Text(f"{outcome.approval_id}: ", style="bold")
        + Text(outcome.status, style=f"bold {style}")
        + Text(f" — {outcome.message}")
    )
    sys.exit(0 if outcome.status in ("FILLED", "SUBMITTED", "REJECTED") else 1)


ANSWER_OPTIONS = [
    click.option("--by", help="Who decides (recorded). Default: the current user."),
    click.option("--live", is_flag=True, help="Execute through the live exchange (auto mode)."),
    click.option(
        "--replay",
        "replay_dir",
        type=click.Path(path_type=Path),
        help="Re-check the signal on replayed data (for replays and tests).",
    ),
    click.option("--at", help="Decision time of the re-check (default: now)."),
    AUDIT_OPTION,
    CONFIG_OPTION,
]


def _with_options(options):
    def decorate(function):
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


@cli.command("approve")
@click.argument("approval_id")
@click.option("--note", help="A note kept in the audit record.")
@_with_options(ANSWER_OPTIONS)
def approve_command(approval_id, note, by, live, replay_dir, at, audit_file, config_file) -> None:
    """Approve a pending trade: re-check data and risk, then execute and record.

    \b
    Example:
      signalops approve apv-06b9f3bcf8279e462f0c49f6 --note "checked the news"
    """
    _answer(approval_id, True, by, note, audit_file, config_file, live, replay_dir, at)


@cli.command("reject")
@click.argument("approval_id")
@click.option("--note", required=True, help="Why (kept in the audit record).")
@_with_options(ANSWER_OPTIONS)
def reject_command(approval_id, note, by, live, replay_dir, at, audit_file, config_file) -> None:
    """Reject a pending trade; the rejection is recorded with your note.

    \b
    Example:
      signalops reject apv-06b9f3bcf8279e462f0c49f6 --note "FOMC in an hour"
    """
    _answer(approval_id, False, by, note, audit_file, config_file, live, replay_dir, at)


@cli.command("decisions")
@click.option("--asset")
@click.option("--strategy")
@click.option("--verdict", type=click.Choice([v.value for v in Verdict], case_sensitive=False))
@click.option("--since", help="Earliest decision time (date or ISO time).")
@click.option("--until", help="Latest decision time (date or ISO time).")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the full records as JSON lines.")
@AUDIT_OPTION
def decisions_command(asset, strategy, verdict, since, until, limit, as_json, audit_file) -> None:
    """List recorded decisions, newest first: traded, blocked, held or denied.

    \b
    Example:
      signalops decisions --asset BTC --verdict BLOCKED --since 2023-03-01
    """
    workspace = _workspace(audit_file, None)
    records = workspace.audit.decisions(
        asset=asset,
        strategy=strategy,
        verdict=verdict.upper() if verdict else None,
        since=_parse_bound(since),
        until=_parse_bound(until),
        limit=limit,
    )
    out = _console()
    for record in records:
        if as_json:
            click.echo(json.dumps(record))
            continue
        line = Text(f"{record['as_of']}  {record['asset']:<6} ")
        line.append(f"{record['verdict']:<8}", style=f"bold {_VERDICT_STYLE[record['verdict']]}")
        line.append(f" {why.outcome(record, workspace.audit.followups(record['decision_id']))}")
        line.append(f"  {record['strategy']['name']}  {record['decision_id']}", style="dim")
        out.print(line)
    if not records and not as_json:
        out.print("no decisions match")


def _parse_bound(text: str | None) -> datetime | date | None:
    if text is None:
        return None
    if len(text) == 10:
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise click.BadParameter(f"'{text}' is not a date") from None
    return _parse_time(text)


@cli.command("why")
@click.argument("ref")
@click.option("--at", help="With an asset: the date or time to explain (e.g. 2024-11-06).")
@click.option("--json", "as_json", is_flag=True, help="Print the record and follow-ups as JSON.")
@AUDIT_OPTION
def why_command(ref: str, at: str | None, as_json: bool, audit_file: Path | None) -> None:
    """Explain one decision from its audit record: the tree, values, vetoes, risk and outcome.

    \b
    Examples:
      signalops why BTC --at 2024-11-06      why did it (not) trade BTC that day?
      signalops why dec-06b9f3bcf8279e462f0c49f6
    """
    workspace = _workspace(audit_file, None)
    when = _parse_bound(at) if at else None
    if not ref.startswith("dec-") and when is None:
        raise click.UsageError("give a decision id, or an asset with --at DATE")
    record = why.find_decision(workspace.audit, ref, when)
    if record is None:
        _fail(
            f"no decision for {ref}"
            + (f" at {at}" if at else "")
            + " in "
            + str(workspace.audit.path)
        )
    followups = workspace.audit.followups(record["decision_id"])
    if as_json:
        click.echo(json.dumps(why.why_json(record, followups), indent=2))
        return
    out = _console()
    for line in why.why(record, followups):
        out.print(line)


@cli.group("audit")
def audit_group() -> None:
    """Check and export the audit log."""


@audit_group.command("verify")
@AUDIT_OPTION
def audit_verify(audit_file: Path | None) -> None:
    """Recompute every hash and link; say which record was edited, deleted or reordered."""
    from signalops.audit.verify import verify

    workspace = _workspace(audit_file, None)
    report = verify(workspace.audit)
    out = _console()
    if report.ok:
        out.print(Text("ok ", style="bold green") + Text(f"{report.checked} records, chain intact"))
        return
    err = _console(stderr=True)
    for problem in report.problems:
        where = f"seq {problem.seq}" if problem.seq is not None else "chain"
        err.print(
            Text(f"{problem.kind.value} ", style="bold red") + Text(f"{where}: {problem.message}")
        )
    count = len(report.problems)
    plural = "problem" if count == 1 else "problems"
    err.print(Text(f"audit log FAILED verification: {count} {plural}", style="bold red"))
    sys.exit(1)


@audit_group.command("export")
@click.argument("target", type=click.Path(path_type=Path))
@AUDIT_OPTION
def audit_export(target: Path, audit_file: Path | None) -> None:
    """Write every record as JSON Lines (each line verifies on its own)."""
    workspace = _workspace(audit_file, None)
    count = workspace.audit.export_jsonl(target)
    _console().print(f"{count} records written to {target}")


@cli.command("dashboard")
@AUDIT_OPTION
@CONFIG_OPTION
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=8501,  # dashboard_api.DEFAULT_PORT: that module loads the workspace (slow start-up)
    show_default=True,
    help="Local port.",
)
@click.option(
    "--strategies",
    "strategies_dir",
    type=click.Path(path_type=Path),
    help="Strategies folder shown on the Strategies page and searched to re-check approvals. "
    "Default: $SIGNALOPS_STRATEGIES, else ./strategies.",
)
@click.option(
    "--reports",
    "reports_dir",
    type=click.Path(path_type=Path),
    help="Backtest reports folder. Default: $SIGNALOPS_REPORTS, else ./reports.",
)
@click.option(
    "--replay",
    "replay_dir",
    type=click.Path(path_type=Path),
    help="Re-check approvals on replayed data from this snapshot folder (replays, demos).",
)
@click.option("--at", help="Freeze the dashboard's clock at this time (for replayed decisions).")
def dashboard_command(
    audit_file: Path | None,
    config_file: Path | None,
    port: int,
    strategies_dir: Path | None,
    reports_dir: Path | None,
    replay_dir: Path | None,
    at: str | None,
) -> None:
    """Open the dashboard: approval queue, decisions, portfolio, strategies, backtests, audit.

    It listens on 127.0.0.1 only. Approving and rejecting need the operator password in
    $SIGNALOPS_DASHBOARD_PASSWORD; without it the dashboard is read-only. Ctrl-C stops it.

    \b
    Example:
      SIGNALOPS_DASHBOARD_PASSWORD=... signalops dashboard --audit signalops.db --port 8501
    """
    from signalops.dashboard import api as dashboard_api

    # Streamlit runs in its own process (and is only imported by dashboard/): check it is
    # installed without importing it here.
    if importlib.util.find_spec("streamlit") is None:
        _fail("the dashboard needs Streamlit: pip install streamlit")
    if not dashboard_api.app_path().is_file():
        _fail(f"{dashboard_api.app_path()}: the dashboard app ships with the source checkout")
    # The options become the environment the app reads (Settings.from_env), over the caller's.
    # Paths stay as given: the app runs in this same working directory, and shows them.
    environ = dict(os.environ)
    options = {
        dashboard_api.AUDIT_ENV: audit_file,
        dashboard_api.CONFIG_ENV: config_file,
        dashboard_api.STRATEGIES_ENV: strategies_dir,
        dashboard_api.REPORTS_ENV: reports_dir,
        dashboard_api.REPLAY_ENV: replay_dir,
    }
    environ.update({name: str(path) for name, path in options.items() if path})
    if at:
        environ[dashboard_api.NOW_ENV] = at
    try:
        settings = dashboard_api.Settings.from_env(environ)  # fail here, not in the browser
    except StrategyError as exc:  # a bad config file
        _print_strategy_error(exc, _console(stderr=True))
        sys.exit(1)
    except SignalOpsError as exc:
        _fail(str(exc))
    env = {**environ, **settings.environment()}
    mode = "read-only" if not os.environ.get(dashboard_api.PASSWORD_ENV) else "operator login on"
    _console(stderr=True).print(
        Text(f"dashboard on http://{dashboard_api.BIND_ADDRESS}:{port} ", style="bold")
        + Text(f"({mode}; audit log {settings.audit})", style="dim")
    )
    try:
        code = subprocess.call(dashboard_api.launch_command(port), env=env)
    except KeyboardInterrupt:
        code = 0
    sys.exit(code)


# --- backtests ---------------------------------------------------------------------------------


@cli.command("backtest")
@click.argument("strategy", type=click.Path(path_type=Path))
@click.option("--from", "start", required=True, help="First decision time (e.g. 2023-03-01).")
@click.option("--to", "end", required=True, help="Last decision time, included.")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(path_type=Path),
    default=DEFAULT_SNAPSHOT_DIR,
    show_default=True,
    help="Replay snapshot folder (made by 'signalops data import').",
)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(path_type=Path),
    help="Folder for the report and audit logs. Default: reports/<strategy name>.",
)
@click.option("--every", help="Decision interval. Default: the strategy's candle timeframe (1d).")
@click.option(
    "--asset", "assets", multiple=True, help="Only this asset (repeatable). Default: all."
)
@click.option(
    "--horizon",
    default="72h",
    show_default=True,
    help="How long a blocked trade is played out for the filter accounting.",
)
@click.option("--no-baseline", is_flag=True, help="Skip the run with the vetoes removed.")
@CONFIG_OPTION
def backtest_command(
    strategy: Path,
    start: str,
    end: str,
    data_dir: Path,
    report_dir: Path | None,
    every: str | None,
    assets: tuple[str, ...],
    horizon: str,
    no_baseline: bool,
    config_file: Path | None,
) -> None:
    """Backtest a strategy on replayed history through the live pipeline, with a report.

    Each decision time from --from to --to runs the same evaluate -> risk gate -> paper
    execution -> audit path as 'signalops run'; orders fill at the next bar's open with the
    configured fee and slippage. Prints the strategy next to the same strategy with its vetoes
    removed and to buy-and-hold, says what the blocked trades would have done, and writes
    metrics.json, trades.csv, report.html (with charts) and the audit logs.

    \b
    Example:
      signalops data import
      signalops backtest tests/fixtures/banking_crisis_pipeline.yaml \\
          --from 2023-03-01 --to 2023-03-31
    """
    # Imported here: the backtest package (and its report's matplotlib) is only needed by this
    # command, so other commands start as fast as before.
    from rich import box
    from rich.table import Table

    from signalops.backtest.report import columns, filter_lines, method_lines, metric_rows, title
    from signalops.backtest.study import run_study
    from signalops.config import load_config
    from signalops.strategy import load

    first, last = _backtest_time("--from", start), _backtest_time("--to", end)
    interval = _backtest_duration("--every", every)
    span = _backtest_duration("--horizon", horizon)
    err = _console(stderr=True)
    try:
        compiled = load(strategy, registry.catalogue())
        settings = load_config(config_file or _default_config())
    except StrategyError as exc:
        _print_strategy_error(exc, err)
        sys.exit(1)
    if not data_dir.is_dir():
        _fail(f"{data_dir}: no snapshot folder (run 'signalops data import' first)")
    out_dir = report_dir or Path("reports") / _file_name(compiled.name)
    try:
        with _backtest_progress(err) as progress:
            study = run_study(
                compiled,
                store=SnapshotStore(data_dir),
                start=first,
                end=last,
                out_dir=out_dir,
                every=interval,
                assets=assets or None,
                config=settings,
                horizon=span or timedelta(hours=72),
                baseline=not no_baseline,
                progress=progress,
            )
    except SignalOpsError as exc:
        _fail(str(exc))
    out = _console()
    out.print(Text(title(study), style="bold"))
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for i, name in enumerate(columns(study)):
        table.add_column(name, justify="left" if i == 0 else "right")
    for row in metric_rows(study):
        table.add_row(*row)
    out.print(table)
    for line in (*filter_lines(study), *method_lines(study)):
        out.print(line)
    out.print(f"report: {out_dir / 'report.html'}")
    audit = study.result.audit_path
    out.print(f"audit log: {audit}")
    if study.result.blocked.items:
        first = study.result.blocked.items[0]
        out.print(f"why the first block: signalops why {first.decision_id} --audit {audit}")


def _backtest_time(option: str, text: str) -> datetime:
    try:
        return _parse_time(text)
    except click.BadParameter:
        _fail(f"{option}: '{text}' is not a date or ISO-8601 time (e.g. 2023-03-01)")
        raise  # unreachable: _fail exits


def _backtest_duration(option: str, text: str | None) -> timedelta | None:
    try:
        return _duration(text)
    except click.BadParameter:
        _fail(f"{option}: '{text}' is not a duration such as 1h or 1d")
        raise  # unreachable: _fail exits


def _default_config() -> str | None:
    from signalops.config import DEFAULT_CONFIG_FILE

    return DEFAULT_CONFIG_FILE if Path(DEFAULT_CONFIG_FILE).exists() else None


def _file_name(name: str) -> str:
    """A strategy name as a folder name: anything but letters, digits, . _ - becomes _."""
    import re

    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "strategy"


def _backtest_progress(console: Console) -> Any:
    """A progress bar per run (strategy, baseline) on a terminal; nothing when piped."""
    return _ProgressBars(console) if console.is_terminal else nullcontext(None)


class _ProgressBars:
    """``with`` gives ``update(label, done, total)``; one bar per label, gone when done."""

    def __init__(self, console: Console) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.bars = Progress(
            TextColumn("{task.description:<9}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> Any:
        self.bars.start()
        return self.update

    def __exit__(self, *exc: object) -> None:
        self.bars.stop()

    def update(self, label: str, done: int, total: int) -> None:
        if label not in self.tasks:
            self.tasks[label] = self.bars.add_task(label, total=total)
        self.bars.update(self.tasks[label], completed=done)


# --- parameter sweeps --------------------------------------------------------------------------


@cli.command("sweep")
@click.argument("strategy", type=click.Path(path_type=Path))
@click.option(
    "--grid",
    "grid_specs",
    multiple=True,
    required=True,
    metavar="NAME=V1,V2,...",
    help="A strategy param and the values to try (repeatable). Values read like thresholds: "
    "30, 5%, 1.5k, -1B.",
)
@click.option("--from", "start", required=True, help="First decision time (e.g. 2022-01-01).")
@click.option("--to", "end", required=True, help="Last decision time, included.")
@click.option("--asset", help="Asset to screen. Default: the strategy's first.")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(path_type=Path),
    default=DEFAULT_SNAPSHOT_DIR,
    show_default=True,
    help="Replay snapshot folder (made by 'signalops data import').",
)
@click.option("--every", help="Decision interval. Default: the strategy's candle timeframe (1d).")
@CONFIG_OPTION
def sweep_command(
    strategy: Path,
    grid_specs: tuple[str, ...],
    start: str,
    end: str,
    asset: str | None,
    data_dir: Path,
    every: str | None,
    config_file: Path | None,
) -> None:
    """Screen a grid of parameter values with the vectorised evaluator, best return first.

    Every combination of the --grid values replaces the strategy's params, is compiled again and
    evaluated over all decision times at once; a long-only, all-in position then buys on BUY and
    sells on SELL at the next bar's open, with the config's fee and slippage. A fast screen: no
    risk gate, sizing, confirmations or audit log, so its numbers are not the backtest's.

    \b
    Example:
      signalops sweep strategies/technical_baseline.yaml --grid oversold=25,30,35 \\
          --from 2022-01-01 --to 2024-12-31
    """
    # Imported here: numpy, TA-Lib and the compiler are only needed by this command.
    from rich import box
    from rich.measure import Measurement
    from rich.table import Table

    from signalops.backtest.runner import candle_timeframe
    from signalops.backtest.sweep import describe_period, format_value, parse_grid, sweep
    from signalops.config import load_config
    from signalops.strategy import load

    first, last = _backtest_time("--from", start), _backtest_time("--to", end)
    interval = _backtest_duration("--every", every)
    err = _console(stderr=True)
    try:
        grid = parse_grid(grid_specs)
    except SignalOpsError as exc:
        _fail(str(exc))
    try:
        compiled = load(strategy, registry.catalogue())
        paper = load_config(config_file or _default_config()).paper
    except StrategyError as exc:
        _print_strategy_error(exc, err)
        sys.exit(1)
    if not data_dir.is_dir():
        _fail(f"{data_dir}: no snapshot folder (run 'signalops data import' first)")
    try:
        rows = sweep(
            compiled,
            grid=grid,
            store=SnapshotStore(data_dir),
            asset=asset,
            start=first,
            end=last,
            every=interval,
            fee_bps=paper.fee_bps,
            slippage_bps=paper.slippage_bps,
        )
    except SignalOpsError as exc:  # an unknown param, a value it cannot compile with, no data
        _fail(str(exc))
    rows.sort(key=lambda row: row.total_return, reverse=True)
    step = interval or timedelta(seconds=candle_timeframe(compiled))
    period = describe_period(first, last, step)
    out = _console()
    out.print(
        Text(
            f"{compiled.name} · {asset or compiled.assets[0]} · {period}"
            f" · {_count(len(rows), 'combination')} · fee {paper.fee_bps} bps, slippage "
            f"{paper.slippage_bps} bps",
            style="bold",
        )
    )
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for name in grid:
        table.add_column(name, justify="right")
    for name in ("return", "max DD", "trades", "win rate", "exposure", "blocked bars"):
        table.add_column(name, justify="right")
    for row in rows:
        rate = row.win_rate.rate
        trades = str(row.closed_trades) + (" +1 open" if row.open_trade else "")
        table.add_row(
            *(format_value(row.params[name]) for name in grid),
            f"{row.total_return:+.2%}",
            f"{row.max_drawdown:.2%}",
            trades,
            "—" if rate is None else f"{rate:.0%}",
            f"{row.exposure:.1%}",
            str(row.blocked),
        )
    # As wide as it needs (one line per row, nothing truncated), even when piped.
    needed = Measurement.get(out, out.options.update_width(10_000), table).maximum
    Console(soft_wrap=True, highlight=False, width=max(out.width, needed)).print(table)
    out.print("fast screen: no risk gate or sizing; confirm with signalops backtest")


@cli.group()
def data() -> None:
    """Manage replay data: snapshots of recorded real data that backtests replay."""


@data.command("import")
@click.option(
    "--from",
    "data_dir",
    type=click.Path(path_type=Path),
    default=DEFAULT_DATA_DIR,
    show_default=True,
    help="Folder of bundled real data.",
)
@click.option(
    "--to",
    "out_dir",
    type=click.Path(path_type=Path),
    default=DEFAULT_SNAPSHOT_DIR,
    show_default=True,
    help="Snapshot folder to write (one <source>.jsonl per source).",
)
@click.option("--source", "sources", multiple=True, help="Only these sources (repeatable).")
def data_import(data_dir: Path, out_dir: Path, sources: tuple[str, ...]) -> None:
    """Turn the bundled real data into replay snapshots.

    \b
    Example:
      signalops data import --from examples/data --to examples/replay
    """
    out, err = _console(), _console(stderr=True)
    try:
        with err.status("importing...") as status:
            results = import_bundled(
                data_dir,
                out_dir,
                sources=sources or None,
                on_source=lambda s: status.update(f"importing {s}..."),
            )
    except SignalOpsError as exc:
        err.print(Text("error: ", style="bold red") + Text(str(exc)))
        sys.exit(1)
    for result in results:
        line = Text(f"{result.source:<12}", style="bold")
        line.append(f"{result.records:>9,} points in {result.series:>4} series  ")
        line.append(str(result.path), style="dim")
        out.print(line)


@cli.command()
def schema() -> None:
    """Print the JSON Schema (2020-12) of strategy files, e.g. for editor validation.

    \b
    Example:
      signalops schema > strategy.schema.json
    """
    from signalops.strategy import schema_path

    click.echo(schema_path().read_text(encoding="utf-8"), nl=False)


def main() -> None:
    # A console that cannot encode the tree characters (e.g. a legacy Windows code page when
    # piping, or PYTHONIOENCODING=ascii) gets '?' instead of a UnicodeEncodeError traceback.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")
    cli(prog_name="signalops")
