"""Reading the audit log: decisions, why, audit verify, audit replay, audit export, audit copy.

Every command here but ``audit copy`` (which writes a new log) only reads: the log must exist,
and is opened read-only (``open_audit(create=False)``), so a typo in ``--audit`` is an error,
not a new empty log. Only the log is opened: no paper ledger, and no config unless it is what
names the log.
"""

from __future__ import annotations

import os
import secrets
import shlex
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from signalops.cli import output
from signalops.cli.params import (
    AUDIT_OPTION,
    CONFIG_OPTION,
    RUNNER_OPTION,
    parse_bound,
    parse_bounds,
)
from signalops.errors import InputError

if TYPE_CHECKING:
    from signalops.audit.interface import AuditStore
    from signalops.audit.replay import ReplayResult

# = the values of ``signalops.evaluation.tree.Verdict`` (a test holds them equal), spelled out
# so that declaring the option does not import the evaluator.
VERDICTS = ("BUY", "SELL", "HOLD", "BLOCKED")


def _reader(audit_file: str | None, config_file: Path | None = None) -> AuditStore:
    from signalops.workspace import open_audit

    log = open_audit(audit_file, create=False, config=config_file)
    # Closed as the command ends: closing a reader takes away the -wal and -shm files that
    # SQLite made when it opened the log (a look at a log leaves its folder as it was).
    click.get_current_context().call_on_close(log.close)
    return log


@click.command("decisions")
@click.option("--asset", help="Only this asset's decisions (btc finds BTC).")
@click.option(
    "--strategy", help="Only this strategy's decisions (name in any case, or sha256: hash)."
)
@click.option(
    "--verdict",
    type=click.Choice(VERDICTS, case_sensitive=False),
    help="Only this verdict: what the strategy decided. The column after it is what came of "
    "that: DENIED by the risk gate, or the order's state (FILLED, NOT_EXECUTED, ...).",
)
@click.option("--since", help="Earliest decision time (date or ISO time).")
@click.option("--until", help="Latest decision time (date or ISO time).")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Show at most this many, newest first.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the full records as JSON lines.")
@AUDIT_OPTION
@CONFIG_OPTION
def decisions_command(
    asset: str | None,
    strategy: str | None,
    verdict: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    as_json: bool,
    audit_file: str | None,
    config_file: Path | None,
) -> None:
    """List recorded decisions, newest first: traded, blocked, held or denied.

    \b
    Example:
      signalops decisions --asset BTC --verdict BLOCKED --since 2023-03-01
    """
    from signalops.audit import why

    first, last = parse_bounds(since, until)
    log = _reader(audit_file, config_file)

    def find(name: str | None, by: str | None) -> list[dict[str, Any]]:
        wanted = verdict.upper() if verdict else None
        # One more than shown: whether the list is cut (a count would read every match).
        return log.decisions(
            asset=name, strategy=by, verdict=wanted, since=first, until=last, limit=limit + 1
        )

    records = find(asset, strategy)
    if not records and (asset, strategy) != (logged := _as_logged(log, asset, strategy)):
        records = find(*logged)
    more = len(records) > limit
    records = records[:limit]
    hint = None if records or as_json else _strategy_hint(log, strategy) or _asset_hint(log, asset)
    if hint:
        output.console().print(f"no decisions match: {hint}", markup=False, highlight=False)
        return
    cut = (
        f"the newest {limit:,} shown; more match (--limit N shows N; --since, --until, "
        "--verdict, --asset or --strategy narrow them)"
    )
    if as_json:
        for record in records:
            # Keys sorted: the same bytes whichever layout or backend stored the record.
            output.json_out(dict(sorted(record.items())), indent=None)
        if more:  # stdout stays JSON lines
            output.console(stderr=True).print(f"note: {cut}", markup=False, highlight=False)
        return
    output.decision_lines(
        (record, why.outcome(record, log.followups(record["decision_id"]))) for record in records
    )
    if more:
        output.console().print(cut, markup=False, highlight=False)


