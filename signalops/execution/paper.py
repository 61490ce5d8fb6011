"""Paper trading: simulated fills against a portfolio kept as an append-only ledger.

Prices
  A fill happens at ``price(asset, as_of) -> (price, price_time)``. The default is the intent's
  own reference price at ``as_of``; a backtest passes "the next bar's open", so that a decision
  taken on a close never trades at that same close. BUY fills at price x (1 + slippage), SELL
  at price x (1 - slippage); the fee is notional x fee_bps / 10,000, in the quote currency. All
  arithmetic is ``Decimal``, exact except the divisions of average-cost accounting (28
  significant digits); nothing is rounded to a tick (paper has no tick size).

Ledger (two tables, rows only ever inserted; triggers refuse UPDATE and DELETE; their SQL is
``signalops.audit.paper_ledger`` for SQLite, ``signalops.audit.postgres_ledger`` for PostgreSQL)

  paper_account  id (always 1), starting_cash, quote, created_at
  paper_fills    seq (ledger order), client_order_id (UNIQUE), decision_id, strategy, asset,
                 side, quantity, price, fee, reference_price, fee_bps, slippage_bps,
                 placed_at (the as_of the order was placed at), filled_at (the price's time)

  Money and quantities are stored as decimal TEXT so they read back exactly. Cash, positions,
  realised and unrealised PnL are never stored: ``portfolio`` derives them by replaying the
  fills, so the ledger cannot disagree with itself.

Accounting (average cost, fees in the cost basis)
  A BUY adds quantity x price + fee to the position's cost; the average price is cost /
  quantity. A SELL removes the average cost of what it sells and realises
  quantity x price - fee - that cost. So ``equity == starting_cash + realised + unrealised``
  (to the 28th digit), and a round trip's fees show up in its realised PnL. Replays are
  incremental: each broker keeps the parsed ledger and its books and reads only new rows (its
  own fills are applied to the kept books as they are written), so a backtest asking for the
  portfolio every cycle does not replay the whole ledger each time.

  What is kept stays in step with what is committed: outside a transaction, the parsed ledger
  is trusted while its ``state()`` is unchanged -- neither another connection committed
  (SQLite's ``PRAGMA data_version``; PostgreSQL's last fill seq) nor this one wrote anything
  (its change count: any insert, even one later rolled back);
  otherwise (and always inside a transaction, whose writes may yet roll back) one read checks
  that the last row kept is still there, unchanged, and brings the rows after it. A block
  whose caller vouches that nothing else writes the ledger meanwhile (``sole_writer``: a
  gate, which only reads; a backtest's batch) checks it at its first read only, and the
  broker's own fills are kept as written. So a decision's portfolio, book and order checks
  cost one small query when nothing was filled, and a backtest's none. The figures of each
  book but the marks are kept too while the rows and the day are the same (``_Standing``):
  a gate asks again at every decision with new prices only.

The day's start (MAX_DAILY_LOSS)
  ``day_start_equity`` is the equity at 00:00 UTC: the cash after the fills placed before
  midnight, and each position held then at its market price at midnight, which the ledger does
  not hold: ``midnight_marks`` gives it (``signalops.execution.marks``: the asset's last close
  at or before midnight, from the pipeline's own price sources), asked once per asset and day.
  Without it, or without a price, a position counts at its last fill price before midnight
  (then a move since that fill, weeks old maybe, counts as the day's).

Books (one per strategy)
  Every fill row names its strategy, so the same replay also keeps each strategy's book: its
  positions, average costs and realised PnL, from its own fills only. ``book(strategy, ...)``
  is that book as a ``PortfolioView``; ``portfolio`` stays the whole account. A strategy's cash
  is its allocation (``allocate``, from the config's ``strategies: {NAME: {capital: ...}}``)
  plus the net cash of its fills; without one it shares the account (its equity is the
  account's), which is exactly the old behaviour when one strategy runs alone. Allocations are
  configuration, not rows: the ledger's schema is unchanged and every existing ledger opens.

Refusals (FAILED, nothing written): selling more than the selling strategy's book holds (the
broker never goes short, and never sells another strategy's holding, whatever the risk gate
said), buying for more cash than the account has, or than the strategy's allocation has left
(never negative cash), a non-positive quantity or price, a price source that has no price.

A BUY the price's rise put out of the cash's reach buys what the cash allows (to 8 decimal
places, fee included) instead of failing: one that fitted the cash at its own reference price
(the price it was sized at) and fills at a higher one (a backtest's next open above the
decision's close: a stock gapping up fails an all-in order otherwise). The fill says so
(``details["ordered"]`` and the message). A BUY that never fitted is refused
(INSUFFICIENT_FUNDS names the cash): the pipeline's sizing cuts a paper BUY to the cash at its
reference price (``risk.sized_order``), so only an order sized otherwise, or one the cash pays
not a step of, arrives so.

Idempotency
  ``client_order_id`` is UNIQUE in ``paper_fills``. Executing an intent whose client order id
  is already in the ledger returns that first fill (FILLED, ``details["already_filled"]``) and
  writes nothing; the same id with a different asset, side or quantity (a BUY's fill may be
  smaller: the cash allowed less) is a bug upstream and is refused (CLIENT_ORDER_ID_REUSED).

Transactions
  ``execute`` can run inside the caller's transaction on the same database (the audit log's
  ledger, ``log.paper_ledger()``), so that a fill and its audit record commit or roll back
  together:

  - transaction open (``ledger.in_transaction()``, e.g. inside ``AuditLog.transaction()``):
    the fill is written inside a SAVEPOINT and NOT committed; the caller's COMMIT (or
    ROLLBACK) decides. A refused order releases the savepoint with nothing written.
  - no transaction open: ``execute`` runs its own ``BEGIN IMMEDIATE`` ... ``COMMIT`` (taking the
    write lock before it reads the position it checks against).

  Python's sqlite3 only opens a transaction implicitly at the first INSERT/UPDATE/DELETE, and
  ``with conn:`` opens none by itself: to make the fill part of a transaction, start it
  explicitly before calling ``execute`` (``db.conn.execute("BEGIN")``, or sqlite-utils'
  ``db.atomic()``/``db.begin()`` where available) -- or write the audit record first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import sqlite_utils

from signalops import numbers
from signalops.audit.paper_ledger import PaperLedger, SQLiteLedger
from signalops.canonical import iso
from signalops.codes import Code
from signalops.errors import ExecutionError, SignalOpsError
from signalops.orders import (
    DAY_START_LAST_FILL,
    DAY_START_MARKET,
    QUANTITY_STEP,
    DayStartMark,
    ExecutionResult,
    ExecutionStatus,
    Fill,
    FillCosts,
    Mode,
    OrderIntent,
    PortfolioView,
    Position,
    Side,
    to_decimal,
)

from .outcomes import check_intent, failed, plain, require_aware

PriceSource = Callable[[str, datetime], tuple[Decimal, datetime]]
"""``(asset, as_of) -> (price, time of that price)``; raise LookupError when there is none."""

MarkSource = Callable[[str, datetime], tuple[Decimal, datetime] | None]
"""``(asset, midnight) -> (price, time of that price)``: the asset's market price at a UTC
midnight (its last close at or before it), or None when there is none
(``signalops.execution.marks``)."""

DEFAULT_STARTING_CASH = Decimal("100000")
DEFAULT_QUOTE = "USDT"
VENUE = "paper"
_REPLAYS_KEPT = 4  # "now", today's midnight, and a couple of past moments
_MARKS_KEPT = 4096  # (asset, midnight) -> market mark: a universe's day, many times over
_NAN = Decimal("NaN")
_ZERO = Decimal(0)
_MAX_EXPONENT = 100  # see ``_amount``


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _amount(text: str) -> Decimal:
    """A stored amount. Anything but a finite number of a sane size (a tampered or corrupt row:
    ``abc``, ``Infinity``, ``sNaN``, ``1E+999999``) reads as a quiet NaN, so the book becomes
    NaN instead of raising and the risk gate names what it cannot value. No amount is near
    ``10**±_MAX_EXPONENT``: below that bound, no sum, product or quotient of ledger amounts can
    overflow the decimal context (which would raise)."""
    try:
        value = Decimal(text)
    except (InvalidOperation, TypeError, ValueError):
        return _NAN
    if not value.is_finite() or (value and not -_MAX_EXPONENT < value.adjusted() < _MAX_EXPONENT):
        return _NAN
    return value


@dataclass(frozen=True)
class _FillRow:
    seq: int
    client_order_id: str
    decision_id: str
    strategy: str
    asset: str
    side: Side
    quantity: Decimal
    price: Decimal
    fee: Decimal
    reference_price: Decimal
    placed_at: datetime
    filled_at: datetime

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> _FillRow:
        (seq, coid, decision, strategy, asset, side, qty, price, fee, ref, _, _, placed,
         filled) = row  # fmt: skip
        return cls(
            seq, coid, decision, strategy, asset, Side(side), _amount(qty), _amount(price),
            _amount(fee), _amount(ref), _parse_time(placed), _parse_time(filled),
        )  # fmt: skip

    @classmethod
    def written(
        cls,
        seq: int,
        values: tuple[Any, ...],
        amounts: tuple[Decimal, Decimal, Decimal, Decimal],
        times: tuple[datetime, datetime],
    ) -> _FillRow:
        """``from_row((seq, *values))`` of the row ``execute`` just wrote, whose quantity,
        price, fee and reference price are the texts of ``amounts`` and whose placed and filled
        times are those of ``times``: each object itself where its text reads back as it, so
        that nothing just printed is parsed again."""
        (coid, decision, strategy, asset, side, qty, price, fee, ref, _, _, placed,
         filled) = values  # fmt: skip
        quantity, price_, fee_, reference = amounts
        return cls(
            seq, coid, decision, strategy, asset, Side(side), _as_read(quantity, qty),
            _as_read(price_, price), _as_read(fee_, fee), _as_read(reference, ref),
            _time_as_read(times[0], placed), _time_as_read(times[1], filled),
        )  # fmt: skip

    def fill(self) -> Fill:
        return Fill(
            client_order_id=self.client_order_id,
            asset=self.asset,
            side=self.side,
            quantity=self.quantity,
            price=self.price,
            fee=self.fee,
            at=self.filled_at,
            venue=VENUE,
            venue_order_id=f"paper-{self.seq}",
        )


def _as_read(value: Decimal, text: str) -> Decimal:
    """``_amount(text)`` where ``text`` is ``str(value)``: ``value`` itself when it is an exact,
    finite ``Decimal`` of a sane size (its text reads back as the same sign, digits and
    exponent), else the text read as a stored amount is."""
    if (
        value.__class__ is Decimal
        and value.is_finite()
        and (not value or -_MAX_EXPONENT < value.adjusted() < _MAX_EXPONENT)
    ):
        return value
    return _amount(text)


def _time_as_read(moment: datetime, text: str) -> datetime:
    """``_parse_time(text)`` where ``text`` is ``iso(moment)``: ``moment`` itself when it is
    an exact ``datetime`` in ``UTC`` (from year 1000 on, its first fold), which its text reads
    back as, field for field and zone for zone."""
    if (
        moment.__class__ is datetime
        and moment.tzinfo is UTC
        and moment.year >= 1000
        and not moment.fold
    ):
        return moment
    return _parse_time(text)


def _below(small: Decimal, large: Decimal) -> bool:
    """``small < large`` for finite numbers; False for a NaN (whose comparison would raise)."""
    return small.is_finite() and large.is_finite() and small < large


@dataclass
class _Holding:
    quantity: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)  # cost basis, buy fees included
    last_price: Decimal = Decimal(0)  # of the last fill, the fallback mark
    last_time: datetime | None = None  # that price's time (the fill's ``filled_at``)

    @property
    def average_price(self) -> Decimal:
        if not (self.cost.is_finite() and self.quantity.is_finite()):
            return _NAN  # a quotient of NaNs or infinities would raise, not say "unknown"
        return self.cost / self.quantity if self.quantity else Decimal(0)


@dataclass
class _Book:
    """Cash, holdings and realised PnL after replaying fills in ledger order."""

    cash: Decimal
    realised: Decimal = Decimal(0)
    holdings: dict[str, _Holding] = field(default_factory=dict)

    def apply(self, fill: _FillRow) -> None:
        holding = self.holdings.get(fill.asset)
        if holding is None:  # not ``setdefault``, which would make one to throw away each time
            holding = self.holdings[fill.asset] = _Holding()
        notional = fill.quantity * fill.price
        if fill.side is Side.BUY:
            self.cash -= notional + fill.fee
            holding.quantity += fill.quantity
            holding.cost += notional + fill.fee
        else:
            # Closing everything removes the whole cost exactly (no division remainder). A
            # sale of more than is held (a ledger written by racing writers, or edited) removes
            # all of it too: no division by a zero or negative quantity, so never a 0/0.
            if _below(fill.quantity, holding.quantity) and _below(Decimal(0), holding.quantity):
                removed = holding.cost * fill.quantity / holding.quantity
            else:
                removed = holding.cost
            self.cash += notional - fill.fee
            self.realised += notional - fill.fee - removed
            holding.quantity -= fill.quantity
            holding.cost -= removed
        holding.last_price = fill.price
        holding.last_time = fill.filled_at
        if holding.quantity == 0:
            holding.cost = Decimal(0)

    def held(self, asset: str) -> Decimal:
        holding = self.holdings.get(asset)
        return holding.quantity if holding else Decimal(0)

    def copy(self) -> _Book:
        holdings = {
            a: _Holding(h.quantity, h.cost, h.last_price, h.last_time)
            for a, h in self.holdings.items()
        }
        return _Book(self.cash, self.realised, holdings)


@dataclass
class _Books:
    """The account's book and each strategy's, after the same fills.

    A strategy's book starts with no cash: its ``cash`` is the net cash flow of its own fills,
    to which the view adds its allocation (see ``PaperBroker.book``)."""

    account: _Book
    strategies: dict[str, _Book] = field(default_factory=dict)

    def apply(self, fill: _FillRow) -> None:
        self.account.apply(fill)
        book = self.strategies.get(fill.strategy)
        if book is None:
            book = self.strategies[fill.strategy] = _Book(cash=Decimal(0))
        book.apply(fill)

    def own(self, name: str) -> _Book:
        """The strategy's book as kept (not a copy: for a reader that changes nothing)."""
        found = self.strategies.get(name)
        return found if found is not None else _Book(cash=Decimal(0))


