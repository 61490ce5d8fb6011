"""What a backtest did, as values: equity points, fills (legs) and round-trip trades.

Round trips are rebuilt from the fills the audit log recorded, not from the paper ledger's own
books, so that a trade in ``trades.csv`` cites the decisions that made it. A round trip starts
when a position in an asset opens (from zero) and ends when it is back to zero; every BUY in
between adds to it (the pipeline may buy again while holding, up to the risk limits), and a SELL
closes the whole position (sizing sells everything held).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import repeat
from typing import Any

from signalops.canonical import iso
from signalops.orders import Side


@dataclass(frozen=True, slots=True)
class EquityPoint:
    """The portfolio at ``time``: cash plus positions marked at the last close."""

    time: datetime
    equity: Decimal
    cash: Decimal
    held: bool  # any position open during the period that ends here

    @property
    def exposure(self) -> Decimal:
        return self.equity - self.cash


# Values made once per bar are made without their frozen dataclass's ``__init__`` (an
# ``object.__setattr__`` per field, twice the cost): each field set by its slot's own setter.
_new = object.__new__
_SET_TIME, _SET_EQUITY, _SET_CASH, _SET_HELD = (
    vars(EquityPoint)[name].__set__ for name in ("time", "equity", "cash", "held")
)


def equity_point(time: datetime, equity: Decimal, cash: Decimal, held: bool) -> EquityPoint:
    """``EquityPoint(time, equity, cash, held)``, made as fast as a backtest needs (two a bar)."""
    point = _new(EquityPoint)
    _SET_TIME(point, time)
    _SET_EQUITY(point, equity)
    _SET_CASH(point, cash)
    _SET_HELD(point, held)
    return point


_consume: Callable[[Iterable[Any]], None] = deque(
    maxlen=0
).extend  # runs an iterator to its end, in C


def equity_points(
    times: Sequence[datetime],
    equities: Iterable[Decimal],
    cashes: Iterable[Decimal],
    held: Iterable[bool],
) -> list[EquityPoint]:
    """``[equity_point(t, e, c, h) for t, e, c, h in zip(times, equities, cashes, held)]``, for
    stretches of a curve (each of ``equities``, ``cashes`` and ``held`` has a value for every
    one of ``times``): the points made, then each field set, by ``map`` (a Python call per
    point was most of the cost)."""
    points = list(map(_new, repeat(EquityPoint, len(times))))
    _consume(map(_SET_TIME, points, times))
    _consume(map(_SET_EQUITY, points, equities))
    _consume(map(_SET_CASH, points, cashes))
    _consume(map(_SET_HELD, points, held))
    return points


@dataclass(frozen=True)
class Leg:
    """One fill of one decision."""

    decision_id: str
    decided_at: datetime  # the decision's as_of
    asset: str
    side: Side
    quantity: Decimal
    price: Decimal  # slippage included
    fee: Decimal
    filled_at: datetime  # the time of the price (the next bar's open)

    @property
    def notional(self) -> Decimal:
        return self.quantity * self.price


@dataclass(frozen=True)
class Trade:
    """A round trip: the legs from opening a position to closing it (or to the end, if open).

    ``pnl`` = sells' notional - buys' notional - every fee; ``ret`` = pnl / what was paid for the
    buys (fees included). Prices are quantity-weighted averages. An open trade has no exit, pnl
    or return: it is marked in the equity curve, not counted as a win or a loss.
    """

    asset: str
    entries: tuple[Leg, ...]
    exits: tuple[Leg, ...]
    closed: bool

    @property
    def quantity(self) -> Decimal:
        return sum((leg.quantity for leg in self.entries), Decimal(0))

    @property
    def entry_time(self) -> datetime:
        return self.entries[0].filled_at

    @property
    def exit_time(self) -> datetime | None:
        return self.exits[-1].filled_at if self.closed else None

    @property
    def entry_price(self) -> Decimal:
        return _average(self.entries)

    @property
    def exit_price(self) -> Decimal | None:
        return _average(self.exits) if self.closed else None

    @property
    def fees(self) -> Decimal:
        return sum((leg.fee for leg in (*self.entries, *self.exits)), Decimal(0))

    @property
    def cost(self) -> Decimal:
        return sum((leg.notional + leg.fee for leg in self.entries), Decimal(0))

    @property
    def pnl(self) -> Decimal | None:
        if not self.closed:
            return None
        proceeds = sum((leg.notional - leg.fee for leg in self.exits), Decimal(0))
        return proceeds - self.cost

    @property
    def ret(self) -> float | None:
        pnl = self.pnl
        return None if pnl is None else float(pnl / self.cost)

    def to_dict(self) -> dict[str, Any]:
        return {
            "asset": self.asset,
            "status": "closed" if self.closed else "open",
            "entry_time": iso(self.entry_time),
            "entry_price": str(self.entry_price),
            "exit_time": iso(self.exit_time),
            "exit_price": None if self.exit_price is None else str(self.exit_price),
            "quantity": str(self.quantity),
            "pnl": None if self.pnl is None else str(self.pnl),
            "return": self.ret,
            "fees": str(self.fees),
            "entry_decisions": [leg.decision_id for leg in self.entries],
            "exit_decisions": [leg.decision_id for leg in self.exits],
        }


def _average(legs: tuple[Leg, ...]) -> Decimal:
    quantity = sum((leg.quantity for leg in legs), Decimal(0))
    return sum((leg.notional for leg in legs), Decimal(0)) / quantity


def round_trips(legs: Iterable[Leg]) -> tuple[Trade, ...]:
    """Group fills (in ledger order) into round trips per asset; an open one comes last."""
    done: list[Trade] = []
    entries: dict[str, list[Leg]] = {}
    exits: dict[str, list[Leg]] = {}
    held: dict[str, Decimal] = {}
    for leg in legs:
        if leg.side is Side.BUY:
            entries.setdefault(leg.asset, []).append(leg)
            held[leg.asset] = held.get(leg.asset, Decimal(0)) + leg.quantity
            continue
        exits.setdefault(leg.asset, []).append(leg)
        held[leg.asset] = held.get(leg.asset, Decimal(0)) - leg.quantity
        if held[leg.asset] <= 0:  # paper never goes short: zero means closed
            opened = tuple(entries.pop(leg.asset, ()))
            closing = tuple(exits.pop(leg.asset))
            if opened:
                done.append(Trade(leg.asset, opened, closing, closed=True))
            held[leg.asset] = Decimal(0)
    for asset, still_open in entries.items():
        if still_open:
            done.append(Trade(asset, tuple(still_open), tuple(exits.get(asset, ())), closed=False))
    return tuple(done)


def book_trips(legs: Iterable[Leg], owners: Mapping[str, str]) -> tuple[Trade, ...]:
    """The round trips of each strategy's book apart, when several share an account
    (``owners``: decision id -> strategy): a strategy sells only what its own book holds, so
    its trades are its own fills' round trips, though another book may hold the asset
    meanwhile. The closed ones in the order they closed, then the open ones in the order they
    opened."""
    books: dict[str, list[Leg]] = {}
    for leg in legs:
        books.setdefault(owners[leg.decision_id], []).append(leg)
    trades = [trade for book in books.values() for trade in round_trips(book)]
    closed = sorted((t for t in trades if t.closed), key=lambda t: t.exits[-1].filled_at)
    still_open = sorted((t for t in trades if not t.closed), key=lambda t: t.entry_time)
    return (*closed, *still_open)


@dataclass(frozen=True, slots=True)
class Decision:
    """One recorded decision, as much of it as the backtest's accounting needs."""

    decision_id: str
    as_of: datetime
    asset: str
    verdict: str
    action: str | None  # the signal before vetoes: BUY, SELL or None
    blocked_by: tuple[str, ...]
    status: str  # the execution status
    denials: tuple[str, ...]  # risk checks that failed

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Decision:
        checks = (record.get("risk") or {}).get("checks", [])
        return cls(
            decision_id=record["decision_id"],
            as_of=parse_time(record["as_of"]),
            asset=record["asset"],
            verdict=record["verdict"],
            action=record.get("action"),
            blocked_by=tuple(record.get("blocked_by") or ()),
            status=(record.get("execution") or {}).get("status", ""),
            denials=tuple(c["code"] for c in checks if not c["passed"]),
        )


def decision(
    decision_id: str,
    as_of: datetime,
    asset: str,
    verdict: str,
    action: str | None,
    blocked_by: tuple[str, ...],
    status: str,
    denials: tuple[str, ...],
) -> Decision:
    """``Decision(...)`` (its fields in order), made as fast as the fast backtest needs (one a
    bar)."""
    made = _new(Decision)
    _SET_ID(made, decision_id)
    _SET_AS_OF(made, as_of)
    _SET_ASSET(made, asset)
    _SET_VERDICT(made, verdict)
    _SET_ACTION(made, action)
    _SET_BLOCKED_BY(made, blocked_by)
    _SET_STATUS(made, status)
    _SET_DENIALS(made, denials)
    return made


(
    _SET_ID,
    _SET_AS_OF,
    _SET_ASSET,
    _SET_VERDICT,
    _SET_ACTION,
    _SET_BLOCKED_BY,
    _SET_STATUS,
    _SET_DENIALS,
) = (
    vars(Decision)[name].__set__
    for name in (
        "decision_id",
        "as_of",
        "asset",
        "verdict",
        "action",
        "blocked_by",
        "status",
        "denials",
    )
)


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