@click.command("why")
@click.argument("ref")
@click.option("--at", help="With an asset: the date or time to explain (e.g. 2024-11-06).")
@click.option("--strategy", help="With an asset: only this strategy's decision (name or hash).")
@click.option("--json", "as_json", is_flag=True, help="Print the record and follow-ups as JSON.")
@AUDIT_OPTION
@CONFIG_OPTION
def why_command(
    ref: str,
    at: str | None,
    strategy: str | None,
    as_json: bool,
    audit_file: str | None,
    config_file: Path | None,
) -> None:
    """Explain decisions from their audit records: the tree, values, vetoes, risk and outcome.

    With an asset and --at, every strategy's decision on it at that time, grouped by strategy
    (--strategy NAME: only that one's).

    \b
    Examples:
      signalops why BTC --at 2024-11-06      why did it (not) trade BTC that day?
      signalops why BTC --at 2024-11-06 --strategy Banking_Crisis_Dip
      signalops why dec-06b9f3bcf8279e462f0c49f6
      signalops why apv-06b9f3bcf8279e462f0c49f6      (an approval: its decision)
    """
    when = parse_bound(at) if at else None
    approval = ref if ref.startswith("apv-") else None
    if approval is not None:  # an approval asks about its decision (notify.approval_id)
        ref = "dec-" + ref.removeprefix("apv-")
    if not ref.startswith("dec-") and when is None:
        raise InputError("give a decision id, or an asset with --at DATE")
    if ref.startswith("dec-") and strategy is not None:
        raise InputError("--strategy goes with an asset and --at, not a decision id")
    from signalops.audit import why

    log = _reader(audit_file, config_file)
    if when is None:
        found = why.find_decision(log, ref)
        if approval is not None and not _asked_for(found, approval):
            raise InputError(_no_approval(approval, found, log))
        records = [] if found is None else [found]
    else:
        records = why.find_decisions(log, ref, when, strategy=strategy)
        if not records and (ref, strategy) != (logged := _as_logged(log, ref, strategy)):
            ref, strategy = logged[0] or ref, logged[1]
            records = why.find_decisions(log, ref, when, strategy=strategy)
    if not records:
        by = f" by {strategy}" if strategy is not None else ""
        at_text = f" at {at}" if at else ""
        hint = _strategy_hint(log, strategy) or (None if when is None else _asset_hint(log, ref))
        if hint is None and when is not None:  # a weekend, a holiday, past a backtest's end
            hint = why.nearest_text(*why.nearest_days(log, ref, when, strategy=strategy))
        told = f": {hint}" if hint else ""
        raise InputError(f"no decision for {ref}{at_text}{by} in {log.path}{told}")
    stories = [(record, log.followups(record["decision_id"])) for record in records]
    # The decision and every follow-up shown under it (a forged approval or a re-sealed fill
    # changes the story as much as an edited decision): each checked as ``verify`` would.
    untrusted = [
        (item, wrong) for story in stories for item, wrong in _checked(log, *story) if wrong
    ]
    if as_json:
        shown = why.why_json_grouped(stories)
        flagged = [p for _, wrong in untrusted for p in wrong]
        output.json_out({**shown, "integrity_problems": flagged} if flagged else shown)
    else:
        output.lines(why.why_grouped(stories))
        if isinstance(when, date) and not isinstance(when, datetime):
            _others_that_day(log, ref, when, strategy, len(records))
    for item, wrong in untrusted:
        output.untrusted(item, wrong)
    if untrusted:
        sys.exit(1)


def _asked_for(decision: dict[str, Any] | None, approval: str) -> bool:
    """Whether ``decision`` waited for the approval ``approval`` (its id is derived from the
    decision's, so any decision id has an approval id's twin that names nothing)."""
    execution = (decision or {}).get("execution") or {}
    return bool(execution.get("approval_id") == approval)


def _no_approval(approval: str, decision: dict[str, Any] | None, log: AuditStore) -> str:
    said = f"{approval} is an approval id, and no approval with that id exists in {log.path}"
    if decision is None:
        return said
    return f"{said} (decision {decision['decision_id']} waited for none)"


