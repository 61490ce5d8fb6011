"""Everything the ``signalops`` command prints: consoles, styles, counts, tables, progress bars
and the one error printer. Commands hand their results here; nothing here decides anything.

Lines never wrap (``soft_wrap``): error messages and tree lines stay greppable and testable.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click
from rich.console import Console
from rich.text import Text

from signalops import numbers
from signalops.errors import SignalOpsError, StrategyError

if TYPE_CHECKING:
    from rich.table import Table

    from signalops.adapters.bundled import ImportResult
    from signalops.adapters.importing import SeriesImported
    from signalops.audit.copy import Copied
    from signalops.audit.replay import LeafDifference, ReplayResult
    from signalops.audit.store import PendingApproval
    from signalops.audit.verify import VerifyReport
    from signalops.backtest.study import Study
    from signalops.backtest.sweep import AlwaysUnknown, SweepRow
    from signalops.catalogue.spec import SourceCatalogue
    from signalops.config import Config
    from signalops.pipeline import ApprovalOutcome
    from signalops.strategy.check import FileCheck

_OUTCOME_STYLE = {"FILLED": "green", "REJECTED": "yellow", "SUBMITTED": "green"}
ProgressUpdate = Callable[[str, int, int], None]


def console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, soft_wrap=True, highlight=False)


def count(n: int, word: str, plural: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else plural or word + 's'}"


def _error_line(message: str) -> Text:
    return Text("error: ", style="bold red") + Text(message)


def error(exc: SignalOpsError) -> None:
    """``error: ...`` on stderr; a strategy or config error with its source line and caret."""
    err = console(stderr=True)
    if not isinstance(exc, StrategyError):
        err.print(_error_line(str(exc)))
        return
    for item in exc.errors:
        err.print(_error_line(str(item)))
        if item.excerpt:
            err.print(Text(item.excerpt, style="dim"))


INTERRUPTED = 130  # the shell's status of a command stopped by SIGINT (128 + 2)
# Stop signals the block turns into Ctrl-C (and notes): a service manager's or ``timeout``'s
# SIGTERM, a closed terminal's SIGHUP would otherwise end the process without its cleanup (a
# backtest's staging folder and partial log left behind).
_STOPS = ("SIGINT", "SIGTERM", "SIGHUP")


@contextmanager
def interruptible(folder: Path | None) -> Iterator[None]:
    """Ctrl-C, SIGTERM or SIGHUP in the block (a command that writes ``folder`` only when
    done, or nothing): ``interrupted: nothing written (FOLDER is as it was)`` on stderr, exit
    status 128 + the signal (130 for Ctrl-C), instead of click's ``Aborted!`` and 1."""
    stopped: list[int] = []
    try:
        with _stops_interrupting(stopped), _interrupts_kept(stopped):
            yield
    except KeyboardInterrupt:
        where = "" if folder is None else f" ({folder} is as it was)"
        console(stderr=True).print(Text(f"interrupted: nothing written{where}"))
        sys.exit(128 + stopped[0] if stopped else INTERRUPTED)


def _stops_interrupting(stopped: list[int]) -> AbstractContextManager[None]:
    """Ctrl-C, SIGTERM and SIGHUP raise ``KeyboardInterrupt`` in the block (their number noted
    in ``stopped``)."""
    import signal

    from signalops.signals import handled

    def stop(signum: int, _frame: Any) -> None:
        stopped.append(signum)
        raise KeyboardInterrupt

    return handled([getattr(signal, name) for name in _STOPS if hasattr(signal, name)], stop)