_DayHolding = tuple[str, Decimal, Decimal, datetime | None]


@dataclass(frozen=True, slots=True)
class _Standing:
    """A book's figures but for the marks: what its views are made of. ``holdings``: (asset,
    quantity, average price, last fill price) of each open position, in asset order;
    ``day_start``: the equity at the day's start with each position held then at its last fill
    price before midnight (None: a book that shares the account's); ``day_cash`` and
    ``day_holdings``: what that is the sum of, the cash at midnight (an allocation not
    included) and (asset, quantity, last fill price, its time) of each holding then, in the
    book's order (closed ones too: their terms are in the sum); ``held_at_midnight``: whether
    any of those is open (marks to look up)."""

    cash: Decimal
    realised: Decimal
    day_start: Decimal | None
    holdings: tuple[tuple[str, Decimal, Decimal, Decimal], ...]
    day_cash: Decimal = Decimal(0)
    day_holdings: tuple[_DayHolding, ...] = ()
    held_at_midnight: bool = False
    filled: tuple[tuple[str, datetime | None], ...] = ()  # each open position's last fill time
    # The assets held at midnight and still held: a view that does not price one values it at
    # its last fill, at midnight too (``_day_start_marked``).
    carried: tuple[str, ...] = ()

    @classmethod
    def of(cls, book: _Book, day_book: _Book | None, capital: Decimal | None) -> _Standing:
        """``book``'s figures, and ``day_book``'s (the book at midnight; None: it shares the
        account's) as its day's start, ``capital`` added (None: none). Made again after every
        fill and at every day's start a gate asks at: one pass over each book."""
        held, filled = [], []
        for asset, h in sorted(book.holdings.items()):
            if h.quantity != 0:
                held.append((asset, h.quantity, h.average_price, h.last_price))
                filled.append((asset, h.last_time))
        if day_book is None:
            return cls(book.cash, book.realised, None, tuple(held), filled=tuple(filled))
        day, carried, total, at_midnight = [], [], Decimal(0), False
        for asset, h in day_book.holdings.items():
            day.append((asset, h.quantity, h.last_price, h.last_time))
            total += h.quantity * h.last_price  # at its last fill: the ledger knows no other
            if h.quantity != 0:
                at_midnight = True
                now = book.holdings.get(asset)
                if now is not None and now.quantity != 0:
                    carried.append(asset)
        day_start = day_book.cash + total
        if capital is not None:
            day_start = capital + day_start
        return cls(
            book.cash, book.realised, day_start, tuple(held), day_book.cash, tuple(day),
            at_midnight, tuple(filled), tuple(carried),
        )  # fmt: skip

    def positions(self, prices: Mapping[str, Decimal | float | str]) -> dict[str, Position]:
        """The open positions, marked at ``prices`` (else at their last fill price)."""
        positions = {}
        for asset, quantity, average, last in self.holdings:
            mark = prices.get(asset)
            if mark is None:
                mark = last
            elif mark.__class__ is not Decimal:  # a gate's marks are Decimals already
                mark = to_decimal(mark)
            positions[asset] = Position(asset, quantity, average, mark)
        return positions