def _as_logged(
    log: AuditStore, asset: str | None, strategy: str | None
) -> tuple[str | None, str | None]:
    """``asset`` and the ``strategy`` name as the log spells them (``_logged``); a strategy's
    ``sha256:`` hash as given (a hash matches exactly)."""
    if asset is not None:
        asset = _logged(log, "asset", asset)
    if strategy is not None and not strategy.startswith("sha256:"):
        strategy = _logged(log, "strategy", strategy)
    return asset, strategy


def _logged(log: AuditStore, column: str, value: str) -> str:
    """``value`` as the log spells it in ``column``: ``btc`` is the log's ``BTC``, and
    ``weighted_sources`` its ``Weighted_Sources``, when the log holds no ``value`` and one in
    another case (one read of the column's distinct values' index); else ``value`` as given."""
    from signalops.audit.queries import decision_values
    from signalops.textmatch import spelled

    return spelled(value, decision_values(log, column))


def _strategy_hint(log: AuditStore, strategy: str | None) -> str | None:
    """For a strategy name the log has no decision of in any case: that, and the logged name
    it most likely means (``textmatch.closest``), else the names it has; None for a hash, a
    name ``_logged`` finds, or a log with no strategy at all."""
    if strategy is None or strategy.startswith("sha256:"):
        return None
    return _name_hint(log, "strategy", strategy)


def _asset_hint(log: AuditStore, asset: str | None) -> str | None:
    """``_strategy_hint`` for an asset (``BTCC``: did you mean 'BTC'?)."""
    return None if asset is None else _name_hint(log, "asset", asset)


def _name_hint(log: AuditStore, column: str, value: str) -> str | None:
    from signalops.audit.queries import decision_values
    from signalops.textmatch import closest, spelled

    known = decision_values(log, column)
    if spelled(value, known) in known:
        return None
    meant = closest(value, known)
    if meant is not None:
        return f"the log has no {column} {value} (did you mean '{meant}'?)"
    if not known:
        return None
    names = sorted(known)
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    plural = "assets" if column == "asset" else "strategies"
    return f"the log has no {column} {value} (its {plural}: {shown})"


def _others_that_day(
    log: AuditStore, asset: str, day: date, strategy: str | None, shown: int
) -> None:
    """One line under ``why ASSET --at DAY`` when that day holds more decisions than the
    latest ones shown (an hourly log has 24): how many, and the command listing them."""
    others = len(log.decisions(asset=asset, strategy=strategy, since=day, until=day, limit=None))
    others -= shown
    if others <= 0:
        return
    by = f" --strategy {shlex.quote(strategy)}" if strategy is not None else ""
    listing = f"signalops decisions --asset {shlex.quote(asset)}{by} --since {day} --until {day}"
    noun = "decision" if others == 1 else "decisions"
    line = f"({others} earlier {noun} on {day}: {listing})"
    output.console().print(line, markup=False, highlight=False)


def _checked(
    log: AuditStore, record: dict[str, Any], followups: list[dict[str, Any]]
) -> list[tuple[dict[str, Any], list[str]]]:
    """``(record, why it cannot be trusted)`` for a decision and each of its follow-ups; a
    follow-up's problems name it (its kind and id), as the explanation shows it by kind."""
    from signalops.audit.verify import check_record

    checked = [(record, check_record(log, record))]
    for followup in followups:
        name = f"the {followup.get('kind')} {followup.get('id')}"
        checked.append((followup, [f"{name}: {p}" for p in check_record(log, followup)]))
    return checked


@click.group("audit")
def audit_group() -> None:
    """Check and export the audit log."""