@contextmanager
def _interrupts_kept(stopped: list[int]) -> Iterator[None]:
    """A stop whose ``KeyboardInterrupt`` is raised while a finalizer runs (a weakref's callback,
    a ``__del__``: a run's objects freed together) is dropped by Python, printed as "Exception
    ignored in ...", and the block went on and published its folder (a stress run's Ctrl-C was
    lost so under load). Here it is noted instead, without the message, and raised where the
    block would go on to what cannot be undone (``folders.staged`` before it publishes) or, at
    the latest, when the block ends (``signals.raise_dropped``)."""
    from signalops.signals import forget_dropped, note_dropped, raise_dropped

    before = sys.unraisablehook

    def kept(unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            note_dropped(stopped[-1] if stopped else INTERRUPTED - 128)
            return
        before(unraisable)

    sys.unraisablehook = kept
    try:
        yield
        raise_dropped()
    finally:
        sys.unraisablehook = before
        forget_dropped()  # a block ended by another error: none is left for the next one


def fail(message: str) -> NoReturn:
    """For what the command line itself cannot do (no Streamlit): say so, exit 1."""
    console(stderr=True).print(_error_line(message))
    sys.exit(1)


def json_out(value: Any, *, indent: int | None = 2, ascii_only: bool = True) -> None:
    # Plain text, never styled: this output is for jq and other programs.
    click.echo(json.dumps(value, indent=indent, ensure_ascii=ascii_only))


# --- strategies --------------------------------------------------------------------------------


def validated(checks: Sequence[FileCheck]) -> int:
    """One line per valid file, the errors of the others, a verdict; returns the exit status."""
    out = console()
    invalid = problems = 0
    for check in checks:
        if check.error is not None:
            invalid += 1
            problems += len(check.error.errors)
            error(check.error)
            continue
        if check.config is not None:
            line = Text("ok ", style="bold green")
            line.append(f"{check.file}")
            line.append(f"  config: {config_summary(check.config)}", style="dim")
            out.print(line)
            continue
        assert check.strategy is not None
        tree = check.strategy.tree
        summary = ", ".join(
            (
                count(len(tree.entry.children), "entry rule"),
                count(len(tree.exit.children) if tree.exit else 0, "exit rule"),
                count(len(tree.vetoes), "veto", "vetoes"),
                count(len(tree.leaves()), "condition"),
            )
        )
        line = Text("ok ", style="bold green")
        line.append(f"{check.file}")
        line.append(f"  {check.strategy.name}: {summary}", style="dim")
        out.print(line)
    total = len(checks)
    verdict = f"{count(total, 'file')}: {total - invalid} valid"
    if invalid:
        verdict += f", {invalid} invalid ({count(problems, 'error')})"
    out.print(Text(verdict, style="bold"))
    return 1 if invalid else 0


def config_summary(config: Config) -> str:
    """What a valid config sets up, in a few counts."""
    return ", ".join(
        (
            count(len(config.venues.venues), "venue"),
            count(len(config.venues.assets), "asset mapped", "assets mapped"),
            count(len(config.notify.webhooks), "webhook"),
            count(len(config.dashboard.operators), "operator account"),
        )
    )


def lines(items: Iterable[Text | str]) -> None:
    out = console()
    for line in items:
        out.print(line)


def catalogue(
    sources: Mapping[str, SourceCatalogue], kinds: Mapping[str, str] | None = None
) -> None:
    """Each source with its metrics; ``kinds`` (built-in or plugin) for ``adapters``. A metric
    whose source has several providers gets a line saying which answers live and in replay."""
    out = console()
    specs = [spec for c in sources.values() for spec in c.metrics.values()]
    width = max(len(spec.signature()) for spec in specs)
    unit_width = max(len(spec.unit) for spec in specs)
    for name, source in sources.items():
        head = Text(f"{name}", style="bold")
        if kinds is not None:
            head.append(f"  {kinds.get(name, 'plugin')}", style="magenta")
        out.print(head + Text(f"  {source.description}", style="dim"))
        for spec in source.metrics.values():
            line = Text(f"  {spec.signature():<{width}}", style="cyan")
            line.append(f"  {spec.unit:<{unit_width}}  ")
            line.append(spec.description, style="dim")
            if spec.aliases:
                line.append(f" (also: {', '.join(spec.aliases)})", style="dim")
            if spec.range_text():  # what validate checks a threshold against
                line.append(f"; {spec.range_text()}", style="dim")
            out.print(line)
            if spec.providers():  # under the description: a line of its own stays readable
                indent = " " * (2 + width + 2 + unit_width + 2)
                out.print(Text(f"{indent}{spec.providers()}", style="dim"))


def data_imported(results: Iterable[ImportResult]) -> None:
    out = console()
    for result in results:
        line = Text(f"{result.source:<12}", style="bold")
        line.append(f"{result.records:>9,} points in {result.series:>4} series  ")
        line.append(str(result.path), style="dim")
        out.print(line)


def file_imported(results: Iterable[SeriesImported]) -> None:
    """One line per series a file fed, in the bundled import's columns."""
    out = console()
    for result in results:
        line = Text(f"{result.source:<12}", style="bold")
        points = "point " if result.points == 1 else "points"
        line.append(f"{result.points:>9,} {points} in {result.series}  ")
        line.append(str(result.path), style="dim")
        out.print(line)


# --- runs and approvals ------------------------------------------------------------------------


def stopped(cycles: int) -> None:
    console().print(Text(f"stopped after {cycles} cycles; audit log is complete", style="dim"))


def pending_dict(item: PendingApproval) -> dict[str, Any]:
    from signalops.canonical import iso

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


def pending(items: Sequence[PendingApproval]) -> None:
    from signalops.canonical import iso

    out = console()
    if not items:
        out.print("no approvals pending")
    for item in items:
        order = item.record.get("order") or {}
        line = Text(f"{item.approval_id}  ", style="bold")
        line.append(f"{order.get('side', '?')} {order.get('quantity', '?')} {item.asset}  ")
        line.append(f"{item.strategy}  decided {item.as_of}  ")
        line.append(
            "EXPIRED" if item.expired else f"expires {iso(item.expires_at)}",
            style="red" if item.expired else "dim",
        )
        out.print(line)


def answered(outcome: ApprovalOutcome) -> int:
    """The answer's outcome; returns the exit status (0 when it went through or was rejected)."""
    style = _OUTCOME_STYLE.get(outcome.status, "red")
    console().print(
        Text(f"{outcome.approval_id}: ", style="bold")
        + Text(outcome.status, style=f"bold {style}")
        + Text(f" — {outcome.message}")
    )
    return 0 if outcome.status in ("FILLED", "SUBMITTED", "REJECTED") else 1


# --- the audit log ------------------------------------------------------------------------------


def decision_lines(rows: Iterable[tuple[dict[str, Any], str]]) -> None:
    """One line per decision record and its outcome, each column as wide as its widest cell in
    the listing, or a note that none matched."""
    from signalops.explain.render import VERDICT_STYLE

    out = console()
    lines = [
        (r["as_of"], r["asset"], r["verdict"], outcome, r["strategy"]["name"], r["decision_id"])
        for r, outcome in rows
    ]
    if not lines:
        out.print("no decisions match")
        return
    width = [max(len(line[i]) for line in lines) for i in range(5)]
    for as_of, asset, verdict, outcome, strategy, decision_id in lines:
        line = Text(f"{as_of:<{width[0]}}  {asset:<{width[1]}}  ")
        line.append(f"{verdict:<{width[2]}}", style=f"bold {VERDICT_STYLE[verdict]}")
        line.append(f"  {outcome:<{width[3]}}")
        line.append(f"  {strategy:<{width[4]}}  {decision_id}", style="dim")
        out.print(line)


def verified(report: VerifyReport) -> int:
    """``ok`` with the count, or every problem and the verdict on stderr; the exit status."""
    err = console(stderr=True)
    if report.signed_by is not None and not report.macs_checked:
        err.print(
            f"note: signed log (key id {report.signed_by}): set SIGNALOPS_AUDIT_KEY to check "
            "its MACs and checkpoints",
            style="yellow",
        )
    if report.ok:
        signed = ", MACs and checkpoints valid" if report.macs_checked else ""
        out = console()
        out.print(
            Text("ok ", style="bold green")
            + Text(f"{count(report.checked, 'record')}, chain intact{signed}")
        )
        out.print(f"head seq {report.head_seq} {report.head_hash}", highlight=False)
        return 0
    for problem in report.problems:
        where = f"seq {problem.seq}" if problem.seq is not None else "chain"
        err.print(
            Text(f"{problem.kind.value} ", style="bold red") + Text(f"{where}: {problem.message}")
        )
    err.print(
        Text(
            f"audit log FAILED verification: {count(len(report.problems), 'problem')}",
            style="bold red",
        )
    )
    # The head it was checked against, failed or not: what a copy kept elsewhere (a witness,
    # a later run) is compared with, and what the problems above are relative to.
    console().print(f"head seq {report.head_seq} {report.head_hash}", highlight=False)
    return 1


def copied(result: Copied, source: object, target: str) -> None:
    """What ``audit copy`` moved, and the head both logs now end at."""
    from signalops.audit.interface import redacted

    out = console()
    out.print(
        Text("copied ", style="bold green")
        + Text(
            f"{count(result.records, 'record')}, "
            f"{count(result.strategies, 'strategy', 'strategies')}, "
            f"{count(result.trees, 'tree')}, {count(result.fills, 'paper fill')} "
            f"from {source} to {redacted(target)}"
        ),
        highlight=False,
    )
    if result.head is not None:
        out.print(f"head seq {result.head[0]} {result.head[1]}", highlight=False)


def untrusted(record: dict[str, Any], problems: Sequence[str]) -> int:
    """The loud warning under an explanation whose record does not verify; the exit status."""
    err = console(stderr=True)
    err.print(
        Text(
            f"WARNING: record seq {record.get('seq')} does not verify; do not trust the "
            "explanation above:",
            style="bold red",
        )
    )
    for problem in problems:
        err.print(Text(f"  - {problem}", style="red"))
    err.print("  run 'signalops audit verify' for the whole log", style="red")
    return 1


def replayed(results: Iterable[ReplayResult], *, each: bool = True, identical: int = 0) -> int:
    """Per decision whether it replays identically (``each``; else only the ones that differ,
    with the leaves that differ), then a count when there were several; the exit status.
    ``identical``: how many more replayed identically, counted apart (not in ``results``)."""
    out = console()
    differs = unverified = 0
    for result in results:
        if result.problems:
            # Replayed as it now reads: what it says under this line is not what was decided.
            unverified += 1
            line = Text("NOT VERIFIED ", style="bold red") + Text(result.decision_id)
            line.append(f"  seq {result.seq}: {'; '.join(result.problems)}")
            out.print(line, highlight=False)
        elif result.identical:
            identical += 1
        else:
            differs += 1
        if result.identical:
            if each and not result.problems:  # "identical" of an edited record reads as trust
                line = Text("identical ", style="bold green") + Text(result.decision_id)
                line.append(
                    f"  {result.replayed_verdict}  trace {_short(result.replayed_trace_hash)}"
                )
                out.print(line)
            continue
        line = Text("DIFFERS ", style="bold red") + Text(result.decision_id)
        line.append(f"  recorded {result.recorded_verdict}, replayed {result.replayed_verdict}")
        line.append(
            f"; trace {_short(result.recorded_trace_hash)} recorded, "
            f"{_short(result.replayed_trace_hash)} replayed"
        )
        out.print(line)
        for leaf in result.differing_leaves:
            out.print(Text(f"  node {leaf.node} {leaf.text}: {_changes(leaf)}", style="red"))
    total = identical + differs + unverified
    if total > 1 or not each:
        verdict = f"{count(total, 'decision')} replayed: {identical} identical"
        verdict += f", {differs} differ" if differs else ""
        verdict += f", {unverified} not verified" if unverified else ""
        out.print(Text(verdict, style="bold"))
    return 1 if differs or unverified else 0


def log_unverified(problems: int) -> None:
    """Under ``audit replay --all``: the log itself does not verify."""
    console(stderr=True).print(
        Text(
            f"WARNING: the log does not verify ({count(problems, 'problem')}); run "
            "'signalops audit verify'",
            style="bold red",
        ),
        highlight=False,
    )


def _short(digest: str) -> str:
    return digest[:19] + "…"


def _changes(leaf: LeafDifference) -> str:
    """``value 28.2 -> 31.5, status PASS -> FAIL``: each differing field, recorded -> replayed."""
    before, after = leaf.recorded or {}, leaf.replayed or {}
    shown = []
    for name in leaf.fields:
        old, new = before.get(name), after.get(name)
        if isinstance(old, dict | list) or isinstance(new, dict | list):
            shown.append(name)
        else:
            shown.append(f"{name} {old} -> {new}")
    return ", ".join(shown)


def dashboard_started(url: str, mode: str, audit: str | Path) -> None:
    console(stderr=True).print(
        Text(f"dashboard on {url} ", style="bold")
        + Text(f"({mode}; audit log {audit})", style="dim")
    )


# --- backtests and sweeps -----------------------------------------------------------------------


def backtest(study: Study, out_dir: Path) -> None:
    from rich import box
    from rich.table import Table

    from signalops.backtest.report import (
        columns,
        filter_lines,
        method_lines,
        metric_rows,
        title,
        told,
    )

    for note in told(study):  # read before the report was published
        console(stderr=True).print(f"note: {note}", style="yellow", highlight=False)
    out = console()
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


def _table() -> Table:
    from rich import box
    from rich.table import Table

    return Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)


