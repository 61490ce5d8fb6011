"""Check an audit log: every record intact, every link in place, nothing missing or moved.

What each problem kind means (rows are read in the order of their ``seq`` column):

EDITED     a record's body no longer matches its own hash; or an indexed column disagrees
           with the body (e.g. ``verdict`` changed by SQL, so filters lie); or a record was
           edited and *re-sealed* (its hash recomputed): it is then self-consistent, but the next
           record's ``prev_hash`` still names the old hash, so the problem names the re-sealed
           record (the chain cannot tell "edited and re-sealed" from "replaced by another
           record", which is the same thing to an auditor). A re-sealed *last* record is caught
           by the chain head, which still holds the old hash.
DELETED    a sealed seq number is missing: a gap between two records (the problem names the
           missing seq and the record after the gap, whose ``prev_hash`` points at nothing), or
           records missing at the end: the chain alone cannot show that (a truncated chain is
           a valid chain), so the store keeps a ``chain_head`` row written with every append.
           A missing ``chain_head`` with records present is reported too.
REORDERED  a record is stored at a position other than the seq it was sealed with (swapped or
           renumbered rows), or its ``prev_hash`` names a record that exists but is not its
           predecessor.
INSERTED   records after the chain head: sealed and linked, but not written by
           ``AuditLog.append`` (which moves the head in the same transaction); or before
           seq 1, the chain's first, where no walk reads them and lookups and filters do
           (``storage_problems``, whole or from ``since``).

With the key (``SIGNALOPS_AUDIT_KEY``; ``signalops.audit.signing``), which no one without it can
satisfy:

FORGED     a record without a valid MAC: appended by someone without the key (with the head
           moved, so the chain alone looks fine), or edited and re-sealed.
TRUNCATED  a signed checkpoint names a seq past the end of the log: the tail was cut (and the
           head rewritten to match).
REWRITTEN  a signed checkpoint names a hash that the record at its seq no longer has.
CHECKPOINT the checkpoint file is missing, or holds a line that is not a valid checkpoint; or
           (to a check that goes on from an earlier one, ``checkpoints_from``) it no longer
           holds the last checkpoint that one read: cut, or put back from an older copy.
UNSIGNED   the key is given but the log holds no MACs (written without it, or stripped).

Without the key, a signed log's checkpoint file is still read: a checkpoint naming a seq past
the end of the log, or a hash the record at its seq no longer has, is TRUNCATED or REWRITTEN as
above, saying that the checkpoint's own MAC could not be checked; a line that is not a
checkpoint, or a file that is missing or holds none, is CHECKPOINT as above. A checkpoint line
anyone could have written can only raise an alarm, never hide one: a cut tail is not reported
"ok" because the key was not at hand (nor because the checkpoint file went with it).

Without the key, against the rest of the file:

LEDGER     a paper-ledger row that no fill record states, one that differs from it (side,
           asset, quantity, price, fee), or a stated paper fill with no row; a paper account
           (starting cash, quote) that does not give the account's cash each paper fill's
           record states, or is in another currency (``signalops.audit.witnesses``). A log
           whose records state no fill yet cannot pin its account: the report's ``notes``
           say so.
STRATEGY   a stored strategy document that no longer hashes to its content hash, or a hash a
           decision cites that is not stored; a stored tree (what compact decisions are
           re-derived from) that does not hash to its key or is not what its strategy document
           compiles to, or a tree a decision cites that is not stored.

``verify`` never raises for what it finds: it returns a ``VerifyReport``. ``strict=True`` is the
convenience that raises ``AuditIntegrityError`` when the report is not ok.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from signalops.audit import witnesses
from signalops.audit.chain import GENESIS, check
from signalops.audit.interface import AuditStore
from signalops.audit.layout import Stored
from signalops.audit.record import FILL, loads_record
from signalops.audit.signing import (
    CHECKPOINT_SUFFIX,
    KEY_ENV,
    Checkpoint,
    CheckpointReading,
    SigningKey,
    Tail,
)
from signalops.canonical import content_hash
from signalops.errors import AuditIntegrityError

# Looking up which record a stray prev_hash names is a scan; on a badly broken log, stop asking
# after this many and report the remaining breaks without the lookup.
_MAX_HASH_LOOKUPS = 100


class ProblemKind(StrEnum):
    EDITED = "EDITED"
    DELETED = "DELETED"
    REORDERED = "REORDERED"
    INSERTED = "INSERTED"
    FORGED = "FORGED"
    TRUNCATED = "TRUNCATED"
    REWRITTEN = "REWRITTEN"
    CHECKPOINT = "CHECKPOINT"
    UNSIGNED = "UNSIGNED"
    LEDGER = "LEDGER"
    STRATEGY = "STRATEGY"


@dataclass(frozen=True)
class Problem:
    """One thing wrong, at one place: ``seq`` and ``id`` are None only when nothing is there."""

    kind: ProblemKind
    seq: int | None
    id: str | None
    message: str

    def __str__(self) -> str:
        where = f"seq {self.seq}" if self.seq is not None else "log"
        if self.id:
            where += f" ({self.id})"
        return f"{self.kind}: {where}: {self.message}"


@dataclass(frozen=True)
class VerifyReport:
    """``checked`` rows read; ``head_seq``/``head_hash`` are the chain head that was checked
    against (worth keeping elsewhere: it pins down the whole log)."""

    ok: bool
    checked: int
    problems: tuple[Problem, ...]
    head_seq: int
    head_hash: str
    signed_by: str | None = None  # the key id of a signed log
    macs_checked: bool = False  # whether the key was there to check its MACs and checkpoints
    notes: tuple[str, ...] = ()  # what could not be checked (not problems)
    # Where the paper-ledger comparison ended, when it ran and found nothing (``ledger_from``).
    ledger: witnesses.Compared | None = None
    # Where the reading of a signed log's checkpoint file ended, when nothing was found
    # (``checkpoints_from``).
    checkpoints: CheckpointsRead | None = None

    def __str__(self) -> str:
        if self.ok:
            return f"ok: {self.checked} records, head seq {self.head_seq} {self.head_hash}"
        lines = [f"{len(self.problems)} problems in {self.checked} records:"]
        lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)


@dataclass(frozen=True)
class CheckpointsRead:
    """Where a reading of a signed log's checkpoint file that found nothing wrong ended: its
    lines up to ``tail`` (``signing.CheckpointReading``; None: read it whole next time), read
    with the key ``key_id`` (None: their MACs unchecked) against the log up to seq ``seq``;
    ``found`` checkpoints among them, the last of them ``last``."""

    path: Path
    key_id: str | None
    seq: int
    tail: Tail | None
    found: int
    last: Checkpoint | None


@dataclass(frozen=True)
class _Seen:
    """The previous row in storage order, as far as the chain is concerned."""

    seq: int  # the seq it was sealed with
    id: str | None
    hash: str | None  # its stated hash; None when its body was unreadable


class _Gaps:
    """Sealed seq numbers not seen (yet): ranges, so a huge jump costs nothing."""

    def __init__(self) -> None:
        self.ranges: list[tuple[int, int, int, str | None]] = []  # lo, hi, next seq, next id

    def add(self, lo: int, hi: int, next_seq: int, next_id: str | None) -> None:
        self.ranges.append((lo, hi, next_seq, next_id))

    def fill(self, seq: int) -> bool:
        """Take ``seq`` out of the gaps; whether it was in one."""
        for i, (lo, hi, nseq, nid) in enumerate(self.ranges):
            if lo <= seq <= hi:
                parts = [(lo, seq - 1, nseq, nid), (seq + 1, hi, nseq, nid)]
                self.ranges[i : i + 1] = [p for p in parts if p[0] <= p[1]]
                return True
        return False


def _seqs(lo: int, hi: int) -> str:
    return f"seq {lo}" if lo == hi else f"seqs {lo}..{hi}"


class _Walk:
    """One pass over the rows in storage order, collecting problems."""

    def __init__(
        self,
        log: AuditStore,
        key: SigningKey | None = None,
        since: tuple[int, str] | None = None,
        ledger_from: witnesses.Compared | None = None,
    ) -> None:
        self.log = log
        self.key = key
        start = self.start = since[0] if since is not None else 0
        self.seals = iter(log.seals(start)) if key is not None else iter(())
        self.seal: tuple[int, str, str] | None = next(self.seals, None)
        self.witnessed = witnesses.Witnessed(witnesses.LedgerCheck(log, ledger_from))
        self.problems: list[Problem] = []
        self.gaps = _Gaps()
        self.lookups = 0
        self.checked = 0
        self.max_seq = 0
        self.max_hash: str | None = None
        self.max_id: str | None = None
        self.previous: _Seen | None = None
        if since is not None:  # continue after a point an earlier pass verified
            self.max_seq, self.max_hash = since
            self.previous = _Seen(since[0], None, since[1])

    def report(self, kind: ProblemKind, seq: int | None, id: str | None, message: str) -> None:
        self.problems.append(Problem(kind, seq, id, message))

    def row(self, row: Stored) -> None:
        self.checked += 1
        stored_seq, stored_id = row.seq, row.id
        body = row.record
        if body is None:
            self.unreadable(row, row.error or "the body is not a JSON record")
            return
        seq = body.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool):
            self.unreadable(row, "the record has no seq")
            return
        ident = body["id"] if isinstance(body.get("id"), str) else stored_id
        stated = body.get("hash") if isinstance(body.get("hash"), str) else None

        self.witnessed.record(seq, body)
        self.mac(stored_seq, ident, stated)
        # 1. the record against its own hash, the columns against the record
        if not check(body):
            self.report(ProblemKind.EDITED, seq, ident, "the record does not match its hash")
        wrong = self.log.layout.columns_problem(row)
        if wrong:
            self.report(ProblemKind.EDITED, seq, ident, f"indexed {wrong}")
        self.position(seq, ident, stored_seq)
        self.link(seq, ident, body.get("prev_hash"))
        if seq > self.max_seq:
            self.max_seq, self.max_hash, self.max_id = seq, stated, ident
        self.previous = _Seen(seq, ident, stated)

    def earlier(
        self, stored_seq: int, body: dict[str, Any], seal: tuple[int, str, str] | None
    ) -> None:
        """A record before the walk's start, read on its own: its hash, its place and, with the
        key, its MAC ``seal`` (its links are the earlier pass's, see ``_paper_fills_up_to``)."""
        seq, ident = body.get("seq"), body.get("id") if isinstance(body.get("id"), str) else None
        if not check(body):
            self.report(ProblemKind.EDITED, stored_seq, ident, "the record does not match its hash")
        if seq != stored_seq:
            message = f"stored as seq {stored_seq} but sealed as seq {seq}"
            self.report(ProblemKind.REORDERED, stored_seq, ident, message)
        if self.key is not None:
            stated = body.get("hash")
            wrong = witnesses.record_mac(
                self.key, seal, stored_seq, stated if isinstance(stated, str) else None
            )
            if wrong:
                self.report(ProblemKind.FORGED, stored_seq, ident, wrong)

    def mac(self, stored_seq: int, ident: str | None, hash: str | None) -> None:
        """The record's MAC (seals come in seq order, like the rows)."""
        if self.key is None:
            return
        while self.seal is not None and self.seal[0] < stored_seq:
            self.seal = next(self.seals, None)
        seal = self.seal if self.seal is not None and self.seal[0] == stored_seq else None
        wrong = witnesses.record_mac(self.key, seal, stored_seq, hash)
        if wrong:
            self.report(ProblemKind.FORGED, stored_seq, ident, wrong)

    def unreadable(self, row: Stored, message: str) -> None:
        """A row whose body cannot be read: EDITED, and it still holds its place in the chain
        (so it is not also reported as a deletion); the next link cannot be checked."""
        seq, ident = row.seq, row.id
        self.report(ProblemKind.EDITED, seq, ident, message)
        self.position(seq, ident, seq)
        if seq > self.max_seq:
            self.max_seq, self.max_hash, self.max_id = seq, row.hash, ident
        self.previous = _Seen(seq, ident, None)

    def position(self, seq: int, ident: str | None, stored_seq: int) -> None:
        """The sealed seq against the storage order: gaps are deletions, the rest moves."""
        order: list[str] = []
        if stored_seq != seq:
            order.append(f"stored as seq {stored_seq} but sealed as seq {seq}")
        if seq > self.max_seq + 1:
            self.gaps.add(self.max_seq + 1, seq - 1, seq, ident)
        elif seq <= self.max_seq:
            if self.gaps.fill(seq):
                order.append(f"it is stored after seq {self.max_seq}")
            else:
                order.append(f"seq {seq} appears more than once")
        if order:
            self.report(ProblemKind.REORDERED, seq, ident, "; ".join(order))

    def link(self, seq: int, ident: str | None, prev_hash: Any) -> None:
        """``prev_hash`` against the hash of the record sealed just before this one."""
        previous = self.previous
        expected: str | None
        if seq == 1:
            expected = GENESIS
        elif previous is not None and previous.seq == seq - 1:
            expected = previous.hash
        else:
            return  # the predecessor is missing or elsewhere: reported as DELETED/REORDERED
        if prev_hash == expected or expected is None:
            return
        target = None
        if isinstance(prev_hash, str) and self.lookups < _MAX_HASH_LOOKUPS:
            self.lookups += 1
            target = self.log.seq_of_hash(prev_hash)
        if target is not None:
            message = f"it links to seq {target}, not to its predecessor seq {seq - 1}"
            self.report(ProblemKind.REORDERED, seq, ident, message)
        elif seq == 1 or previous is None:
            self.report(ProblemKind.EDITED, seq, ident, "the first record does not link to genesis")
        else:
            self.report(
                ProblemKind.EDITED,
                previous.seq,
                previous.id,
                f"changed and re-sealed: seq {seq} links to {str(prev_hash)[:12]}…, "
                "which is not this record's hash",
            )

    def finish(self, head: tuple[int, str] | None) -> None:
        """Gaps that stayed open, and the end of the chain against the chain head."""
        for lo, hi, next_seq, next_id in self.gaps.ranges:
            message = (
                f"{_seqs(lo, hi)} missing: seq {next_seq} ({next_id}) links to a record "
                "that is not there"
            )
            self.report(ProblemKind.DELETED, lo, None, message)
        if head is None:
            if self.checked:
                message = "the chain head is missing: deletions at the end would go unnoticed"
                self.report(ProblemKind.DELETED, None, None, message)
            return
        head_seq, head_hash = head
        if head_seq > self.max_seq:
            message = (
                f"{_seqs(self.max_seq + 1, head_seq)} missing at the end: the chain head says "
                f"the log ends at seq {head_seq}"
            )
            self.report(ProblemKind.DELETED, self.max_seq + 1, None, message)
        elif head_seq < self.max_seq:
            message = (
                f"{_seqs(head_seq + 1, self.max_seq)} after the chain head (seq {head_seq}): "
                "not written by an append"
            )
            self.report(ProblemKind.INSERTED, head_seq + 1, None, message)
        elif self.max_hash != head_hash:
            message = "changed and re-sealed: the chain head holds a different hash for it"
            self.report(ProblemKind.EDITED, self.max_seq, self.max_id, message)


def verify(
    log: AuditStore,
    *,
    strict: bool = False,
    since: tuple[int, str] | None = None,
    ledger_unchanged: Callable[[AuditStore], bool] | None = None,
    ledger_from: witnesses.Compared | None = None,
    checkpoints_from: CheckpointsRead | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> VerifyReport:
    """Check every record of ``log`` and its links; see the module docstring for the kinds.

    The MACs and checkpoints are checked with ``log.key`` (``SIGNALOPS_AUDIT_KEY``) when the log
    is signed or the key is given; the ledger and the strategy documents always.

    ``since``: the ``(head_seq, head_hash)`` of an earlier report that was ok. Only the records
    after it are read (a dashboard re-checks a growing log in the time of its new records);
    the record at ``since`` must still carry that hash, or the whole log is checked again.
    The paper ledger is still compared in full: with the paper fills of the records up to
    ``since`` too, each fill record checked against its hash (and MAC), the account's cash
    replayed through them (``_paper_fills_up_to``). So are a backtest log's kinds table (which
    run holds which asset, strategy, context and verdict; what its filters read), its runs'
    kinds columns (one that does not decode is reported, not raised) and where its
    runs are (a run overlapping those before it, before seq 1, ending before it starts, or
    whose last seq or times are not integers), the rows of ``records`` before seq 1, its
    id table's rows and the rows of ``records`` at seqs its runs hold (each counted; searched
    when the count is off): a row added since cannot be told from the others, and adding one
    needs no trigger dropped (``Runs.problems``). An edit
    of a record up to ``since``, a fill's aside, is for a whole check of the log to find.

    ``ledger_unchanged``: asked once inside the snapshot; True, when checking from ``since``,
    skips the paper-ledger comparison (a caller that compared this very ledger and these fills
    before and sees no fill record after ``since``: the dashboard's repeated checks).

    ``ledger_from``: where an earlier comparison ended (``VerifyReport.ledger`` of the report
    that ended at ``since``): only the ledger's rows after the ones it paired are compared,
    with the fills after ``since`` (``witnesses.Compared``). For a caller that knows no other
    connection wrote the log since (``LogCheck``'s checks between cycles); ignored when the
    whole log is checked, or the paper account is not the one it read.

    ``checkpoints_from``: where an earlier reading of a signed log's checkpoint file ended
    (``VerifyReport.checkpoints`` of the report that ended at ``since``): only the lines
    appended since are read and checked, when the file is the one it read with nothing but
    this process's appends after it (``signing.CheckpointReading``; else the whole file is read
    again, as it is when the whole log is checked). The lines it read were checked against the
    log up to ``since``, whose records are not read again either. Either way, the last
    checkpoint it read must still be in a file read whole again: checkpoints are only
    appended, so one gone means the file was cut or put back (CHECKPOINT). For a caller that
    checks one log again and again (``LogCheck``'s checks between cycles).

    ``progress``: told ``(seq, head seq)`` every ``PROGRESS_EVERY`` records read and after the
    last (a command's progress bar over a long log).
    """
    if since is not None and (since[0] == 0 or log.hash_at(since[0]) != since[1]):
        since = None
    if since is None or (ledger_from is not None and ledger_from.seq != since[0]):
        ledger_from = None
    resume = since is not None and checkpoints_from is not None and checkpoints_from.seq == since[0]
    key = log.key
    with log.snapshot():  # the head and the rows as of one moment, even with a writer running
        signed_by = log.signed_by()
        walk = _Walk(log, key if signed_by is not None else None, since, ledger_from)
        head = log.head()
        unchanged = ledger_unchanged is not None and ledger_unchanged(log)  # asked each time
        compare = since is None or not unchanged
        if since is not None and compare and not walk.witnessed.ledger.resumed:
            _paper_fills_up_to(log, walk, since[0])
        rows = log.stored_rows(since[0] if since is not None else 0)
        for row in rows if progress is None else _telling(rows, progress, head):
            walk.row(row)
        walk.finish(head)
        read = _witnesses(walk, log, key, signed_by, compare, checkpoints_from, resume)
    problems = sorted(walk.problems, key=lambda p: (-1 if p.seq is None else p.seq, p.kind))
    head_seq, head_hash = head if head is not None else (0, GENESIS)
    ledger = walk.witnessed.ledger
    report = VerifyReport(
        not problems,
        walk.checked,
        tuple(problems),
        head_seq,
        head_hash,
        signed_by=signed_by,
        macs_checked=key is not None and signed_by is not None,
        notes=tuple(note for note in (ledger.note(),) if note is not None),
        ledger=ledger.compared(head_seq) if compare and not problems else None,
        checkpoints=read if not problems else None,
    )
    if strict and not report.ok:
        raise AuditIntegrityError(str(report))
    return report


PROGRESS_EVERY = 4096


def _telling(
    rows: Iterable[Stored], progress: Callable[[int, int], None], head: tuple[int, str] | None
) -> Iterator[Stored]:
    """``rows``, telling ``progress`` how far they got every ``PROGRESS_EVERY`` of them."""
    last = head[0] if head is not None else 0
    for count, row in enumerate(rows, 1):
        yield row
        if count % PROGRESS_EVERY == 0:
            progress(row.seq, last)
    progress(last, last)


def _witnesses(
    walk: _Walk,
    log: AuditStore,
    key: SigningKey | None,
    signed_by: str | None,
    ledger: bool,
    earlier: CheckpointsRead | None,
    resume: bool,
) -> CheckpointsRead | None:
    findings = [
        *log.storage_problems(walk.start),
        *(walk.witnessed.ledger.finish() if ledger else ()),
        *witnesses.strategies(log, walk.witnessed.cited),
        *witnesses.trees(log, walk.witnessed.trees),
    ]
    read = None
    if key is not None and signed_by is None and walk.checked:
        message = "the log holds no MACs: written without the key, or they were removed"
        findings.append(("UNSIGNED", None, None, message))
    elif signed_by is not None:
        path = log.local_file(CHECKPOINT_SUFFIX)
        found, read = _checkpoints(log, key, path, walk.max_seq, earlier, resume)
        findings += found
    for kind, seq, ident, message in findings:
        walk.report(ProblemKind(kind), seq, ident, message)
    return read


def _checkpoints(
    log: AuditStore,
    key: SigningKey | None,
    path: Path,
    end: int,
    earlier: CheckpointsRead | None,
    resume: bool,
) -> tuple[list[witnesses.Finding], CheckpointsRead]:
    """A signed log's checkpoint lines, each against the key (when it is given) and against
    the record it names; whether there is one at all (a cut tail with the file gone is not
    "ok"). Without the key their MACs cannot be checked, their seqs and hashes can.

    With ``earlier`` (and ``resume``: the log still holds the point it was read to), only the
    lines after those it read, when the file changed by this process's appends alone; and,
    when the whole file is read again, whether the last checkpoint it read is still there."""
    key_id = key.id if key is not None else None
    if earlier is not None and (earlier.path != path or earlier.key_id != key_id):
        earlier = None
    reading = CheckpointReading(path, earlier.tail if earlier is not None and resume else None)
    verb, note = (
        ("signed", "")
        if key is not None
        else ("names", f"its MAC not checked: {KEY_ENV} is not set")
    )
    findings: list[witnesses.Finding] = []
    found, last, kept = 0, None, False
    for number, point in reading:
        where = f"{path.name} line {number}"
        if point is None:
            findings.append(("CHECKPOINT", None, None, f"{where}: not a checkpoint"))
            continue
        if key is not None and not point.valid_under(key):
            message = f"{where}: its MAC does not match the key (forged)"
            findings.append(("CHECKPOINT", None, None, message))
            continue
        found, last = found + 1, point
        kept = kept or (earlier is not None and point == earlier.last)
        findings += witnesses.against_log(log, point, end, verb, note)
    if not reading.whole and earlier is not None:
        found, last = found + earlier.found, last or earlier.last
    elif earlier is not None and earlier.last is not None and not kept:
        gone = earlier.last
        message = (
            f"{path.name} no longer holds the checkpoint of seq {gone.seq} made at {gone.at}, "
            "which an earlier check read: the file was cut or replaced"
        )
        findings.append(("CHECKPOINT", None, None, message))
    if not found and end:
        findings.append(witnesses.no_checkpoint(path))
    return findings, CheckpointsRead(path, key_id, end, reading.tail, found, last)


def check_record(log: AuditStore, record: dict[str, Any]) -> list[str]:
    """Why one record (one ``why`` shows) cannot be trusted; empty when it checks out.

    Its own hash, its indexed columns against it (an edited ``verdict`` column makes filters
    lie), both its links (a record edited and re-sealed no longer matches the next
    record's ``prev_hash``, or the chain head when it is the last), its MAC when the log is
    signed and the key is given, the strategy document and the tree it cites, for a paper
    fill the ledger's row for it, and for a compact decision whether re-evaluating its tree
    agrees with it. ``record`` may be the
    expanded record ``why`` shows (``signalops.audit.expand``): its sealed form is checked.
    """
    from signalops.audit.expand import PROBLEMS, derive, is_compact

    problems: list[str] = []
    seq = record.get("seq")
    derived = record.get(PROBLEMS)
    if is_compact(record) and ("trace" in record or derived is not None):
        sealed = _sealed_at(log, seq)
        if sealed is None or sealed.get("id") != record.get("id"):
            return ["the record is not the one stored at its seq"]
        record = sealed
    elif is_compact(record):
        derived = list(derive(record, log).problems)
    stated = record.get("hash")
    if not isinstance(seq, int) or not check(record):
        return ["the record does not match its hash: it was edited"]
    wrong = _columns_problem(log, seq)
    if wrong:
        problems.append(wrong)
    before = GENESIS if seq == 1 else log.hash_at(seq - 1)
    if record.get("prev_hash") != before:
        problems.append(f"it does not link to the record before it (seq {seq - 1})")
    after = _prev_hash_of(log, seq + 1)
    if after is not None and after != stated:
        problems.append(f"the next record (seq {seq + 1}) links to another hash: it was re-sealed")
    head = log.head()
    if after is None and head is not None and head[0] == seq and head[1] != stated:
        problems.append("the chain head holds another hash for it: it was re-sealed")
    if log.signed_by() is not None and log.key is not None:
        wrong = witnesses.record_mac(log.key, log.seal_at(seq), seq, str(stated))
        if wrong:
            problems.append(wrong)
    wrong = witnesses.fill_against_ledger(log, record)
    if wrong:
        problems.append(wrong)
    strategy = record.get("strategy")
    cited = strategy.get("hash") if isinstance(strategy, dict) else None
    if isinstance(cited, str):
        document = log.strategy_document(cited)
        if document is not None and content_hash(document) != cited:
            problems.append("the strategy document it cites was edited")
    tree = strategy.get("tree") if isinstance(strategy, dict) else None
    if isinstance(tree, str):
        document = log.tree_document(tree)
        if document is not None and content_hash(document) != tree:
            problems.append("the tree it cites was edited")
    problems += [str(p) for p in derived or () if str(p) not in problems]
    return problems


def _columns_problem(log: AuditStore, seq: int) -> str | None:
    """How the stored row at ``seq``'s indexed columns disagree with its record (as ``verify``
    says it), or None."""
    row = log.stored_at(seq)
    if row is None or row.record is None:
        return None
    wrong = log.layout.columns_problem(row)
    return f"indexed {wrong}" if wrong else None


def _sealed_at(log: AuditStore, seq: Any) -> dict[str, Any] | None:
    if not isinstance(seq, int):
        return None
    body = log.body_at(seq)
    try:
        return loads_record(body) if body else None
    except ValueError:
        return None


def _prev_hash_of(log: AuditStore, seq: int) -> str | None:
    body = log.body_at(seq)
    if body is None:
        return None
    try:
        value = loads_record(body).get("prev_hash")
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def _paper_fills_up_to(log: AuditStore, walk: _Walk, seq: int) -> None:
    """The paper fills an earlier pass walked over (up to ``seq``), by their kind's index, for
    the ledger's check.

    Each fill record is checked against its own hash, its place and its MAC (``_Walk.earlier``),
    or an edit of a fill and of its ledger row to agree would pass. The account's cash is
    replayed through them all and checked against what the record stating the last of them
    says (the record before it: they are appended together), checked likewise: with every fill
    checked, that one pins the account (an edited starting cash, or a fill re-sealed after an
    edit, leaves it off), without reading the statement of every fill (a decision's record costs
    several times its fill's). When it disagrees, the first record that does is named, as a walk
    over the whole chain names it. The records' links are not read: an edit re-sealed since the
    earlier pass is for ``audit verify`` to find, or, on a signed log, for the MACs."""
    ledger = walk.witnessed.ledger
    seals = _Seals(log) if walk.key is not None else None
    last: tuple[int, dict[str, Any]] | None = None
    for at, body in log.records_of_kind(FILL):
        if at > seq:
            break
        fill = witnesses.paper_fill_of(body)
        if fill is None:
            continue
        walk.earlier(at, body, seals.at(at) if seals is not None else None)
        if last is not None:
            ledger.fill(*last, None)
        last = (at, fill)
    if last is None:
        return
    at, fill = last
    ledger.fill(at, fill, _statement(log, walk, at - 1, fill))
    if ledger.account_problem is not None:
        first = _first_disagreeing(log, walk, ledger, at - 1)
        if first is not None:
            ledger.restate(first)


def _statement(
    log: AuditStore, walk: _Walk, seq: int, fill: dict[str, Any]
) -> witnesses.Stated | None:
    """What the record at ``seq`` states of the account after ``fill``, when it states it (it
    is then checked as a fill record is)."""
    stored = log.stored_at(seq) if seq > 0 else None
    before = stored.record if stored is not None else None
    found = witnesses.stated_account(before) if before is not None else None
    if before is None or found is None or found[0] != str(fill.get("client_order_id")):
        return None
    walk.earlier(seq, before, log.seal_at(seq) if walk.key is not None else None)
    return found


def _first_disagreeing(
    log: AuditStore, walk: _Walk, ledger: witnesses.LedgerCheck, last: int
) -> witnesses.Finding | None:
    """The first record before ``last`` (the last statement, checked) whose stated cash the
    account does not give, read with every fill's statement (checked as the fill records are);
    None when only ``last`` disagrees."""
    replay = witnesses.Replay(ledger.account, present=ledger.present)
    for at, body in log.records_of_kind(FILL):
        if at >= last:
            return None
        fill = witnesses.paper_fill_of(body)
        if fill is None:
            continue
        wrong = replay.fill(fill, _statement(log, walk, at - 1, fill))
        if wrong is not None:
            return "LEDGER", at, str(fill.get("client_order_id")), wrong
    return None


class _Seals:
    """Record MACs at rising seqs: read in order while they are close together (a page at a
    time), one by one when far apart (the MACs between two distant fills are not read)."""

    NEAR = 16  # seqs from the last one read: reading on costs 1 µs a row, one read 18 µs

    def __init__(self, log: AuditStore) -> None:
        self.log = log
        self.rows: Iterator[tuple[int, str, str]] | None = None
        self.row: tuple[int, str, str] | None = None
        self.last = 0  # the seq last asked for

    def at(self, seq: int) -> tuple[int, str, str] | None:
        near, self.last = seq - self.last <= self.NEAR, seq
        if not near:
            self.rows = self.row = None
            return self.log.seal_at(seq)
        if self.rows is None:
            self.rows = iter(self.log.seals(seq - 1))
            self.row = next(self.rows, None)
        row = self.row
        while row is not None and row[0] < seq:
            row = next(self.rows, None)
        self.row = row
        return row if row is not None and row[0] == seq else None