@audit_group.command("verify")
@AUDIT_OPTION
def audit_verify(audit_file: str | None) -> None:
    """Recompute every hash and link; say which record was edited, deleted or reordered.

    Exits 0 when the chain is intact, 1 otherwise.

    \b
    Examples:
      signalops audit verify
      signalops audit verify --audit reports/banking_crisis_dip/backtest.db
    """
    from signalops.audit.verify import verify

    log = _reader(audit_file)
    with output.progress(output.console(stderr=True)) as bar:
        report = verify(log, progress=_bar(bar, "verify"))
    for note in report.notes:  # what could not be checked, e.g. an account no fill pins yet
        output.console(stderr=True).print(f"note: {note}", style="yellow", highlight=False)
    sys.exit(output.verified(report))


@audit_group.command("replay")
@click.argument("decision_ids", nargs=-1, metavar="[DECISION_ID]...")
@click.option("--all", "every", is_flag=True, help="Replay every decision in the log.")
@AUDIT_OPTION
def audit_replay(decision_ids: tuple[str, ...], every: bool, audit_file: str | None) -> None:
    """Re-evaluate decisions from their records alone; say whether each comes out identical.

    A replay compiles the strategy document the log stored for the decision's content hash and
    evaluates it on the observations the record kept, at the record's as_of: nothing is fetched
    and no file is read. It prints, per decision, whether the verdict and the trace hash are the
    ones recorded, and for a difference which conditions differ and in which fields (with --all,
    only the decisions that differ, then the count). A decision whose record does not verify
    (edited since it was sealed) is NOT VERIFIED, whatever its replay says: it replays as it
    now reads. Exits 1 when any decision differs or does not verify (with --all, when anything
    in the log does not).

    \b
    Examples:
      signalops audit replay dec-06b9f3bcf8279e462f0c49f6
      signalops audit replay --all --audit reports/banking_crisis_dip/backtest.db
    """
    from signalops.audit.replay import problems_by_seq, replay, replay_all
    from signalops.audit.verify import verify

    if bool(decision_ids) == every:
        raise InputError("give decision ids, or --all (not both)")
    log = _reader(audit_file)
    if not every:
        sys.exit(output.replayed(replay(log, ref) for ref in decision_ids))
    # Nothing is printed while the bars are drawn (their redraws would overwrite it): the
    # results to show are kept, the identical ones counted, and all printed once they are gone.
    shown, identical = [], 0
    with output.progress(output.console(stderr=True)) as bar:
        report = verify(log, progress=_bar(bar, "verify"))
        results = replay_all(log, problems=problems_by_seq(report))
        for result in _replaying(results, _bar(bar, "replay"), report.head_seq):
            if result.identical and not result.problems:
                identical += 1
            else:
                shown.append(result)
    status = output.replayed(shown, each=False, identical=identical)
    if not report.ok:
        output.log_unverified(len(report.problems))
    sys.exit(1 if not report.ok else status)


def _bar(bar: output.ProgressUpdate | None, label: str) -> Callable[[int, int], None] | None:
    """``bar``'s ``label`` line, told (done, total); None without a bar (not a terminal)."""
    if bar is None:
        return None
    return lambda done, total: bar(label, done, total)


def _replaying(
    results: Iterable[ReplayResult], progress: Callable[[int, int], None] | None, head: int
) -> Iterator[ReplayResult]:
    """``results``, telling ``progress`` each one's seq of the log's ``head``."""
    for result in results:
        if progress is not None and result.seq is not None:
            progress(result.seq, head)
        yield result


@audit_group.command("export")
@click.argument("target", type=click.Path(path_type=Path, allow_dash=True))
@click.option("--force", is_flag=True, help="Replace TARGET if it exists (never the log itself).")
@AUDIT_OPTION
def audit_export(target: Path, force: bool, audit_file: str | None) -> None:
    """Write every record as JSON Lines (each line verifies on its own).

    TARGET is a new file (an existing one is replaced only with --force, and never one of the
    log's own files), written beside it under a temporary name and renamed when whole, or -
    for stdout (the count then goes to stderr).

    \b
    Examples:
      signalops audit export audit-2026.jsonl
      signalops audit export - | jq -c 'select(.kind == "fill")'
    """
    log = _reader(audit_file)
    to_stdout = _is_stdout(target)
    _refuse_the_log(log, target, to_stdout)
    if not to_stdout and target.is_file() and not force:
        raise InputError(f"{target}: already exists; export into a new file, or pass --force")
    written = log.export_jsonl(sys.stdout) if to_stdout else _export_file(log, target)
    where = "stdout" if str(target) == "-" else str(target)
    # On stdout the JSON Lines are the output: the count must not become one of them.
    output.console(stderr=to_stdout).print(f"{output.count(written, 'record')} written to {where}")