def _print_wide(out: Console, table: Table) -> None:
    """As wide as the table needs (one line per row, nothing truncated), even when piped."""
    from rich.measure import Measurement

    needed = Measurement.get(out, out.options.update_width(10_000), table).maximum
    Console(soft_wrap=True, highlight=False, width=max(out.width, needed)).print(table)


def plain_table(columns: Sequence[str], rows: Iterable[Sequence[str]], left: int = 1) -> None:
    """A table as ``sweep`` draws one: as wide as it needs, one line per row; the first ``left``
    columns left-aligned, the rest right-aligned."""
    table = _table()
    for i, name in enumerate(columns):
        table.add_column(name, justify="left" if i < left else "right")
    for row in rows:
        table.add_row(*row)
    _print_wide(console(), table)


# Under a sweep's or walk-forward's table: how the screen trades, so its trades and win rate
# differing from the backtest's are not a surprise.
SCREEN_FOOTER = (
    "fast screen: one all-in entry per signal, sold at the next SELL (the backtest buys "
    "position_size at every BUY, up to max_position), no risk gate; confirm with signalops "
    "backtest"
)


def sweep(
    heading: str, grid: Iterable[str], rows: Sequence[SweepRow], notes: Sequence[str] = ()
) -> None:
    """An asset's screen, best first, with ``notes`` under it (of data the period does not
    cover, as a backtest says them); nothing when every parameter set failed (the failures
    say so)."""
    from signalops.backtest.sweep import format_value

    if not rows:
        return
    names = list(grid)
    out = console()
    out.print(Text(heading, style="bold"))
    table = _table()
    for name in names:
        table.add_column(name, justify="right")
    for name in ("return", "max DD", "trades", "win rate", "exposure", "blocked bars"):
        table.add_column(name, justify="right")
    for row in rows:
        rate = row.win_rate.rate
        trades = str(row.closed_trades) + (" +1 open" if row.open_trade else "")
        table.add_row(
            *(format_value(row.params[name]) for name in names),
            numbers.percent(row.total_return, signed=True),
            f"{row.max_drawdown:.2%}",
            trades,
            "—" if rate is None else f"{rate:.0%}",
            f"{row.exposure:.1%}",
            str(row.blocked),
        )
    _print_wide(out, table)
    for note in [*notes, *_always_unknown(rows)]:
        out.print(f"note: {note}", markup=False, highlight=False)
    out.print(SCREEN_FOOTER)