@dataclass
class _Replay:
    """The books over the first ``seen`` ledger rows (those its filter accepts), kept so that
    the next call only applies the rows from ``seen`` on. ``last`` is row ``seen - 1``: if the
    row cache no longer holds that very object, the ledger was re-read and the replay restarts.

    A filtered replay stops at the first row its cut excludes (``seen`` is then that row) when
    no later row is inside the cut: the ledger is in time order there, as it always is in a
    backtest. Such an ``ordered`` replay can be continued to a later cut (the next day's start)
    instead of replaying the ledger from its first row."""

    books: _Books
    seen: int = 0
    last: _FillRow | None = None
    ordered: bool = True

    def copy(self) -> _Replay:
        books = _Books(
            self.books.account.copy(), {n: b.copy() for n, b in self.books.strategies.items()}
        )
        return _Replay(books, self.seen, self.last, self.ordered)

    def holds(self, rows: list[_FillRow]) -> bool:
        """Whether ``rows`` still begin with the rows this replay has seen."""
        return not self.seen or (self.seen <= len(rows) and rows[self.seen - 1] is self.last)


def _advance(replay: _Replay, rows: list[_FillRow], cut: datetime, inclusive: bool) -> None:
    """Apply the rows from ``replay.seen`` on that were placed before ``cut`` (or at it, when
    ``inclusive``): in order up to the first one after the cut, and any later one inside it
    too, which leaves the replay unordered (it then counts every row as seen)."""

    def inside(row: _FillRow) -> bool:
        return row.placed_at < cut or (inclusive and row.placed_at == cut)

    index = replay.seen
    while index < len(rows) and replay.ordered and inside(rows[index]):
        replay.books.apply(rows[index])
        index += 1
    later = [row for row in rows[index:] if inside(row)]
    if later or not replay.ordered:
        for row in later:
            replay.books.apply(row)
        replay.ordered, index = False, len(rows)
    replay.seen = index


class _SoleWriter:
    """``PaperBroker.sole_writer``'s block (a class: every gate opens one, and a generator's
    context manager costs several times this)."""

    __slots__ = ("_broker",)

    def __init__(self, broker: PaperBroker) -> None:
        self._broker = broker

    def __enter__(self) -> None:
        self._broker._alone += 1

    def __exit__(self, *_: object) -> None:
        broker = self._broker
        broker._alone -= 1
        if not broker._alone:
            broker._checked = False


