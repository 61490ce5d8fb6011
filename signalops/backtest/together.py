"""Several strategies backtested together, taken apart by strategy: each one's book.

``signalops backtest a.yaml b.yaml`` runs the strategies as ``signalops run`` does (one
pipeline, one paper account in which each strategy keeps its own book: ``runner.run_backtest``
with several). The account's figures are the backtest's own; this module puts them on the
strategies, from each one's fills (the decisions it owns, ``BacktestResult.owners``) and its
decisions, as the universe breakdown puts a portfolio on its assets
(``universe.asset_parts``):

    pnl   = sold - bought + held at the end x mark        (realised + unrealised, before fees)
    net   = pnl - fees

so the strategies' ``net`` adds up to the account's equity change exactly: the books hold the
account's positions between them, each asset at the one mark. Its trades are its own round
trips (``ledger.book_trips``), its exposure the share of periods its book held something,
and ``start`` what it started with: its allocation (the config's ``strategies: {NAME:
{capital: ...}}``), or, without one, the account's starting cash, which it shares.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import numpy as np

from signalops.backtest.ledger import Decision, Leg
from signalops.backtest.runner import BacktestResult
from signalops.backtest.universe import (
    AssetPart,
    PartTotals,
    asset_parts,
    decimal_text,
    exact_sums,
)

__all__ = ["StrategyBook", "strategy_books", "summed"]


@dataclass(frozen=True)
class StrategyBook(PartTotals):
    """One strategy's book in an account shared with others (money in the quote currency)."""

    name: str
    assets: tuple[str, ...]
    capital: Decimal | None  # its allocation; None: it shares the account's cash
    start: Decimal  # what it started with: its capital, else the account's starting cash
    parts: tuple[AssetPart, ...]  # each asset it traded, from its own fills
    exposure: float  # the fraction of periods its book held a position
    decisions: int

    @property
    def totalled(self) -> Iterable[AssetPart]:
        return self.parts

    @property
    def trades(self) -> int:
        return sum(p.trades for p in self.parts)

    @property
    def open_trades(self) -> int:
        return sum(p.open_trades for p in self.parts)

    @property
    def wins(self) -> int:
        return sum(p.wins for p in self.parts)

    @property
    def win_rate(self) -> float | None:
        return self.wins / self.trades if self.trades else None

    @property
    def denied(self) -> int:
        """BUY orders the risk gate denied."""
        return sum(p.denied for p in self.parts)

    @property
    def denials(self) -> Mapping[str, int]:
        """The codes of those denials (an order may have several), most first."""
        counts: dict[str, int] = {}
        for part in self.parts:
            for code, n in part.denials.items():
                counts[code] = counts.get(code, 0) + n
        return MappingProxyType(dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))))

    def to_dict(self) -> dict[str, Any]:
        return {
            "assets": list(self.assets),
            "capital": None if self.capital is None else decimal_text(self.capital),
            "start": decimal_text(self.start),
            "decisions": self.decisions,
            "realised": decimal_text(self.realised),
            "unrealised": decimal_text(self.unrealised),
            "fees": decimal_text(self.fees),
            "net": decimal_text(self.net),
            "trades": self.trades,
            "open_trades": self.open_trades,
            "wins": self.wins,
            "exposure": self.exposure,
            "denied_buys": self.denied,
            "denials": dict(sorted(self.denials.items())),
            "by_asset": {p.asset: p.to_dict() for p in self.parts},
        }


def strategy_books(result: BacktestResult) -> tuple[StrategyBook, ...]:
    """Each strategy's book in ``result``'s account, in the order the strategies were named
    (one book, the account's, when it ran alone)."""
    legs: dict[str, list[Leg]] = {s.name: [] for s in result.strategies}
    for leg in result.legs:
        legs[result.owner(leg.decision_id)].append(leg)
    decisions: dict[str, list[Decision]] = {s.name: [] for s in result.strategies}
    for decision in result.decisions:
        decisions[result.owner(decision.decision_id)].append(decision)
    account = result.paper.starting_cash
    books = []
    for strategy in result.strategies:
        name = strategy.name
        held = asset_parts(result, strategy.assets, legs[name], decisions[name], {})
        flags = list(held.held.values())
        any_held = np.logical_or.reduce(flags) if flags else np.zeros(0, dtype=bool)
        exposure = float(np.count_nonzero(any_held)) / len(any_held) if len(any_held) else 0.0
        capital = result.capital.get(name)
        books.append(
            StrategyBook(
                name=name,
                assets=strategy.assets,
                capital=capital,
                start=account if capital is None else capital,
                parts=held.parts,
                exposure=exposure,
                decisions=len(decisions[name]),
            )
        )
    return tuple(books)


def summed(amounts: Iterable[Decimal]) -> Decimal:
    """The books' figures added up exactly (as ``universe`` adds its assets'), so that their
    net PnL can be held against the account's equity change to the last digit."""
    with exact_sums():
        return sum(amounts, Decimal(0))