def _is_stdout(target: Path) -> bool:
    """``-``, or a name of this process's standard output (/dev/stdout, or the file it is
    redirected to), which is written through, never replaced by a renamed file."""
    if str(target) == "-":
        return True
    try:
        return os.path.samestat(os.stat(target), os.fstat(sys.stdout.fileno()))
    except (OSError, ValueError):  # no such file, or a stdout without a descriptor (captured)
        return False


def _export_file(log: AuditStore, target: Path) -> int:
    """Written beside ``target`` under a temporary name and renamed when whole: an export that
    stops half way (a damaged record, a full disk, Ctrl-C) leaves neither ``target`` nor a part
    of it. An error names ``target``, not the temporary file."""
    try:
        if target.exists() and not target.is_file():  # a device or a pipe: written through
            with open(target, "w", encoding="utf-8", newline="\n") as file:
                return log.export_jsonl(file)
        return _export_whole(log, target)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(target)) from exc


def _export_whole(log: AuditStore, target: Path) -> int:
    # A name of its own (two exports to one target do not share it), made with the mode a new
    # file gets (0o666 less the umask, as open() would).
    partial = target.with_name(f"{target.name}.{secrets.token_hex(4)}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with open(descriptor, "w", encoding="utf-8", newline="\n") as file:
            written = log.export_jsonl(file)
            file.flush()
            os.fsync(file.fileno())  # the contents are on disk before the name is
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return written


def _refuse_the_log(log: AuditStore, target: Path, to_stdout: bool) -> None:
    """Writing onto the log, or its WAL, shared memory, checkpoints or runner lock, destroys it,
    --force or not: a name, a symlink or a hard link of one of them (or stdout redirected into
    one) is refused."""
    if not isinstance(log.path, Path):  # PostgreSQL: no file of the log to write onto
        return
    from signalops.audit.files import file_of_log

    try:
        descriptor = sys.stdout.fileno() if to_stdout else None
    except (OSError, ValueError):  # a stdout without a descriptor is no file of the log
        return
    hit = file_of_log(log.path, target, descriptor=descriptor)
    if hit is None:
        return
    shown = "stdout" if str(target) == "-" else str(target)
    what = "the audit log" if hit == log.path else f"a file of the audit log {log.path}"
    raise InputError(f"{shown}: is {what} being exported; export into a new file")


@audit_group.command("copy")
@click.argument("source", metavar="SRC")
@click.argument("target", metavar="DST")
@RUNNER_OPTION
def audit_copy(source: str, target: str, runner: str | None) -> None:
    """Copy a log into a new one with its hash chain intact: SQLite or PostgreSQL, either way.

    SRC and DST are SQLite files or postgresql:// URLs. DST must be a new file or an empty
    database. Strategy documents, trees, every record and the paper ledger are copied in one
    transaction; each record gets back its own hash, and the copy is refused (nothing written)
    unless its head equals the source's, so an edited or truncated source is never copied. Into
    PostgreSQL, the records carry --runner as their runner.

    \b
    Examples:
      signalops audit copy signalops.db postgresql://signalops@db.example/signalops
      signalops audit copy postgresql://signalops@db.example/signalops archive-2026.db
    """
    from signalops.audit.copy import copy_into
    from signalops.audit.interface import open_log

    with open_log(source, create=False) as log, output.progress(output.console(True)) as bar:
        total = log.count()

        def progress(done: int) -> None:
            if bar is not None:
                bar("copy", done, total)

        copied = copy_into(log, target, runner=runner, progress=progress)
    output.copied(copied, log.path, target)