class PaperBroker:
    """Simulated execution with fee and slippage; the portfolio lives in a ledger.

    ``db`` is a ledger (``log.paper_ledger()``: fills written in the audit log's transactions),
    a ``sqlite_utils.Database``, or a path to a SQLite file of its own, which the broker opens
    and ``close`` closes. ``starting_cash`` and
    ``quote`` are fixed when the ledger is created; reopening keeps them (passing a different
    value is an error rather than a silent reset of the account; ``log``, the audit log the
    ledger lives in as messages name it, says which log to replace). ``midnight_marks``: the
    market price of an asset at a UTC midnight, which the day's start is valued at (see
    ``portfolio``; settable, as where the pipeline is made: ``signalops.execution.marks``).
    """

    mode = Mode.PAPER

    def __init__(
        self,
        db: PaperLedger | sqlite_utils.Database | str | Path,
        *,
        starting_cash: Decimal | int | str | None = None,
        fee_bps: Decimal | int | str = 10,
        slippage_bps: Decimal | int | str = 5,
        quote: str | None = None,
        price: PriceSource | None = None,
        created_at: datetime | None = None,
        midnight_marks: MarkSource | None = None,
        log: Path | str | None = None,
    ) -> None:
        self._owned: sqlite_utils.Database | None = None
        self._log = log
        self._file = Path(db) if isinstance(db, str | Path) else None  # a ledger of its own
        if isinstance(db, str | Path):
            db = self._owned = sqlite_utils.Database(db)
        self.ledger: PaperLedger = SQLiteLedger(db) if isinstance(db, sqlite_utils.Database) else db
        self.fee_bps = to_decimal(fee_bps)
        self.slippage_bps = to_decimal(slippage_bps)
        if self.fee_bps < 0 or self.slippage_bps < 0:
            raise ExecutionError("paper broker: fee_bps and slippage_bps must not be negative")
        self.price = price
        self.capital: dict[str, Decimal] = {}  # see ``allocate``
        self._cache: list[_FillRow] = []
        self._last_raw: tuple[Any, ...] | None = None  # the last cached row as SQLite gave it
        self._by_order: dict[str, _FillRow] = {}  # client order id -> its row, of the cache
        self._trusted: tuple[int, int] | None = None  # see ``_rows``
        self._latest_placed: datetime | None = None
        self._replays: dict[tuple[datetime | None, bool], _Replay] = {}
        self._views: tuple[tuple[Any, ...], PortfolioView] | None = None  # see ``portfolio``
        # whose (None: the account) -> (rows, how many, cuts, figures): see ``_standing``
        self._standings: dict[
            str | None, tuple[list[_FillRow], int, tuple[Any, ...], _Standing]
        ] = {}
        # (rows, how many, the time asked, its cuts): see ``_cuts``
        self._asked: tuple[list[_FillRow], int, datetime, tuple[Any, ...]] | None = None
        # whose -> (figures, midnight, assets at their last fill, allocation, the day's start
        # and its marks): see ``_day_start_marked``
        self._day_marked: dict[str | None, tuple[Any, ...]] = {}
        self._last_day: tuple[datetime, datetime] | None = None  # see ``_day_start``
        self._midnight_marks = midnight_marks  # see ``midnight_marks``
        self._marks: dict[tuple[str, datetime], tuple[Decimal, datetime] | None] = {}
        self._alone = 0  # how many ``sole_writer`` blocks are open
        self._checked = False  # the ledger was checked in the open ``sole_writer`` block
        self.starting_cash, self.quote = self._open_account(
            None if starting_cash is None else to_decimal(starting_cash),
            quote,
            created_at or datetime.now(UTC),
        )

    def close(self) -> None:
        if self._owned is not None:
            self._owned.close()

    @property
    def costs(self) -> FillCosts:
        """The slippage and fee each fill pays (what sizing leaves a BUY room for)."""
        return FillCosts(self.fee_bps, self.slippage_bps)

    # --- schema and account ---------------------------------------------------------------

    def _open_account(
        self, starting_cash: Decimal | None, quote: str | None, created_at: datetime
    ) -> tuple[Decimal, str]:
        if self.ledger.readonly:  # a command that only looks: read the account, open nothing
            row = self.ledger.account() if self.ledger.exists() else None
            if row is None:
                return DEFAULT_STARTING_CASH, quote or DEFAULT_QUOTE
            return Decimal(row[0]), row[1]
        with self.ledger.write():
            self.ledger.create()
            row = self.ledger.account()
            if row is None:
                cash = DEFAULT_STARTING_CASH if starting_cash is None else starting_cash
                if not cash.is_finite() or cash <= 0:
                    raise ExecutionError(f"paper broker: starting cash must be positive: {cash}")
                currency = quote or DEFAULT_QUOTE
                self.ledger.open_account(str(cash), currency, str(iso(created_at)))
                return cash, currency
        cash, currency = Decimal(row[0]), row[1]
        if starting_cash is not None and starting_cash != cash:
            raise ExecutionError(
                f"{self._ledger_words()} was created with starting cash "
                f"{numbers.money(cash, currency)}, not {numbers.money(starting_cash, currency)}; "
                f"{self._start_over()}"
            )
        if quote is not None and quote != currency:
            raise self._other_currency(currency, quote)
        return cash, currency

    def other_currency(self, quote: str, why: str) -> ExecutionError:
        """The error refusing to trade prices in ``quote`` in this account, in another
        currency (``why``: whose prices they are, ``Config.account_problem``)."""
        return self._other_currency(self.quote, quote, f"{why}; ")

    def _other_currency(self, currency: str, quote: str, why: str = "") -> ExecutionError:
        return ExecutionError(
            f"{self._ledger_words()} is in {currency}, not {quote}: {why}an account keeps the "
            f"currency it was made in; {self._start_over()}"
        )

    def _ledger_words(self) -> str:
        """Where the ledger is: tables in the audit log (a run's), or a file of its own."""
        if self._log is not None:
            return f"paper ledger in the audit log {self._log}"
        return "paper ledger" if self._file is None else f"paper ledger {self._file}"

    def _start_over(self) -> str:
        if self._log is None:
            return "use a new ledger file to start over"
        # A shared log is a database URL (``AuditStore.path``), a local one a file.
        kind = "file" if isinstance(self._log, Path) else "database"
        return f"to start over, run with a new --audit {kind}"

    # --- the ledger -------------------------------------------------------------------------

    def fills(self) -> list[Fill]:
        """Every fill in ledger order."""
        return [row.fill() for row in self._rows()]

    def closed_trades(self, strategy: str, before: datetime) -> list[Decimal]:
        """The realised PnL of each of ``strategy``'s SELL fills placed before ``before``, in
        ledger order (average cost, fees included, as the books count it): the measured
        results Kelly sizing estimates its win rate and payoff from."""
        book, found = _Book(cash=Decimal(0)), []
        for row in self._rows():
            if row.strategy != strategy or row.placed_at >= before:
                continue
            realised = book.realised
            book.apply(row)
            if row.side is Side.SELL:
                found.append(book.realised - realised)
        return found

    def sole_writer(self) -> AbstractContextManager[None]:
        """A block in which nothing but this broker writes the ledger (or undoes its writes):
        the ledger is checked at the block's first read only, and its own fills are kept as
        they are written. The caller vouches for it: a gate that only reads, or a backtest
        whose fills are all its own, inside its transaction (an error ends the block).

        Inside a transaction ``_rows`` cannot trust the connection's state (a rollback would
        not show in it), so without such a block every read of a gate (account, book, the
        fill) asked the ledger again."""
        return _SoleWriter(self)

    def _rows(self) -> list[_FillRow]:
        """The ledger in order, parsed once: only rows after the cached ones are read.

        Rows are only ever appended, and a rollback (the caller's, or our own) removes a suffix
        of them, so the cache is valid exactly when its last row is still in the table,
        unchanged; otherwise it is read again from the start. One read checks that and brings
        the new rows, and none at all while the connection's state says nothing can have
        changed (``_state``) or inside a ``sole_writer`` block once checked.
        """
        if self._checked:
            return self._cache
        rows = self._read_rows()
        self._checked = self._alone > 0
        return rows

    def _read_rows(self) -> list[_FillRow]:
        """``_rows``, checked against the ledger (see there)."""
        state = self._state()
        if state is not None and state == self._trusted:
            return self._cache
        cached = self._cache
        if cached:
            rows = self.ledger.fills_after(cached[-1].seq - 1)  # the last kept row, and after
            if rows and rows[0] == self._last_raw:
                rows = rows[1:]
            else:
                cached, rows = [], self.ledger.fills_after(0)
        else:
            rows = self.ledger.fills_after(0)
        if not cached:
            self._latest_placed = None
            self._by_order = {}
        if rows:
            new = [_FillRow.from_row(row) for row in rows]
            latest = max(row.placed_at for row in new)
            if self._latest_placed is None or latest > self._latest_placed:
                self._latest_placed = latest
            self._by_order.update((row.client_order_id, row) for row in new)
            self._last_raw = tuple(rows[-1])
            cached = cached + new
        self._cache = cached
        self._trusted = state  # the state read before the rows: a later change shows
        return cached

    def _keep_written(self, row: _FillRow, raw: tuple[Any, ...]) -> None:
        """Add the row this broker just wrote (``raw``: as the ledger gives it back) to the
        cache, which held every row before it. A rollback that removes it later is found as
        any other once no ``sole_writer`` block is open (the cache's last row is no longer in
        the table); inside one, the caller vouches that nothing is undone.

        Appended in place, not copied (a copy per fill made a long ledger's fills quadratic:
        62 µs a fill at the first 4,000, 138 µs at 20,000): a cache list only ever grows at its
        end, and a re-read makes a new list, so a list and its length name its rows (what
        ``_standing`` keeps its figures by)."""
        self._cache.append(row)
        self._last_raw = raw
        self._by_order[row.client_order_id] = row
        if self._latest_placed is None or row.placed_at > self._latest_placed:
            self._latest_placed = row.placed_at

    def _state(self) -> tuple[int, int] | None:
        """What says the ledger is as last read, outside a transaction (``PaperLedger.state``).
        None inside a transaction: its own writes, read back, may still roll back, so the rows
        are checked each time."""
        return self.ledger.state()

    def _books(
        self,
        *,
        placed_before: datetime | None = None,
        inclusive: bool = True,
        rows: list[_FillRow] | None = None,
    ) -> _Books:
        """The books after the fills placed before (or at, when ``inclusive``) a moment.

        Replays are incremental (a backtest asks every cycle, and the ledger grows): one kept
        per filter, and a filter that every row passes (the usual "as of now", and the day's
        start when nothing was placed since) is the unfiltered one. ``rows``: the ledger as
        ``_rows`` just gave it.
        """
        return self._replay(placed_before=placed_before, inclusive=inclusive, rows=rows).books

    def _replay(
        self,
        *,
        placed_before: datetime | None = None,
        inclusive: bool = True,
        rows: list[_FillRow] | None = None,
    ) -> _Replay:
        """The kept replay ``_books`` gives the books of, brought up to date."""
        if rows is None:
            rows = self._rows()
        placed_before = self._cut(rows, placed_before, inclusive)
        if placed_before is None:
            inclusive = True
        key = (placed_before, inclusive)
        replay = self._replays.get(key)
        if replay is None or not replay.holds(rows):
            replay = self._continued(placed_before, inclusive, rows)
        if placed_before is None:
            for row in rows[replay.seen :]:
                replay.books.apply(row)
            replay.seen = len(rows)
        else:
            _advance(replay, rows, placed_before, inclusive)
        replay.last = rows[replay.seen - 1] if replay.seen else None
        self._replays.pop(key, None)
        self._replays[key] = replay  # most recently used last
        while len(self._replays) > _REPLAYS_KEPT:
            del self._replays[next(iter(self._replays))]
        return replay

    def _cut(
        self, rows: list[_FillRow], placed_before: datetime | None, inclusive: bool
    ) -> datetime | None:
        """``placed_before``, or None when every row of ``rows`` (the cache) is inside it
        (today's start, when nothing was filled today): the books are then the unfiltered
        replay's, the same rows applied in the same order."""
        latest = self._latest_placed
        if placed_before is not None and (
            not rows
            or latest is None
            or latest < placed_before
            or (inclusive and latest == placed_before)
        ):
            return None
        return placed_before

    def _continued(
        self, placed_before: datetime | None, inclusive: bool, rows: list[_FillRow]
    ) -> _Replay:
        """A new replay for a cut: a copy of the kept ordered replay with the latest earlier cut
        of the same kind (yesterday's start, for today's), or one from the first row."""
        best: tuple[datetime, _Replay] | None = None
        if placed_before is not None:
            for (cut, kind), kept in self._replays.items():
                if (
                    cut is not None
                    and kind == inclusive
                    and cut <= placed_before
                    and kept.ordered
                    and kept.holds(rows)
                    and (best is None or cut > best[0])
                ):
                    best = (cut, kept)
        if best is None:
            return _Replay(_Books(_Book(cash=self.starting_cash)))
        return best[1].copy()

    # --- execution --------------------------------------------------------------------------

    def execute(self, intent: OrderIntent, *, as_of: datetime) -> ExecutionResult:
        require_aware(as_of)
        ledger = self.ledger
        rows = self._rows()
        read_in = ledger.in_transaction(), ledger.changes()  # what the rows were read under
        existing = self._by_order.get(intent.client_order_id)
        if existing is not None:
            return self._already_filled(existing, intent)
        problem = check_intent(intent)
        if problem is not None:
            return problem
        try:
            base_price, price_time = self._base_price(intent, as_of)
        except (LookupError, ValueError, ArithmeticError, SignalOpsError) as exc:
            return failed(
                Code.NO_PRICE, f"no paper price for {intent.asset} at {iso(as_of)}: {exc}"
            )
        if not base_price.is_finite() or base_price <= 0:
            return failed(Code.NO_PRICE, f"paper price for {intent.asset} is {base_price}")
        costs = self.costs
        price = costs.price(intent.side, base_price)
        notional = intent.quantity * price
        fee = costs.fee(notional)

        in_transaction = ledger.in_transaction()
        with self.ledger.write():
            # Read inside the transaction that is still open, nothing written since (and, on
            # PostgreSQL, the writers' lock not newly taken: ``changes``): the rows are as the
            # lock finds them. Otherwise read again under it: another process may have filled
            # this very order meanwhile.
            if not (in_transaction and read_in == (True, ledger.changes())):
                rows = self._rows()
            existing = self._by_order.get(intent.client_order_id)
            if existing is not None:
                return self._already_filled(existing, intent)
            replay = self._replay(rows=rows)  # every row: kept, read only until the fill
            book, own = replay.books.account, replay.books.own(intent.strategy)
            cash = self._cash_for(intent, book, own)
            quantity = intent.quantity
            if intent.side is Side.BUY and notional + fee > cash:
                quantity = self._priced_out(intent, base_price, cash)
                notional = quantity * price
                fee = costs.fee(notional)
            refusal = self._refusal(intent, book, own, notional + fee, cash)
            if refusal is not None:
                return refusal
            values = (
                intent.client_order_id, intent.decision_id, intent.strategy, intent.asset,
                intent.side.value, str(quantity), str(price), str(fee),
                str(intent.reference_price), str(self.fee_bps), str(self.slippage_bps),
                iso(as_of), iso(price_time),
            )  # fmt: skip
            seq = self.ledger.insert_fill(values)
            # The row as the ledger holds it (TEXT stored as given), without reading it back.
            raw = (seq, *values)
            amounts = (quantity, price, fee, intent.reference_price)
            row = _FillRow.written(seq, values, amounts, (as_of, price_time))
            fresh = rows is self._cache  # the cache held every row before this one
            book = self._applied(replay, row) if fresh else _after(book, row)
        if fresh:
            self._keep_written(row, raw)
        fill = row.fill()
        cut = quantity != intent.quantity
        return ExecutionResult(
            ExecutionStatus.FILLED,
            message=(
                f"paper {intent.side.value} {plain(fill.quantity)} {intent.asset} at "
                f"{plain(price)} {self.quote} (fee {plain(fee)})"
                + (
                    f"; {plain(intent.quantity)} ordered: the price rose from "
                    f"{plain(intent.reference_price)} to {plain(base_price)} before it filled, "
                    "and the cash allowed less"
                    if cut
                    else ""
                )
            ),
            fill=fill,
            venue_order_id=fill.venue_order_id,
            details={
                **({"ordered": intent.quantity} if cut else {}),
                "venue": VENUE,
                "base_price": base_price,
                "price_time": price_time,
                "slippage_bps": self.slippage_bps,
                "fee_bps": self.fee_bps,
                "quote": self.quote,
                "cash_after": book.cash,
                "position_after": book.held(intent.asset),
            },
        )

    def _applied(self, replay: _Replay, row: _FillRow) -> _Book:
        """The account's book after ``row``, the fill just written after every row ``replay``
        has seen (the cache's, to which ``row`` is added): applied to the kept replay itself,
        which is then up to date with the cache, as ``_books`` would bring it at the next read,
        rather than to a copy made for it and to the replay again at that read."""
        try:
            replay.books.apply(row)
        except BaseException:
            self._replays.clear()  # half applied, maybe: replayed from the rows when next asked
            raise
        replay.seen += 1
        replay.last = row
        return replay.books.account

    def _base_price(self, intent: OrderIntent, as_of: datetime) -> tuple[Decimal, datetime]:
        if self.price is None:
            return intent.reference_price, as_of
        price, at = self.price(intent.asset, as_of)
        require_aware(at, "price time")
        return to_decimal(price), at

    def spendable(self, strategy: str, account_cash: Decimal, book_cash: Decimal) -> Decimal:
        """The cash a BUY of ``strategy`` may take, as ``execute`` counts it, from the cash of
        the account's view and of the strategy's book's (``book``) at one time: the account's,
        and no more than its book's when it has an allocation (without one its book's cash
        counts the others' holdings too: ``book``)."""
        if strategy not in self.capital:
            return account_cash
        return min(account_cash, book_cash)

    def _cash_for(self, intent: OrderIntent, book: _Book, own: _Book) -> Decimal:
        """The cash a BUY may take: the account's, and no more than its strategy's allocation
        has left when it has one."""
        capital = self.capital.get(intent.strategy)
        return book.cash if capital is None else min(book.cash, capital + own.cash)

    def _priced_out(self, intent: OrderIntent, base_price: Decimal, cash: Decimal) -> Decimal:
        """What a BUY short of ``cash`` at ``base_price`` fills: the most the cash allows when
        it fitted at its own reference price and the price has risen since; otherwise all of
        it (refused)."""
        costs = self.costs
        if base_price <= intent.reference_price or (
            costs.buy_cost(intent.quantity, intent.reference_price) > cash
        ):
            return intent.quantity
        fits = costs.most_that_fits(cash, base_price, QUANTITY_STEP)
        return fits if fits > 0 else intent.quantity

    def _refusal(
        self, intent: OrderIntent, book: _Book, own: _Book, cost: Decimal, cash: Decimal
    ) -> ExecutionResult | None:
        """Why the order cannot fill: a strategy sells only what its own book holds, and buys
        with no more than ``cash`` (``_cash_for``)."""
        if intent.side is Side.SELL:
            held = own.held(intent.asset)
            if intent.quantity > held:
                return failed(
                    Code.INSUFFICIENT_POSITION,
                    f"cannot sell {plain(intent.quantity)} {intent.asset}: "
                    f"{plain(held)} held by {intent.strategy} (paper never goes short)",
                    held=held,
                )
            return None
        if cost > cash:
            shown = numbers.money(cost, self.quote), numbers.money(cash, self.quote)
            if shown[0] == shown[1]:  # apart by less than a cent: their digits say which
                shown = f"{plain(cost)} {self.quote}", f"{plain(cash)} {self.quote}"
            return failed(
                Code.INSUFFICIENT_FUNDS,
                f"buying {plain(intent.quantity)} {intent.asset} costs {shown[0]} with fee; "
                f"cash is {shown[1]}",
                cash=cash,
                cost=cost,
            )
        return None

    def _already_filled(self, row: _FillRow, intent: OrderIntent) -> ExecutionResult:
        # ``_priced_out``'s fill of this BUY: less, at its reference price, filled above it
        # (its price holds the slippage of then: the broker's may have been set otherwise since).
        cut = (
            intent.side is Side.BUY
            and 0 < row.quantity < intent.quantity
            and row.reference_price == intent.reference_price
            and row.price > intent.reference_price
        )
        if (row.asset, row.side) != (intent.asset, intent.side) or (
            row.quantity != intent.quantity and not cut
        ):
            return failed(
                Code.CLIENT_ORDER_ID_REUSED,
                f"client order id {intent.client_order_id} already filled a different order "
                f"({row.side.value} {plain(row.quantity)} {row.asset}, paper-{row.seq})",
            )
        fill = row.fill()
        return ExecutionResult(
            ExecutionStatus.FILLED,
            message=f"already filled as {fill.venue_order_id}; not executed again",
            fill=fill,
            venue_order_id=fill.venue_order_id,
            details={"venue": VENUE, "already_filled": True},
        )

    # --- the portfolio ----------------------------------------------------------------------

    def portfolio(
        self, prices: Mapping[str, Decimal | float | str], as_of: datetime
    ) -> PortfolioView:
        """The portfolio as of ``as_of``: fills placed at or before it, marked at ``prices``.

        An asset missing from ``prices`` is marked at its last fill price.

        ``day_start_equity`` is the equity at 00:00 UTC of ``as_of``'s day: the cash after the
        fills placed before that midnight, plus each position held then at its market price at
        midnight (``midnight_marks``: its last close at or before it), so that a daily loss
        limit measures the day's move only. A position is at its last fill price before
        midnight instead when no market price is known (no ``midnight_marks``, none found, or
        one older than that fill), or when this view marks it at its last fill now (held, and
        not in ``prices``): its move, which neither figure knows, is then left out of both.
        ``day_start_marks`` says what each position held at midnight was valued at (empty
        without ``midnight_marks``: the positions are then all at their last fill).
        """
        if as_of.tzinfo is not UTC:  # UTC is aware: no call to find out, at every view
            require_aware(as_of)
        rows = self._rows()
        # The same view for the same question on the same ledger (``book`` asks what the
        # pipeline's gate just asked): made once. Views are not changed by their users.
        key = (as_of, tuple(prices.items()), len(rows), rows[-1] if rows else None)
        if self._views is not None and self._views[0] == key:
            return self._views[1]
        standing = self._standing(rows, as_of, None)
        day_start, marks = self._day_start_marked(standing, prices, as_of, None)
        view = PortfolioView(
            cash=standing.cash,
            positions=standing.positions(prices),
            realised_pnl=standing.realised,
            day_start_equity=day_start,
            day_start_marks=marks,
        )
        self._views = (key, view)
        return view

    def held_at(self, as_of: datetime) -> tuple[tuple[str, datetime | None], ...]:
        """The account's open positions as of ``as_of``: each asset, in asset order, with its
        last fill's time (what the gate weighs a market price of it against)."""
        if as_of.tzinfo is not UTC:
            require_aware(as_of)
        return self._standing(self._rows(), as_of, None).filled

    def starts_day_at_market(self, asset: str, as_of: datetime) -> bool:
        """Whether the account's position in ``asset`` at ``as_of``'s midnight starts the day
        at the market's price then (``_day_mark``), or there was none. A view that marks it at
        market now must mark it so at midnight too (like with like): one whose day starts at
        its last fill (no price at midnight: a live outcome's) is valued at its last fill now
        as well, or the move since that fill would read as the day's."""
        require_aware(as_of)
        standing = self._standing(self._rows(), as_of, None)
        for held, quantity, last, last_time in standing.day_holdings:
            if held != asset or quantity == 0:
                continue
            if self._midnight_marks is None:
                return False
            midnight = self._day_start(as_of)
            mark = self._day_mark(asset, quantity, last, last_time, midnight, False)
            return mark.source == DAY_START_MARKET
        return True

    def _standing(self, rows: list[_FillRow], as_of: datetime, strategy: str | None) -> _Standing:
        """The account's (``strategy`` None) or a strategy's book's figures at ``as_of`` on
        ``rows`` (the cache), but for the marks: kept while the rows, the cuts at ``as_of`` and
        at its day's start, and the allocation are the same (the gate asks for the views at
        every decision, with new prices only)."""
        capital = None if strategy is None else self.capital.get(strategy)
        cut_now, cut_midnight = self._cuts(rows, as_of)
        cuts = (cut_now, cut_midnight, capital)
        kept = self._standings.get(strategy)
        if kept is not None and kept[0] is rows and kept[1] == len(rows) and kept[2] == cuts:
            return kept[3]
        standing = self._standing_of(rows, as_of, strategy, cut_midnight, capital)
        # The rows too (their id stays theirs), and how many: the cache grows in place.
        self._standings[strategy] = (rows, len(rows), cuts, standing)
        return standing

    def _cuts(
        self, rows: list[_FillRow], as_of: datetime
    ) -> tuple[datetime | None, datetime | None]:
        """The cuts of ``rows`` at ``as_of`` and at its day's start (``_cut``): worked out once
        for the views asked at one time on the same rows (a gate asks for the holdings, the
        account and the book at once), as they are a function of the rows and the time."""
        kept = self._asked
        if kept is not None and kept[0] is rows and kept[1] == len(rows) and kept[2] == as_of:
            return kept[3]
        midnight = self._day_start(as_of)
        cuts = (self._cut(rows, as_of, True), self._cut(rows, midnight, False))
        self._asked = (rows, len(rows), as_of, cuts)
        return cuts

    def _standing_of(
        self,
        rows: list[_FillRow],
        as_of: datetime,
        strategy: str | None,
        cut_midnight: datetime | None,
        capital: Decimal | None,
    ) -> _Standing:
        """``_standing``'s figures, worked out from the kept replays (``cut_midnight``: the cut
        at the day's start, ``_cuts``'s)."""
        # Read only (no copies): the figures are taken out of the kept books at once.
        books = self._books(placed_before=as_of, rows=rows)
        if strategy is not None and capital is None:  # its day starts with the account's
            return _Standing.of(books.own(strategy), None, None)
        # Every row placed before midnight (``_cut`` None): the day starts with the same books.
        at_midnight = books
        if cut_midnight is not None:
            at_midnight = self._books(placed_before=cut_midnight, inclusive=False, rows=rows)
        if strategy is None:
            return _Standing.of(books.account, at_midnight.account, None)
        return _Standing.of(books.own(strategy), at_midnight.own(strategy), capital)

    def _day_start(self, as_of: datetime) -> datetime:
        """``day_start_of(as_of)``, worked out once for the views asked at one time."""
        last = self._last_day
        if last is not None and last[0] == as_of:  # the same instant: the same UTC midnight
            return last[1]
        midnight = day_start_of(as_of)
        self._last_day = (as_of, midnight)
        return midnight

    # --- the day's start at market prices ---------------------------------------------------

    @property
    def midnight_marks(self) -> MarkSource | None:
        """Where the market price of an asset at a UTC midnight comes from (None: nowhere, and
        positions held at midnight count at their last fill price before it)."""
        return self._midnight_marks

    @midnight_marks.setter
    def midnight_marks(self, source: MarkSource | None) -> None:
        self._midnight_marks = source
        self._marks = {}
        self._views = None  # made with the marks of the source before
        self._day_marked = {}  # likewise

    def _day_start_marked(
        self,
        standing: _Standing,
        prices: Mapping[str, Decimal | float | str],
        as_of: datetime,
        capital: Decimal | None,
        whose: str | None = None,
    ) -> tuple[Decimal, tuple[DayStartMark, ...]]:
        """``standing``'s equity at the day's start, each position held at midnight at its
        market price then (see ``portfolio``), and what each was marked at. Without a source
        of marks, or nothing held at midnight, the figure kept (last fill prices), no marks.

        Worked out once per standing (``whose``: the account's, None, or that strategy's
        book's), midnight and positions the view marks at their last fill: a gate asks at every
        decision of the day with new prices, which change neither (each asset's mark is asked
        once per midnight, and the source is the same until ``midnight_marks`` is set)."""
        day_start = standing.day_start
        assert day_start is not None  # the account's, or an allocated book's
        if self._midnight_marks is None or not standing.held_at_midnight:
            return day_start, ()
        midnight = self._day_start(as_of)
        at_fill = tuple(asset for asset in standing.carried if asset not in prices)
        kept = self._day_marked.get(whose)
        if (
            kept is not None
            and kept[0] is standing
            and kept[1] == midnight
            and kept[2] == at_fill
            and kept[3] == capital
        ):
            return kept[4]
        found = self._marked_day_start(standing, midnight, at_fill, capital)
        self._day_marked[whose] = (standing, midnight, at_fill, capital, found)
        return found

    def _marked_day_start(
        self,
        standing: _Standing,
        midnight: datetime,
        at_fill: tuple[str, ...],
        capital: Decimal | None,
    ) -> tuple[Decimal, tuple[DayStartMark, ...]]:
        """``_day_start_marked``'s figure and marks, ``at_fill`` the positions held then and
        now that the view values at their last fill."""
        total, marks = Decimal(0), []
        # Summed as ``_Standing.of`` sums: with every mark a last fill price, the figure
        # is the one kept, to the last digit.
        for asset, quantity, last, last_time in standing.day_holdings:
            price = last
            if quantity != 0:
                mark = self._day_mark(asset, quantity, last, last_time, midnight, asset in at_fill)
                marks.append(mark)
                price = mark.price
            total += quantity * price
        day_start = standing.day_cash + total
        if capital is not None:
            day_start = capital + day_start
        return day_start, tuple(sorted(marks, key=lambda mark: mark.asset))

    def _day_mark(
        self,
        asset: str,
        quantity: Decimal,
        last: Decimal,
        last_time: datetime | None,
        midnight: datetime,
        at_fill: bool,
    ) -> DayStartMark:
        """What ``asset``'s position at ``midnight`` is valued at: its market price then, or
        its last fill price (``at_fill``: the view values it so now; no market price; or a
        fill price known before midnight that is newer than the market's)."""
        filled = last_time if last_time is not None else midnight  # an open position has one
        fallback = DayStartMark(asset, quantity, last, filled, DAY_START_LAST_FILL)
        if at_fill:
            return fallback
        found = self._market_mark(asset, midnight)
        if found is None or (filled <= midnight and found[1] < filled):
            return fallback
        return DayStartMark(asset, quantity, found[0], found[1], DAY_START_MARKET)

    def _market_mark(self, asset: str, midnight: datetime) -> tuple[Decimal, datetime] | None:
        """``midnight_marks(asset, midnight)``, asked once per asset and midnight: a price
        that is not a positive number, or is from after midnight, is no mark."""
        key = (asset, midnight)
        if key in self._marks:
            return self._marks[key]
        source = self._midnight_marks
        assert source is not None
        return self._keep_mark(key, source(asset, midnight))

    def note_midnight_price(
        self, asset: str, as_of: datetime, price: Callable[[], tuple[Decimal, datetime] | None]
    ) -> None:
        """Take ``price()`` as ``asset``'s mark at ``as_of`` when ``as_of`` is a UTC midnight
        whose mark is not known yet: the caller's answers at that very time are what
        ``midnight_marks`` would ask the same sources for (the gate's reference-price answers,
        ``reference_price`` without an age bound). A decision at 00:00 then does not ask the
        sources again when the day's start is valued. No price found: nothing is taken (the
        source is asked as before)."""
        if self._midnight_marks is None:
            return
        midnight = self._day_start(as_of)
        if midnight != as_of or (asset, midnight) in self._marks:
            return
        found = price()
        if found is not None:
            self._keep_mark((asset, midnight), found)

    def _keep_mark(
        self, key: tuple[str, datetime], found: tuple[Decimal | float | str, datetime] | None
    ) -> tuple[Decimal, datetime] | None:
        """Keep a source's answer for ``key`` (a price that is not a positive number, or is
        from after the midnight, is no mark)."""
        marked: tuple[Decimal, datetime] | None = None
        if found is not None:
            price, at = to_decimal(found[0]), found[1]
            require_aware(at, "mark time")
            if price.is_finite() and price > 0 and at <= key[1]:
                marked = (price, at)
        self._marks[key] = marked
        while len(self._marks) > _MARKS_KEPT:
            del self._marks[next(iter(self._marks))]
        return marked

    # --- each strategy's book ---------------------------------------------------------------

    def allocate(self, capital: Mapping[str, Decimal]) -> None:
        """Give strategies their own cash: ``name -> amount`` (of the quote currency).

        A strategy without an allocation shares the whole account, as when it runs alone: it is
        sized on the account's equity and may spend the account's cash. Either way it holds
        and sells only its own positions. Allocations are configuration, not ledger rows: the
        ledger keeps only fills (each with its strategy), so any log opens under any config.
        """
        for name, amount in capital.items():
            if not amount.is_finite() or amount <= 0:
                raise ExecutionError(f"paper broker: capital of {name} must be positive: {amount}")
        self.capital = dict(capital)

    def strategies(self) -> list[str]:
        """Every strategy with a fill in the ledger, sorted."""
        return sorted(self._books().strategies)

    def book(
        self, strategy: str, prices: Mapping[str, Decimal | float | str], as_of: datetime
    ) -> PortfolioView:
        """``strategy``'s book as of ``as_of``: only its own positions and realised PnL.

        Its cash is its allocation plus the net cash of its fills; without an allocation it
        shares the account: its equity is the account's (cash is what the account is worth
        beyond this book's positions), so a strategy running alone sizes as it always did.
        ``day_start_equity`` likewise: its own at midnight (marked as ``portfolio`` marks the
        account's), or the account's.
        """
        if as_of.tzinfo is not UTC:  # UTC is aware: no call to find out, at every view
            require_aware(as_of)
        rows = self._rows()
        # Figures, not the kept books: ``portfolio`` below may read newer rows into those.
        own = self._standing(rows, as_of, strategy)
        positions = own.positions(prices)
        capital = self.capital.get(strategy)
        if capital is None:
            account = self.portfolio(prices, as_of)
            # The others' holdings count as this book's cash: summed, not subtracted from the
            # account's equity, so that alone (the others hold 0) its cash is the account's to
            # the last digit and it sizes exactly as before books existed.
            others = Decimal(0)  # summed in the account's order, as ``sum`` would
            for asset, held in account.positions.items():
                mine = positions.get(asset)
                own_quantity = _ZERO if mine is None else mine.quantity
                others += (held.quantity - own_quantity) * held.last_price
            return PortfolioView(
                cash=account.cash + others,
                positions=positions,
                realised_pnl=own.realised,
                day_start_equity=account.day_start_equity,
                day_start_marks=account.day_start_marks,
            )
        day_start, marks = self._day_start_marked(own, prices, as_of, capital, strategy)
        return PortfolioView(
            cash=capital + own.cash,
            positions=positions,
            realised_pnl=own.realised,
            day_start_equity=day_start,
            day_start_marks=marks,
        )


def _after(book: _Book, row: _FillRow) -> _Book:
    """A copy of ``book`` with ``row`` applied (``book`` itself is kept as it is)."""
    after = book.copy()
    after.apply(row)
    return after


def day_start_of(as_of: datetime) -> datetime:
    """The UTC midnight that starts ``as_of``'s day: where MAX_DAILY_LOSS's day begins."""
    return as_of.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
