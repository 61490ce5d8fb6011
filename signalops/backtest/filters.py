"""Filter accounting: what the vetoes' blocks did, and the strategy with its vetoes removed.

For every BLOCKED decision, the trade it blocked is played out on the recorded prices as a
counterfactual over a fixed horizon (default 3d, i.e. three daily bars):

    entry  the same fill rule as real orders: the open of the bar that opens at or after the
           decision (with slippage), never the bar that produced the signal;
    exit   the close ``horizon`` after the entry (the last close at or before it), with slippage;
    net    after the fee on both legs, i.e. what the paper broker would have charged:
             BUY   exit·(1-s)·(1-f) / (entry·(1+s)·(1+f)) - 1
             SELL  entry·(1-s)·(1-f) / (exit·(1+s)·(1+f)) - 1   (sell now, buy back at the exit)

A block whose blocked trade would have lost (net < 0) *avoided a loss*; one whose trade would
have gained (net > 0) *cost a profit*: that is the filter's false positive. The false-positive
rate is cost-a-profit blocks / resolved blocks; a block is unresolved when the data ends before
its exit. Every BLOCKED decision counts, so a veto that holds for five days in a row is five
blocks (one per decision the strategy would otherwise have acted on).

A block is *by a passing veto* when at least one of the vetoes that blocked it held on data
(its status PASS); it *failed closed* when every blocking veto was UNKNOWN: its data was missing
or stale, and the pipeline blocks rather than trade blind. A failed-closed block that "avoided a
loss" says nothing about the veto, so the two kinds are counted apart (``by_kind``); the veto
statuses are read from each decision's trace in the audit log (re-derived for compact records).

The same measure applied to the BUY signals that were acted on (FILLED) gives *false signals*:
entries whose net return over the horizon was negative. Comparing them between the strategy and its
vetoes-removed baseline shows what the filter changed, on the same yardstick.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from signalops.audit.expand import veto_statuses
from signalops.audit.store import AuditLog
from signalops.backtest.bars import NEXT_CLOSE, NEXT_OPEN, Bars
from signalops.backtest.ledger import Decision
from signalops.canonical import iso
from signalops.catalogue import installed
from signalops.catalogue.spec import Catalogue
from signalops.config import PaperConfig
from signalops.orders import to_decimal
from signalops.strategy import loads
from signalops.strategy.model import Strategy

DEFAULT_HORIZON = timedelta(hours=72)
_BPS = Decimal(10_000)
_new = object.__new__

# A counterfactual trade's outcome; for a block, LOSS means the block avoided a loss.
LOSS = "loss"
PROFIT = "profit"
FLAT = "flat"
UNRESOLVED = "unresolved"


@dataclass(frozen=True)
class Counterfactual:
    """One decision's trade played out over the horizon on recorded prices."""

    decision_id: str
    as_of: datetime
    asset: str
    action: str  # BUY or SELL
    blocked_by: tuple[str, ...]
    entry_time: datetime | None = None
    entry_price: Decimal | None = None  # the bar's price, before slippage
    exit_time: datetime | None = None
    exit_price: Decimal | None = None
    gross_return: float | None = None  # of the move alone, in the trade's direction
    net_return: float | None = None  # after slippage and fees on both legs
    note: str | None = None  # why unresolved

    @property
    def outcome(self) -> str:
        if self.net_return is None:
            return UNRESOLVED
        if self.net_return < 0:
            return LOSS
        if self.net_return > 0:
            return PROFIT
        return FLAT

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision_id": self.decision_id,
            "as_of": iso(self.as_of),
            "asset": self.asset,
            "action": self.action,
            "blocked_by": list(self.blocked_by),
            "entry_time": iso(self.entry_time),
            "entry_price": None if self.entry_price is None else str(self.entry_price),
            "exit_time": iso(self.exit_time),
            "exit_price": None if self.exit_price is None else str(self.exit_price),
            "gross_return": self.gross_return,
            "net_return": self.net_return,
            "outcome": self.outcome,
            "note": self.note,
        }


def play_out(
    decision: Decision,
    bars: Bars,
    horizon: timedelta,
    paper: PaperConfig,
    fill: str = NEXT_OPEN,
) -> Counterfactual:
    """The trade ``decision`` asked for (its ``action``), entered and exited as described above."""
    return _play_out(decision, bars, horizon, _Costs.of(paper), fill)


@dataclass(frozen=True, slots=True)
class _Costs:
    """The slippage and fee factors of a trade played out: 1 - s, 1 - f, 1 + s, 1 + f."""

    less_slip: Decimal
    less_fee: Decimal
    more_slip: Decimal
    more_fee: Decimal

    @classmethod
    def of(cls, paper: PaperConfig) -> _Costs:
        slip, fee = paper.slippage_bps / _BPS, paper.fee_bps / _BPS
        return cls(1 - slip, 1 - fee, 1 + slip, 1 + fee)