def _always_unknown(rows: Sequence[SweepRow]) -> list[str]:
    """A line for each condition UNKNOWN at every decision, with the rows it was (``every
    combination``, else each row's values, in the table's order): a row of 0 trades and
    blocked bars would not say that its data is missing."""
    from signalops.backtest.sweep import format_value

    found: dict[AlwaysUnknown, list[str]] = {}
    for row in rows:
        given = ", ".join(f"{name}={format_value(v)}" for name, v in row.params.items())
        for unknown in row.unknown:
            found.setdefault(unknown, []).append(given)
    return [
        f"{'every combination' if len(given) == len(rows) > 1 else '; '.join(given)}: {unknown}"
        for unknown, given in found.items()
    ]


def progress(err: Console) -> AbstractContextManager[ProgressUpdate | None]:
    """A progress bar per run (strategy, baseline) on a terminal; nothing when piped."""
    return _ProgressBars(err) if err.is_terminal else nullcontext(None)


def status(out: Console, message: str) -> AbstractContextManager[Any]:
    """A spinner on a terminal; nothing when piped."""
    return out.status(message) if out.is_terminal else nullcontext()


class _ProgressBars:
    """``with`` gives ``update(label, done, total)``; one bar per label, gone when done."""

    def __init__(self, err: Console) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskID,
            TextColumn,
            TimeElapsedColumn,
        )

        self.bars = Progress(
            TextColumn("{task.description:<9}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        )
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> ProgressUpdate:
        self.bars.start()
        return self.update

    def __exit__(self, *exc: object) -> None:
        self.bars.stop()

    def update(self, label: str, done: int, total: int) -> None:
        if label not in self.tasks:
            self.tasks[label] = self.bars.add_task(label, total=total)
        self.bars.update(self.tasks[label], completed=done)


def warnings(messages: Iterable[str]) -> None:
    """``warning: ...`` on stderr: a problem that does not make the input invalid."""
    err = console(stderr=True)
    for message in messages:
        err.print(Text("warning: ", style="bold yellow") + Text(message))


# --- downloads ---------------------------------------------------------------------------------

if TYPE_CHECKING:
    from signalops.adapters.download import Downloaded, Gap

_SHOWN_GAPS = 5


def downloaded(results: Iterable[Downloaded]) -> None:
    """One line per series a download wrote to: new points, the times they span, any gaps."""
    out = console()
    for result in results:
        line = Text(f"{result.source} {result.series}: ", style="bold")
        line.append(f"{result.new_points:,} new {'point' if result.new_points == 1 else 'points'}")
        if result.first is not None and result.last is not None:
            line.append(f" ({_minute(result.first)} → {_minute(result.last)})")
        if result.gaps:
            line.append(f", {count(len(result.gaps), 'gap')}: ", style="yellow")
            line.append(_gap_list(result.gaps), style="yellow")
        out.print(line)


def _gap_list(gaps: Sequence[Gap]) -> str:
    shown = [f"{_minute(g.first_missing_close)} ({count(g.missing, 'bar')})" for g in gaps]
    more = len(shown) - _SHOWN_GAPS
    return ", ".join(shown[:_SHOWN_GAPS]) + (f" and {more} more" if more > 0 else "")


def _minute(epoch: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M")
