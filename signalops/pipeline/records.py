"""The order in which a decision and what follows it are written: the crash-safety contract.

Every evaluation becomes exactly one ``decision`` record, whatever happens to it; what follows
(fills, approvals, expiries, orders) are further records that reference it. Why the order of
writes matters:

- paper: the decision record (or, for an approved decision, the approval record), the simulated
  fill and the fill record are written in ONE SQLite transaction, so a crash leaves either all
  of them or none (and a restart redoes the cycle);
- auto: the decision record (or the approval record) and an ``order_submitted`` record are
  committed BEFORE the order is sent (write-ahead). A crash between sending and recording leaves
  an ``order_submitted`` with no ``order_result``; ``reconcile()`` asks the venue by client
  order id and records what it says, so no decision is ever sent twice;
- a decision id is derived from (strategy hash, asset, as_of, mode), so a restart that replays a
  cycle finds its decisions already recorded and skips them, before fetching any data for them;
- a decision that does not act (a HOLD, a BLOCKED verdict, a BUY or SELL the risk gate denied)
  is *held* while a cycle runs (``holding()``): the held records are committed in one
  transaction at the end of the cycle, or earlier in the transaction of the next record that
  is written (the write-ahead of a decision that acts, a paper fill, a notification's record),
  always before it. So the log has the records in the order the decisions were taken, exactly
  as if each had been committed on its own (the same hash chain), and a decision that acts is
  still committed before it acts, with every decision taken before it. A crash loses only held
  records: decisions that placed nothing, which a restart replaying the cycle decides again
  (it finds them unrecorded) with the same data and clock, giving the same records. A cycle
  that raises an ``Exception`` commits what it held before the error propagates (a commit
  that fails then is logged, and the cycle's own error is the one raised); anything else
  (``KeyboardInterrupt``, a simulated death) drops it, as a crash would. Outside a cycle
  (``Pipeline.decide`` called alone) nothing is held: each record is committed on return. A
  held record that the log has by the time it is committed (another runner decided it) is
  left out, the others are written.

``Recorder`` is the only writer of these records in the pipeline; each method is one of the
steps above and opens the transaction it needs (with the held records first).

Log lines: each record, once its transaction is committed, is also one structured log line
(``log_record``): a risk denial (``signalops.pipeline``), an order sent, filled or failed
(``signalops.execution``), an approval requested, approved, rejected or expired
(``signalops.approvals``), with its reason code. The lines are built from the records
themselves, which are already scrubbed of secrets. A failed order is a WARNING in a live run (an
order did not reach the market: someone may have to act) and INFO in a simulated one (a
backtest, stress scenario, sweep or walk-forward: ``simulated``), where it is one of the run's
outcomes that its report counts and explains, like a risk denial, not news for its operator.
"""

from __future__ import annotations

import logging
from bisect import bisect_right, insort
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from signalops.audit.interface import AuditStore
from signalops.audit.prepared import PreparedRecord
from signalops.audit.queries import records_since, strategies_of
from signalops.audit.record import (
    DECISION,
    FILL,
    ORDER_RESULT,
    ORDER_SUBMITTED,
    Repeat,
    build_followup,
    prepare_decision,
    prepare_fill,
    prepare_followup,
)
from signalops.canonical import canonical_json, iso
from signalops.errors import DuplicateRecordError
from signalops.evaluation.tree import Evaluation
from signalops.execution.base import Executor, Reconciles
from signalops.execution.paper import PaperBroker
from signalops.logs import event
from signalops.orders import ExecutionResult, ExecutionStatus, Mode, OrderIntent
from signalops.risk import ORDER_RATE_WINDOW, RiskDecision
from signalops.side import Side
from signalops.strategy.model import Strategy

# What a paper fill is recorded with, once its result is known (in the same transaction).
# A record as the Recorder writes it: a builder's dict, or a decision already encoded member by
# member (``prepare_decision``), which the store seals without encoding it again.
Writable = Mapping[str, Any] | PreparedRecord
Logged = Writable | Repeat  # a record whose log lines are written (a backtest's repeats too)
FirstRecord = Callable[[ExecutionResult], Writable]