def _play_out(
    decision: Decision, bars: Bars, horizon: timedelta, costs: _Costs, fill: str
) -> Counterfactual:
    """``play_out`` with the costs' factors worked out (once for every decision accounted)."""
    action = decision.action or "BUY"

    def played(**outcome: Any) -> Counterfactual:
        # Made once with its outcome (``dataclasses.replace`` of a bare one cost twice as much).
        return Counterfactual(
            decision.decision_id,
            decision.as_of,
            decision.asset,
            action,
            decision.blocked_by,
            **outcome,
        )

    try:
        entry_price, entry_time = bars.fill(fill, decision.as_of)
    except LookupError as exc:
        return played(note=str(exc))
    exit_at = entry_time + horizon
    if bars.last_close < exit_at:
        return played(
            entry_time=entry_time,
            entry_price=entry_price,
            note=f"the data ends at {iso(bars.last_close)}, before the exit at {iso(exit_at)}",
        )
    found = bars.close_at(exit_at)
    if found is None or found[1] <= entry_time:  # a horizon shorter than a bar: no exit yet
        return played(
            entry_time=entry_time,
            entry_price=entry_price,
            note=f"no bar closes between the entry and {iso(exit_at)}",
        )
    exit_price, exit_time = found
    return _resolved(decision, entry_price, entry_time, exit_price, exit_time, costs)


def _resolved(
    decision: Decision,
    entry_price: Decimal,
    entry_time: datetime,
    exit_price: Decimal,
    exit_time: datetime,
    costs: _Costs,
) -> Counterfactual:
    """``decision``'s trade played out from its entry to its exit: its returns."""
    action = decision.action or "BUY"
    if action == "SELL":
        gross = entry_price / exit_price - 1
        net = (
            entry_price * costs.less_slip * costs.less_fee
            / (exit_price * costs.more_slip * costs.more_fee) - 1
        )  # fmt: skip
    else:
        gross = exit_price / entry_price - 1
        net = (
            exit_price * costs.less_slip * costs.less_fee
            / (entry_price * costs.more_slip * costs.more_fee) - 1
        )  # fmt: skip
    made = _new(Counterfactual)  # its fields set at once: its __init__ set each apart
    vars(made).update(
        decision_id=decision.decision_id,
        as_of=decision.as_of,
        asset=decision.asset,
        action=action,
        blocked_by=decision.blocked_by,
        entry_time=entry_time,
        entry_price=entry_price,
        exit_time=exit_time,
        exit_price=exit_price,
        gross_return=float(gross),
        net_return=float(net),
        note=None,
    )
    return made


def _played(
    decisions: Sequence[Decision],
    bars: Mapping[str, Bars],
    horizon: timedelta,
    costs: _Costs,
    fill: str,
) -> list[Counterfactual]:
    """``_play_out`` of each decision (its asset in ``bars``), in order: each asset's bars
    searched for all of its decisions at once (a veto that blocks most bars blocks tens of
    thousands: each one's searches, prices and times made alone, and its counterfactual made
    field by field, were about a quarter of its accounting)."""
    if fill not in (NEXT_OPEN, NEXT_CLOSE):  # refused by the first, as ``Bars.fill`` refuses it
        return [_play_out(d, bars[d.asset], horizon, costs, fill) for d in decisions]
    by_asset: dict[str, list[int]] = {}
    for k, decision in enumerate(decisions):
        by_asset.setdefault(decision.asset, []).append(k)
    played: dict[int, Counterfactual] = {}
    for asset, ks in by_asset.items():
        items = _played_on([decisions[k] for k in ks], bars[asset], horizon, costs, fill)
        played.update(zip(ks, items, strict=True))
    return [played[k] for k in range(len(decisions))]


def _played_on(
    decisions: list[Decision], bars: Bars, horizon: timedelta, costs: _Costs, fill: str
) -> list[Counterfactual]:
    """``_play_out`` of each of one asset's decisions on its ``bars``. The entries and exits
    are found by one search each of every decision, their prices and times made as ``Bars``
    makes them (``to_decimal`` of the float, ``fromtimestamp``); a trade that is not played
    out to its exit (no bar to enter, the data ends first, no bar closes by the exit) is
    left to ``_play_out``, which says why."""
    seconds = np.array([d.as_of.timestamp() for d in decisions], dtype=np.float64)
    entries = bars.fill_bars(seconds).tolist()
    price, moment = (
        (bars.open, bars.open_time) if fill == NEXT_OPEN else (bars.close, bars.close_time)
    )
    count, last_close = len(bars), bars.last_close
    entered = [(price[i], moment[i]) if i < count else None for i in entries]
    exits: list[tuple[Decimal, datetime, datetime] | None] = []
    for found in entered:
        if found is None:
            exits.append(None)
            continue
        entry_time = datetime.fromtimestamp(float(found[1]), UTC)
        exit_at = entry_time + horizon
        exits.append(
            None if last_close < exit_at else (to_decimal(float(found[0])), entry_time, exit_at)
        )
    at = [0.0 if e is None else e[2].timestamp() for e in exits]
    closing = (np.searchsorted(bars.close_time, at, side="right") - 1).tolist()
    items = []
    for decision, entry, j in zip(decisions, exits, closing, strict=True):
        if entry is None or j < 0:
            items.append(_play_out(decision, bars, horizon, costs, fill))
            continue
        entry_price, entry_time, _ = entry
        exit_time = datetime.fromtimestamp(float(bars.close_time[j]), UTC)
        if exit_time <= entry_time:  # a horizon shorter than a bar: no exit yet
            items.append(_play_out(decision, bars, horizon, costs, fill))
            continue
        exit_price = to_decimal(float(bars.close[j]))
        items.append(_resolved(decision, entry_price, entry_time, exit_price, exit_time, costs))
    return items


