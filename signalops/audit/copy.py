"""``signalops audit copy SRC DST``: a log moved between backends (or files) with its chain intact.

Everything a log holds goes, in one transaction of the target: the stored strategy documents
and trees, every record, and the paper ledger (its account and fills, which ``verify`` checks
against the fill records). Each record is sealed again at its own seq after its own
predecessor, which gives back its hash exactly (a hash is a function of the record, its seq and
the previous hash), and the new head must equal the source's: the last hash commits to every
record before it, so equal heads mean an identical chain. A source with a gap, an edit or a
record past its head cannot give that head, and then nothing is written; and a source that
does not verify (an edited ledger row or strategy document, which the head does not cover) is
refused before anything is written.

The target must be empty (a new file, or a new database). A signed source (issue 11's record
MACs) is copied only into a log that signs with the same key: MACs are never dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signalops.audit import files
from signalops.audit.chain import SEALED_FIELDS
from signalops.audit.interface import AuditStore, is_postgres_url, open_log, sqlite_file
from signalops.errors import AuditError, AuditIntegrityError, InputError

Progress = Callable[[int], None]
_EVERY = 10_000  # records between progress calls


@dataclass(frozen=True, slots=True)
class Copied:
    """What one copy moved."""

    records: int
    strategies: int
    trees: int
    fills: int
    head: tuple[int, str] | None


def copy_into(
    source: AuditStore,
    where: str | Path,
    *,
    runner: str | None = None,
    progress: Progress | None = None,
) -> Copied:
    """Copy ``source`` into a new log at ``where``: an empty PostgreSQL database, or a SQLite
    file that must not exist yet (written as ``.partial`` and named when whole)."""
    if is_postgres_url(where):
        with open_log(where, create=True, runner=runner) as target:
            return copy_log(source, target, progress)
    path = sqlite_file(where)
    if path.exists():
        raise InputError(f"{path}: already exists; copy into a new file")
    writing = files.partial_of(path)
    files.remove(writing)  # what an earlier, interrupted copy left
    try:
        with open_log(writing, create=True) as target:
            copied = copy_log(source, target, progress)
    except BaseException:
        files.remove(writing)
        raise
    files.publish(writing, path)
    return copied


def copy_log(source: AuditStore, target: AuditStore, progress: Progress | None = None) -> Copied:
    """Copy ``source`` into the empty ``target`` (see the module doc); what was copied."""
    _check_signing(source, target)
    with target.transaction(), source.snapshot():
        if target.head() is not None or target.count():
            raise AuditError(f"{target.path}: not empty; copy into a new file or database")
        _check_source(source)
        strategies, trees = source.stored_strategies(), source.stored_trees()
        target.keep_documents(strategies, trees)
        records = target.append_many(_unsealed(source, progress))
        fills = _copy_ledger(source, target)
        if target.head() != source.head():
            raise AuditIntegrityError(
                f"{source.path}: its chain does not re-seal to its head {source.head()} "
                "(a record edited, missing or after the head): nothing copied; "
                "`signalops audit verify` lists every problem"
            )
    return Copied(records, len(strategies), len(trees), fills, source.head())


def _check_source(source: AuditStore) -> None:
    """Refuse a source that does not verify: the head check covers the records only, not the
    paper ledger or the stored strategy documents, which are copied as they are."""
    from signalops.audit.verify import verify

    report = verify(source)
    if report.ok:
        return
    first = report.problems[0]
    where = f"seq {first.seq}" if first.seq is not None else "chain"
    more = "" if len(report.problems) == 1 else f"; {len(report.problems) - 1} more"
    raise AuditIntegrityError(
        f"{source.path}: does not verify ({first.kind.value} {where}: {first.message}{more}): "
        "nothing copied; `signalops audit verify` lists every problem"
    )


def _check_signing(source: AuditStore, target: AuditStore) -> None:
    signed_by = source.signed_by()
    if signed_by is None:
        return
    key = target.key
    if key is None or key.id != signed_by:
        raise AuditError(
            f"{source.path}: signed with key id {signed_by}; its record MACs can only go to a "
            "SQLite log signing with that key (SIGNALOPS_AUDIT_KEY), not dropped"
        )


def _unsealed(source: AuditStore, progress: Progress | None) -> Iterator[dict[str, Any]]:
    copied = 0
    for record in source.records():
        yield {key: value for key, value in record.items() if key not in SEALED_FIELDS}
        copied += 1
        if progress is not None and copied % _EVERY == 0:
            progress(copied)
    if progress is not None:
        progress(copied)


def _copy_ledger(source: AuditStore, target: AuditStore) -> int:
    """The paper account and fills, in ledger order (inside the target's transaction)."""
    given = source.paper_ledger()
    if not given.exists():
        return 0
    account = given.account()
    rows = given.fills_after(0)
    if account is None and not rows:
        return 0
    ledger = target.paper_ledger()
    ledger.create()
    if account is not None:
        ledger.open_account(*account)
    for row in rows:
        ledger.insert_fill(tuple(row[1:]))
    return len(rows)


__all__ = ["Copied", "copy_into", "copy_log"]