@dataclass
class Held:
    """The records of decisions that do not act, held until the cycle's batch is committed.

    ``open`` is True while a cycle holds; otherwise ``hold`` writes at once."""

    records: list[Writable] = field(default_factory=list)
    verdicts: dict[str, str] = field(default_factory=dict)  # decision id -> verdict
    open: bool = False

    def verdict(self, decision_id: str) -> str | None:
        """The verdict of a held decision, or None when it is not held."""
        return self.verdicts.get(decision_id) if self.verdicts else None

    def take(self) -> list[Writable]:
        taken, self.records = self.records, []
        self.verdicts = {}
        return taken


@dataclass
class Recorder:
    """Writes a pipeline's records to ``audit`` in the contract's order; ``clock`` dates them.

    ``held``: where the records of decisions that do not act wait during a cycle (a pipeline
    keeps one for all its recorders); None: every record is committed at once. ``unanswered``:
    the orders sent but not answered, kept from one ``reconcile`` to the next (a pipeline keeps
    one); None: ``reconcile`` reads the whole log. ``lines``: where the records go to be
    logged once their transaction commits, for a caller whose own transaction encloses the
    recorder's (the fast backtest's batch: its commit is the one that counts); None: logged
    at once. ``orders``: the risk gate's past orders (a pipeline keeps one), told of the paper
    fills recorded here (``paper``) so that they need not be read back. ``simulated``: the
    records are a simulated run's (their failed orders are INFO lines, see the module)."""

    audit: AuditStore
    broker: PaperBroker
    clock: Callable[[], datetime]
    held: Held | None = None
    unanswered: Unanswered | None = None
    lines: Callable[[list[Writable]], None] | None = None
    orders: OrdersSeen | None = None
    simulated: bool = False

    def decision_record(
        self,
        strategy: Strategy,
        evaluation: Evaluation,
        mode: Mode,
        intent: OrderIntent | None,
        risk: RiskDecision | None,
        result: ExecutionResult,
    ) -> PreparedRecord:
        return prepare_decision(
            strategy=strategy,
            evaluation=evaluation,
            mode=mode.value,
            intent=intent,
            risk=risk,  # encoded by the template, as the fast backtest gives it
            execution=result,
            recorded_at=self.clock(),
        )

    def approval_record(self, decision_id: str, at: datetime, **fields: Any) -> dict[str, Any]:
        return build_followup("approval", decision_id=decision_id, recorded_at=at, **fields)

    def append(self, record: Writable) -> None:
        """A record with nothing to keep in step with it (a rejection, a notification's
        decision), committed now, after any held ones."""
        if not self._holding_any():
            self.audit.append_many([record])  # ``append`` would build the sealed dict too
            self._log([record])
            return
        with self.audit.transaction():
            written = self._append_held()
            self.audit.append_many([record])
        self._committed()
        self._log([*written, record])

    def hold(self, record: Writable) -> None:
        """The record of a decision that does not act (a HOLD, BLOCKED, a denial): held while a
        cycle is ``holding()``, else committed now."""
        held = self.held
        if held is None or not held.open:
            self.append(record)
            return
        held.records.append(record)
        held.verdicts[record["decision_id"]] = record["verdict"]

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Hold the records of decisions that do not act until the block ends (a cycle), then
        commit them in one transaction (see the module docstring for a block that raises)."""
        held = self.held
        if held is None or held.open:  # nothing to hold with, or already holding
            yield
            return
        held.open = True
        try:
            yield
        except Exception as error:
            held.open = False
            self._flush_while(error)  # what was decided before the error is recorded
            raise
        except BaseException:
            held.open = False
            held.take()  # as a crash would: a restart decides them again
            raise
        held.open = False
        self.flush()

    def flush(self) -> None:
        """Commit the held records, in one transaction."""
        if not self._holding_any():
            return
        with self.audit.transaction():
            written = self._append_held()
        self._committed()
        self._log(written)

    def _log(self, records: list[Writable]) -> None:
        """The log lines of ``records``, committed now (or handed to ``lines``)."""
        if self.lines is not None:
            self.lines(records)
        else:
            log_records(records, simulated=self.simulated)

    def _flush_while(self, error: Exception) -> None:
        """``flush`` while ``error`` propagates. A commit that fails too must not take the place
        of ``error`` (the cause the caller has to see): it is logged and noted on ``error``, and
        the records stay held (the next write commits them first)."""
        try:
            self.flush()
        except Exception as failure:
            held = len(self.held.records) if self.held is not None else 0
            message = (
                f"{held} held record(s) could not be committed while "
                f"{type(error).__name__} propagated: {type(failure).__name__}: {failure}"
            )
            event(_PIPELINE, logging.ERROR, "held_not_committed", message, held=held)
            error.add_note(message)

    def _holding_any(self) -> bool:
        return self.held is not None and bool(self.held.records)

    def _append_held(self) -> list[Writable]:
        """Append the held records inside the caller's transaction; they stay held until it
        commits (``_committed``): a transaction that fails leaves them held, not lost.

        A held record whose id the log has already (decided by another runner on the same log,
        or appended by another path while it was held) is left out and the others are appended,
        once more: kept held, it would fail every later write with the same
        ``DuplicateRecordError`` and the runner could record nothing again. Only the log is
        asked which ids it has, so a record it does not have is never dropped."""
        if self.held is None or not self.held.records:
            return []
        written = list(self.held.records)
        try:
            self.audit.append_many(written)  # nested: a failure undoes its savepoint only
        except DuplicateRecordError:
            written = self._not_in_log(written)
            self.audit.append_many(written)
        return written

    def _not_in_log(self, records: list[Writable]) -> list[Writable]:
        """``records`` without those whose id the log has, or that repeat an earlier one."""
        kept: list[Writable] = []
        seen: set[str] = set()
        for record in records:
            ident = str(record.id if isinstance(record, PreparedRecord) else record["id"])
            if ident not in seen and self.audit.get(ident) is None:
                kept.append(record)
            seen.add(ident)
        return kept

    def _committed(self) -> None:
        """After the commit of a transaction that began with ``_append_held``: the held records
        are in the log now (written by it, or found there already), no longer held."""
        if self.held is not None:
            self.held.take()

    def paper(
        self,
        intent: OrderIntent,
        as_of: datetime,
        first: FirstRecord,
        *,
        enclosed: bool = False,
        before: Sequence[Logged] = (),
    ) -> ExecutionResult:
        """Fill on paper; the fill, ``first(result)`` and the fill record in one transaction
        (the two records in one append: one read of the chain head, one write of it).

        ``enclosed``: the caller's open transaction is that one, and it is rolled back whole
        if anything here fails (the fast backtest's batch, ``signalops.backtest.fast``): no
        savepoint of its own is needed to undo a fill whose records failed. ``before``: the
        caller's records of decisions that placed nothing, appended ahead of these in the
        same append (the fast backtest's held ones; its own to log)."""
        with nullcontext() if enclosed else self.audit.transaction():
            held = self._append_held()
            result = self.broker.execute(intent, as_of=as_of)
            written = [first(result)]
            written += self._fill_record(intent, result, self.clock())
            first_seq = self._append_seen(written, before)
        self._committed()
        if first_seq is not None and self.orders is not None:
            self.orders.note_written(first_seq, written, intent.strategy)
        self._log([*held, *written])
        return result

    def _append_seen(self, written: list[Writable], before: Sequence[Logged] = ()) -> int | None:
        """Append ``before`` (no order records) then ``written`` (in the caller's transaction),
        in one append. When ``written`` holds an order record and the gate's past orders are
        kept (``orders``): the seq of its first record, if they are the only records appended
        since those were last read (so the orders need not read them back); None otherwise
        (the next read brings them, as any other writer's)."""
        orders = self.orders
        appended = [*before, *written] if before else written
        if orders is None or not any(_kind(w) in ORDER_KINDS for w in written):
            self.audit.append_many(appended)
            return None
        alone = orders.alone()  # read, and nothing else appends: the records are the last ones
        head = None if alone else self.audit.head()
        orders.update(self.audit)  # every order record up to ``head`` at least
        self.audit.append_many(appended)
        after = self.audit.head()
        if after is None:
            return None
        if alone:
            return after[0] - len(written) + 1
        start = (0 if head is None else head[0]) + len(before)
        if after[0] != start + len(written):  # another's records among them
            return None
        return start + 1

    def send(
        self, executor: Executor, intent: OrderIntent, as_of: datetime, first: Writable
    ) -> ExecutionResult:
        """Write-ahead: ``first`` and ``order_submitted`` committed, then send, then the answer."""
        with self.audit.transaction():
            held = self._append_held()
            submitted = _order_record(
                "order_submitted", intent, self.clock(), order=intent.to_dict()
            )
            self.audit.append_many([first, submitted])
        self._committed()
        self._log([*held, first, submitted])
        result = executor.execute(intent, as_of=as_of)
        # Another runner on this log may have reconciled the order while the venue answered us
        # (its cycle found it sent and unanswered): the answer is recorded then, ours is the
        # venue's too. The order was sent: never "skipped" (``Pipeline._decide``).
        with suppress(DuplicateRecordError):
            self.result(intent, result)
        return result

    def result(self, intent: OrderIntent, result: ExecutionResult) -> None:
        """The venue's answer to a sent order, and its fill if any, together."""
        with self.audit.transaction():
            held = self._append_held()
            answer = _order_record("order_result", intent, self.clock(), execution=result.to_dict())
            written = [answer, *self._fill_record(intent, result, self.clock())]
            self.audit.append_many(written)
        self._committed()
        self._log([*held, *written])

    @staticmethod
    def _fill_record(intent: OrderIntent, result: ExecutionResult, at: datetime) -> list[Writable]:
        """The fill record of ``result``, if it filled (appended by the caller)."""
        if result.fill is None:
            return []
        return [
            prepare_fill(
                decision_id=intent.decision_id,
                client_order_id=intent.client_order_id,
                fill=result.fill,
                recorded_at=at,
            )
        ]

    def expire(self, now: datetime) -> int:
        """An ``expiry`` record for each pending approval past its expiry at ``now``."""
        expired = 0
        for pending in self.audit.pending_approvals(now):
            if not pending.expired:
                continue
            record = build_followup(
                "expiry",
                decision_id=pending.decision_id,
                recorded_at=self.clock(),
                approval_id=pending.approval_id,
                expires_at=iso(pending.expires_at),
            )
            try:
                self.append(record)
            except DuplicateRecordError:
                # Its id is the approval's: already recorded (a runner killed as it committed
                # it, whose commit the server finished after this one looked).
                continue
            expired += 1
        return expired

    def reconcile(self, executor: Reconciles) -> int:
        """Record the venue's answer for orders sent but not recorded (a crash in between)."""
        unanswered = self.unanswered if self.unanswered is not None else Unanswered()
        fixed = 0
        for order in unanswered.update(self.audit):
            found = executor.reconcile(order["client_order_id"], order["asset"])
            self.result(_intent_from_dict(order), found)
            fixed += 1
        return fixed


ORDER_KINDS = (FILL, ORDER_SUBMITTED)  # the records of placed orders (``OrdersSeen``)
RATE_WINDOW = timedelta(seconds=ORDER_RATE_WINDOW)
_EPSILON = timedelta(microseconds=1)


def _kind(record: Writable) -> str | None:
    return record.kind if isinstance(record, PreparedRecord) else record.get("kind")


@dataclass
class OrdersSeen:
    """What the risk gate needs from past orders, kept up to date from the audit log.

    ``times`` is kept sorted, so the orders of the rate window are one bisect away, and holds
    only the orders of the rate window before the newest time asked about (``trim``): the
    others count for no later time. ``dropped`` is the latest time trimmed away; a time asked
    about whose window would include it is not ``covered`` (the caller reads the log again).
    ``executed`` keeps every order's decision id (DUPLICATE_DECISION: idempotency).
    ``last_trade`` is the account's last order per asset and ``books`` each strategy's
    (strategy -> asset -> time: COOLDOWN is per book, ``last_trade_of``), each dated when it
    was placed, not filled (``_traded``: a stock order fills at a later open); whose an order is
    comes from its ``order`` (an ``order_submitted``) or its decision (a paper ``fill``: the
    decision's indexed ``strategy`` column, for all the fills of a read in one query).

    Incremental: ``update`` reads only the order records appended after ``seq``, and those the
    pipeline appends itself are noted as it writes them (``note_written``), not read back."""

    seq: int = 0
    times: list[datetime] = field(default_factory=list)
    last_trade: dict[str, datetime] = field(default_factory=dict)
    books: dict[str, dict[str, datetime]] = field(default_factory=dict)
    executed: set[str] = field(default_factory=set)
    dropped: datetime | None = None

    def __post_init__(self) -> None:
        self.last_trade_view = MappingProxyType(self.last_trade)
        self.executed_view = _SetView(self.executed)
        self._views: dict[str, Mapping[str, datetime]] = {}  # strategy -> its ``books`` view
        # decision id -> strategy, of the fills read back (immutable: kept through a restart)
        self._owners: dict[str, str | None] = {}
        self._alone = 0  # how many ``sole_writer`` blocks are open
        self._checked = False  # the log was read in the open ``sole_writer`` block

    @contextmanager
    def sole_writer(self) -> Iterator[None]:
        """A block in which only the recorder noting its orders here appends to the log (a
        backtest's batch, whose transaction holds the log's write lock): the log is read at
        the block's first ``update`` only (an error ends the block)."""
        self._alone += 1
        try:
            yield
        finally:
            self._alone -= 1
            if not self._alone:
                self._checked = False

    def alone(self) -> bool:
        """Inside a ``sole_writer`` block, once the log was read: nothing else appends to it."""
        return self._checked

    def restart(self) -> None:
        """Forget everything: the next ``update`` reads the log from its start."""
        self._checked = False
        self.seq, self.dropped = 0, None
        self.times.clear()
        self.last_trade.clear()
        for book in self.books.values():  # emptied, not dropped: the views stay theirs
            book.clear()
        self.executed.clear()

    def last_trade_of(self, strategy: str) -> Mapping[str, datetime]:
        """``strategy``'s last order per asset (a read-only view, kept up to date)."""
        view = self._views.get(strategy)
        if view is None:
            view = self._views[strategy] = MappingProxyType(self.books.setdefault(strategy, {}))
        return view

    def traded_by_others(self, strategy: str) -> bool:
        """Whether another strategy than ``strategy`` placed an order the log holds: the
        account is shared then, even by a strategy that runs alone now."""
        return any(name != strategy and book for name, book in self.books.items())

    def covers(self, as_of: datetime) -> bool:
        """Whether every order time of ``as_of``'s rate window is still kept."""
        return self.dropped is None or self.dropped <= as_of - RATE_WINDOW

    def trim(self, as_of: datetime) -> None:
        """Forget the order times that count for no time from ``as_of`` on."""
        cut = bisect_right(self.times, as_of - RATE_WINDOW)
        if cut:
            last = self.times[cut - 1]
            self.dropped = last if self.dropped is None else max(self.dropped, last)
            del self.times[:cut]

    def update(self, audit: AuditStore) -> None:
        """Take in the order records appended to ``audit`` since ``seq``."""
        if self._checked:
            return
        found = records_since(audit, *ORDER_KINDS, after_seq=self.seq)
        if found:  # usually nothing: the gate asks before every BUY and SELL
            self._look_up_owners((record for _, record in found), audit)
        for seq, record in found:
            self.seq = seq
            if not self._repeats(record):
                self._note(record, self._owner(record))
        self._checked = self._alone > 0

    def note_written(
        self, first_seq: int, written: list[Writable], strategy: str | None = None
    ) -> None:
        """Take in ``written``, appended at ``first_seq`` on (with nothing between them and the
        records ``update`` read): what reading them back would give.

        A fill's strategy is ``strategy``, the writer's (its intent's); a fill without one is
        left, with what follows it, for the next ``update`` to read back and look up."""
        for seq, record in enumerate(written, first_seq):
            if seq <= self.seq:  # read already
                continue
            if _kind(record) in ORDER_KINDS:
                plain = record.record if isinstance(record, PreparedRecord) else record
                if not self._repeats(plain):
                    found = _ordered_by(plain, self._owners, strategy)
                    if found is None:
                        self._checked = False  # ``update`` reads it back, even when alone
                        return
                    if plain["kind"] == FILL:  # for a read from the start (``restart``)
                        self._owners[plain["decision_id"]] = found[0]
                    self._note(plain, found[0])
            self.seq = seq

    def _repeats(self, record: Mapping[str, Any]) -> bool:
        """An auto order's fill after its order_submitted: one order, noted already."""
        return record["kind"] == FILL and record["decision_id"] in self.executed

    def _look_up_owners(self, records: Iterable[Mapping[str, Any]], audit: AuditStore) -> None:
        """Learn whose the orders of ``records`` are where the records do not say (a paper
        fill: its decision's strategy), all in one query of the decisions' indexed
        ``strategy`` column: a decision read and decoded per fill made a restart's read of a
        long log slow (and, on PostgreSQL, a round trip per fill)."""
        unknown = {
            record["decision_id"]
            for record in records
            if not self._repeats(record) and _ordered_by(record, self._owners) is None
        }
        if not unknown:
            return
        names = strategies_of(audit, (did for did in unknown if isinstance(did, str)))
        for did in unknown:  # a decision the log does not have: no strategy
            self._owners[did] = names.get(did)

    def _owner(self, record: Mapping[str, Any]) -> str | None:
        """The strategy that placed the order of ``record`` (``_look_up_owners`` learnt it
        when the record does not say)."""
        found = _ordered_by(record, self._owners)
        return None if found is None else found[0]

    def _note(self, record: Mapping[str, Any], owner: str | None) -> None:
        order = record.get("order") or {}
        fill = record.get("fill") or {}
        asset = fill.get("asset") or order.get("asset")
        placed = _time(order.get("as_of") or fill.get("placed_at") or fill["at"])
        self.executed.add(record["decision_id"])
        insort(self.times, placed)  # an approved order is placed at its decision's as_of
        if asset is None:
            return
        traded = _traded(record, placed) if order.get("as_of") is None else placed
        _keep_latest(self.last_trade, asset, traded)
        if owner is not None:
            _keep_latest(self.books.setdefault(owner, {}), asset, traded)


def _traded(fill: Mapping[str, Any], at: datetime) -> datetime:
    """When a paper fill's order was placed, for COOLDOWN: its fill time ``at``, or, when that
    is after the record's own time, the record's. A fill dated after it was recorded is an
    order placed then (its decision's as_of on a backtest's clock) that fills at a later
    session's open (a Saturday's stock order fills on Monday while a coin decides on Sunday):
    counted from its fill, a decision in between saw a trade ahead of it."""
    recorded = fill.get("recorded_at")
    if not isinstance(recorded, str):
        return at
    return min(at, _time(recorded))


def _keep_latest(last: dict[str, datetime], asset: str, placed: datetime) -> None:
    if placed > last.get(asset, placed - _EPSILON):
        last[asset] = placed


def _ordered_by(
    record: Mapping[str, Any], owners: Mapping[str, str | None], writer: str | None = None
) -> tuple[str | None] | None:
    """``(strategy,)`` of an order record when it is known without reading the log: an
    ``order_submitted`` names it, a fill's is its ``writer``'s or one looked up before
    (``owners``; None there: a decision without a strategy). None: unknown."""
    name = (record.get("order") or {}).get("strategy")
    if isinstance(name, str):
        return (name,)
    if writer is not None:
        return (writer,)
    did = record["decision_id"]
    return (owners[did],) if did in owners else None


class _SetView(AbstractSet[str]):
    """A read-only view of a set (the gate asks ``in`` of it)."""

    __slots__ = ("_items",)

    def __init__(self, items: AbstractSet[str]) -> None:
        self._items = items

    def __contains__(self, item: object) -> bool:
        return item in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Unanswered:
    """The orders sent but not answered (an ``order_submitted`` and no ``order_result`` for its
    decision: a crash between sending and recording), kept up to date from the log.

    Only the records after ``seq`` are read at each ``update``, so the reconcile at the start of
    every cycle costs the same on a log of a million orders as on a fresh one; and only the
    unanswered orders are kept (an answer always follows its order in the chain)."""

    seq: int = 0
    orders: dict[str, Mapping[str, Any]] = field(default_factory=dict)  # decision id -> order

    def update(self, audit: AuditStore) -> list[Mapping[str, Any]]:
        """The unanswered orders, in the order they were sent."""
        for seq, record in records_since(audit, ORDER_SUBMITTED, ORDER_RESULT, after_seq=self.seq):
            self.seq = seq
            if record["kind"] == ORDER_SUBMITTED:
                self.orders.setdefault(record["decision_id"], record["order"])
            else:
                self.orders.pop(record["decision_id"], None)
        return list(self.orders.values())


def _order_record(kind: str, intent: OrderIntent, at: datetime, **fields: Any) -> PreparedRecord:
    """A follow-up about ``intent``'s order, which names its decision and client order id
    (prepared: the store seals it without encoding it again)."""
    return prepare_followup(
        kind,
        decision_id=intent.decision_id,
        recorded_at=at,
        client_order_id=intent.client_order_id,
        **fields,
    )


# --- log lines ---------------------------------------------------------------------------------

_PIPELINE = logging.getLogger("signalops.pipeline")
_EXECUTION = logging.getLogger("signalops.execution")
_APPROVALS = logging.getLogger("signalops.approvals")
_DETAILS_LIMIT = 300  # a denial's details in a log line: enough to read, not a whole portfolio


def log_records(records: Iterable[Logged], *, simulated: bool = False) -> None:
    for record in records:
        log_record(record, simulated=simulated)


def log_record(record: Logged, *, simulated: bool = False) -> None:
    """The log lines of one committed record (a HOLD is DEBUG only); ``simulated``: a simulated
    run's record, whose failed order is an INFO line (the module docstring says why)."""
    failure_level = logging.INFO if simulated else logging.WARNING
    if isinstance(record, Repeat):
        record = record.prepared()
    if isinstance(record, PreparedRecord):
        if record.kind == DECISION and not _may_log_decision(record.status, failure_level):
            return  # no line would be written: its dict is not built for nothing
        if record.kind == FILL and not _EXECUTION.isEnabledFor(logging.INFO):
            return  # nor a fill's line (INFO), its text and fields made for nothing
        record = record.record
    kind = record["kind"]
    if kind == "decision":
        _log_decision(record, failure_level)
    elif kind == "order_submitted":
        order = record["order"]
        event(
            _EXECUTION,
            logging.INFO,
            "order_sent",
            f"order {record['client_order_id']} sent: {order['side']} {order['quantity']} "
            f"{order['asset']}",
            **_order_fields(record, order),
        )
    elif kind == "order_result":
        _log_execution(record, record["execution"], _order_fields(record, {}), failure_level)
    elif kind == "fill":
        fill = record["fill"]
        event(
            _EXECUTION,
            logging.INFO,
            "order_filled",
            f"order {record['client_order_id']} filled: {fill['side']} {fill['quantity']} "
            f"{fill['asset']} at {fill['price']}",
            **_order_fields(record, fill),
            price=fill["price"],
            venue=fill.get("venue"),
        )
    elif kind == "approval":
        _log_approval(record, failure_level)
    elif kind == "expiry":
        event(
            _APPROVALS,
            logging.INFO,
            "expired",
            f"approval {record['approval_id']} expired at {record['expires_at']}",
            approval_id=record["approval_id"],
            decision_id=record["decision_id"],
            expires_at=record["expires_at"],
        )


def _may_log_decision(status: str | None, failure_level: int) -> bool:
    """Whether a decision with this execution status may have a line at the loggers' levels
    (``_log_decision``'s: its DEBUG line or a denial, a pending approval, a failed order, whose
    line is at ``failure_level``)."""
    return (
        _PIPELINE.isEnabledFor(logging.INFO)
        or (status == ExecutionStatus.PENDING_APPROVAL and _APPROVALS.isEnabledFor(logging.INFO))
        or (status == ExecutionStatus.FAILED and _EXECUTION.isEnabledFor(failure_level))
    )


def _order_fields(record: Mapping[str, Any], order: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "client_order_id": record["client_order_id"],
        "decision_id": record["decision_id"],
        "strategy": order.get("strategy"),
        "asset": order.get("asset"),
        "side": order.get("side"),
        "quantity": order.get("quantity"),
    }


def _log_decision(record: Mapping[str, Any], failure_level: int) -> None:
    common = {
        "strategy": record["strategy"]["name"],
        "asset": record["asset"],
        "decision_id": record["decision_id"],
        "as_of": record["as_of"],
    }
    execution = record.get("execution") or {}
    verdict = record["verdict"]
    if _PIPELINE.isEnabledFor(logging.DEBUG):
        event(
            _PIPELINE,
            logging.DEBUG,
            "decision",
            f"{common['strategy']} {verdict} {common['asset']} at {common['as_of']}",
            verdict=verdict,
            status=execution.get("status"),
            **common,
        )
    risk = record.get("risk")
    if risk is not None and not risk["approved"] and _PIPELINE.isEnabledFor(logging.INFO):
        failed = [check for check in risk["checks"] if not check["passed"]]
        codes = [check["code"] for check in failed]
        event(
            _PIPELINE,
            logging.INFO,
            "denial",
            f"risk gate denied {record['action']} {common['asset']}: {', '.join(codes)}",
            code=codes[0] if codes else None,
            codes=codes if len(codes) > 1 else None,
            details=_details_summary(failed),
            **common,
        )
    order = record.get("order") or {}
    fields = {**common, "client_order_id": order.get("client_order_id")}
    _log_execution(record, execution, fields, failure_level)


def _log_execution(
    record: Mapping[str, Any],
    execution: Mapping[str, Any],
    fields: Mapping[str, Any],
    failure_level: int,
) -> None:
    """A pending approval, or an order (or notification) that failed (a line at
    ``failure_level``); fills log themselves."""
    status = execution.get("status")
    if status == ExecutionStatus.PENDING_APPROVAL:
        event(
            _APPROVALS,
            logging.INFO,
            "approval_requested",
            f"approval {execution.get('approval_id')} awaits a human until "
            f"{execution.get('expires_at')}",
            approval_id=execution.get("approval_id"),
            expires_at=execution.get("expires_at"),
            **fields,
        )
    elif status == ExecutionStatus.FAILED:
        details = execution.get("details") or {}
        event(
            _EXECUTION,
            failure_level,
            "order_failed",
            f"order for {record['decision_id']} failed: {execution.get('message')}",
            status=status,
            code=details.get("reason"),
            **fields,
        )
    elif record["kind"] == "order_result" and status != ExecutionStatus.FILLED:
        event(
            _EXECUTION,
            logging.INFO,
            "order_result",
            f"order {record['client_order_id']} is {status}: {execution.get('message')}",
            status=status,
            venue_order_id=execution.get("venue_order_id"),
            **fields,
        )


def _log_approval(record: Mapping[str, Any], failure_level: int) -> None:
    approved = record["approved"]
    recheck = record.get("recheck") or {}
    risk = recheck.get("risk") or {}
    codes = [check["code"] for check in risk.get("checks", ()) if not check["passed"]]
    outcome = record.get("outcome") or {}
    word = "approved" if approved else "rejected"
    message = f"approval {record['approval_id']} {word} by {record['by']}"
    if codes:
        message += f"; the re-check failed: {', '.join(codes)}"
    event(
        _APPROVALS,
        logging.INFO,
        word,
        message,
        approval_id=record["approval_id"],
        decision_id=record["decision_id"],
        by=record["by"],
        status=outcome.get("status"),
        code=codes[0] if codes else None,
        note=record.get("note"),
    )
    fields = {"approval_id": record["approval_id"], "decision_id": record["decision_id"]}
    # An approved paper order the broker refused.
    _log_execution(record, outcome, fields, failure_level)


def _details_summary(checks: Iterable[Mapping[str, Any]]) -> str:
    parts = []
    for check in checks:
        details = check.get("details") or {}
        shown = " ".join(f"{key}={_compact(value)}" for key, value in details.items())
        parts.append(f"{check['code']}: {shown}" if shown else check["code"])
    text = "; ".join(parts)
    return text if len(text) <= _DETAILS_LIMIT else text[: _DETAILS_LIMIT - 1] + "…"


def _compact(value: Any) -> str:
    if isinstance(value, dict | list):
        return canonical_json(value)
    return str(value)


def _intent_from_dict(order: Mapping[str, Any]) -> OrderIntent:
    return OrderIntent(
        decision_id=order["decision_id"],
        client_order_id=order["client_order_id"],
        strategy=order["strategy"],
        asset=order["asset"],
        side=Side(order["side"]),
        quantity=Decimal(order["quantity"]),
        reference_price=Decimal(order["reference_price"]),
        notional=Decimal(order["notional"]),
        as_of=datetime.fromisoformat(order["as_of"].replace("Z", "+00:00")),
        mode=Mode(order["mode"]),
    )


__all__ = ["FirstRecord", "Held", "Recorder", "Unanswered", "log_record"]