@dataclass(frozen=True)
class Accounting:
    """Counterfactual outcomes of a set of decisions (the blocked ones, or the acted-on BUYs)."""

    horizon: timedelta
    items: tuple[Counterfactual, ...]

    def count(self, outcome: str) -> int:
        return sum(1 for item in self.items if item.outcome == outcome)

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def resolved(self) -> int:
        return self.total - self.count(UNRESOLVED)

    @property
    def losers(self) -> int:
        """Trades that would have lost: for blocks, losses avoided; for signals, false ones."""
        return self.count(LOSS)

    @property
    def winners(self) -> int:
        """Trades that would have gained: for blocks, profits the filter cost."""
        return self.count(PROFIT)

    @property
    def false_positive_rate(self) -> float | None:
        """Blocks that cost a profit / resolved blocks (meaningful for blocked decisions)."""
        return self.winners / self.resolved if self.resolved else None

    @property
    def mean_net_return(self) -> float | None:
        values = [i.net_return for i in self.items if i.net_return is not None]
        return sum(values) / len(values) if values else None

    def where(self, keep: Callable[[Counterfactual], bool]) -> Accounting:
        """The same accounting over the items ``keep`` accepts."""
        return Accounting(self.horizon, tuple(item for item in self.items if keep(item)))

    def by_kind(self, failed_closed: frozenset[str]) -> tuple[Accounting, Accounting]:
        """(blocks by a passing veto, blocks that failed closed), given the failed-closed ids."""
        return (
            self.where(lambda item: item.decision_id not in failed_closed),
            self.where(lambda item: item.decision_id in failed_closed),
        )

    def counts(self, *, blocked: bool) -> dict[str, Any]:
        """``to_dict`` without the decisions."""
        counts: dict[str, Any] = {
            "horizon_hours": self.horizon / timedelta(hours=1),
            "total": self.total,
            "resolved": self.resolved,
            "unresolved": self.count(UNRESOLVED),
            "mean_net_return": self.mean_net_return,
        }
        if blocked:
            counts.update(
                avoided_loss=self.losers,
                cost_profit=self.winners,
                flat=self.count(FLAT),
                false_positive_rate=self.false_positive_rate,
            )
        else:
            counts.update(false_signals=self.losers, profitable_signals=self.winners)
        return counts

    def to_dict(self, *, blocked: bool) -> dict[str, Any]:
        return {**self.counts(blocked=blocked), "decisions": [i.to_dict() for i in self.items]}


def account(
    decisions: Iterable[Decision],
    bars: Mapping[str, Bars],
    horizon: timedelta = DEFAULT_HORIZON,
    paper: PaperConfig | None = None,
    fill: str = NEXT_OPEN,
) -> Accounting:
    """Play out each decision's trade (see ``play_out``); decisions without prices are skipped."""
    costs = _Costs.of(paper or PaperConfig())
    priced = [decision for decision in decisions if decision.asset in bars]
    return Accounting(horizon, tuple(_played(priced, bars, horizon, costs, fill)))


def failed_closed(audit_path: Path) -> frozenset[str]:
    """The ids of the blocked decisions in the audit log whose every blocking veto was UNKNOWN.

    A block with one veto that held (PASS) is by a passing veto, even if another one beside it
    had no data: that veto would have blocked alone. The vetoes' statuses come from each
    decision's trace (``signalops.audit.expand.veto_statuses``: read from an older record,
    re-derived from the stored tree for a compact one).
    """
    log = AuditLog.open_readonly(audit_path)
    try:
        blocked = log.decisions(verdict="BLOCKED", limit=None)
        found = set()
        for record in blocked:
            blockers = record.get("blocked_by") or []
            statuses = veto_statuses(record, log)
            if blockers and all(statuses.get(veto) == "UNKNOWN" for veto in blockers):
                found.add(record["decision_id"])
    finally:
        log.close()
    return frozenset(found)


def without_vetoes(strategy: Strategy, catalogue: Catalogue | None = None) -> Strategy | None:
    """The same strategy document with its ``vetoes`` removed, compiled; None if it had none.

    Compiled from the YAML dump of the modified document, exactly as a user's file would be, so
    the baseline runs through the same loader, schema and compiler. Its name gets a
    ``_no_vetoes`` suffix (and its content hash differs), so its audit records cannot be mistaken
    for the strategy's own.
    """
    document = copy.deepcopy(dict(strategy.document))
    spec = document["strategy"]
    if not spec.get("vetoes"):
        return None
    del spec["vetoes"]
    spec["name"] = f"{spec['name']}_no_vetoes"
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    if catalogue is None:
        catalogue = installed.catalogue()
    return loads(text, f"{strategy.file} (vetoes removed)", catalogue)
