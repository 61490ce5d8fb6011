"""The report of a study: ``metrics.json``, ``trades.csv``, ``charts.json`` and ``report.html``.

    out_dir/
      metrics.json     every metric of the strategy, the vetoes-removed baseline and buy-and-hold,
                       the filter accounting with each blocked decision, and how it was computed
      trades.csv       one row per round trip (entry/exit time and price, quantity, pnl, return,
                       fees, the decision ids behind it), each column at one precision
                       (``write_trades``; the audit log keeps the exact fills)
      charts.json      the report's interactive charts as plotly figures (``signalops.backtest.
                       charts``): equity and drawdown; each asset's price with fills, blocked
                       signals and the strategy's indicators
      report.html      all of the above on one page that stands alone: plotly.js is inlined, so
                       it opens offline, and it is the same bytes for the same backtest
      backtest.db      the audit log of every decision (``signalops why ID --audit ...``)
      baseline.db      the baseline's audit log

The table rows (``metric_rows``, a portfolio's ``asset_table`` and, of several strategies run
together, the account's ``strategy_table``) are shared with the CLI, so the terminal and the
page agree; numbers are formatted by ``signalops.backtest.formatting`` for
both.
"""

from __future__ import annotations

import bisect
import csv
import html
import json
import shlex
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from decimal import Decimal
from operator import attrgetter
from pathlib import Path
from typing import Any

import numpy as np

from signalops import numbers
from signalops.adapters import calendar
from signalops.adapters.snapshots import SnapshotStore
from signalops.audit.store import AuditLog
from signalops.backtest.charts import CLICK_SCRIPT, Chart, charts, embed, plotly_js
from signalops.backtest.comparison import Study
from signalops.backtest.coverage import end_note, start_note
from signalops.backtest.filters import LOSS, PROFIT, UNRESOLVED, Accounting
from signalops.backtest.formatting import DASH, dated, day, horizon, money, pct, ratio
from signalops.backtest.html_tables import TEXT, extended_section, table
from signalops.backtest.indicators import store_candles
from signalops.backtest.ledger import Decision, Leg, Trade
from signalops.backtest.metrics import YEAR, Metrics
from signalops.backtest.runner import BacktestResult
from signalops.backtest.together import summed
from signalops.backtest.universe import COMMAND_LINE
from signalops.backtest.unknowns import UnknownData
from signalops.canonical import iso
from signalops.catalogue.spec import format_duration
from signalops.codes import Code
from signalops.errors import SignalOpsError
from signalops.explain.figures import limit_text
from signalops.orders import ExecutionStatus
from signalops.risk.limits import RiskLimits
from signalops.venues import Venues

__all__ = [
    "ACCOUNT",
    "BY_CHECK",
    "COLUMNS",
    "DASH",
    "REPORT_FILES",
    "Account",
    "AssetTable",
    "BookFigures",
    "ReportFiles",
    "account_of_report",
    "asset_table",
    "columns",
    "cut_buy_notes",
    "daily_loss_notes",
    "day",
    "denial_lines",
    "denied_buy_notes",
    "early_fill_notes",
    "ended_data_notes",
    "failed_order_notes",
    "filter_lines",
    "gap_fill_notes",
    "horizon",
    "late_data_notes",
    "method_lines",
    "metric_rows",
    "money",
    "notes",
    "pct",
    "ratio",
    "render_html",
    "sizing_lines",
    "strategy_lines",
    "strategy_table",
    "title",
    "unknown_data_notes",
    "write_report",
    "write_trades",
]

COLUMNS = ("metric", "strategy", "vetoes removed", "buy & hold")
ACCOUNT = "account"  # the second column's name when several strategies ran together
# The head of the line of a run's denied BUYs by check: one BUY may fail several checks (a
# table's "BUYs denied" 9 beside MAX_SECTOR 9 and MAX_POSITION 1 is not 10 denials).
BY_CHECK = "risk gate denials of BUYs, by check (a denied BUY may fail several)"
MIDNIGHT = time(0)
DAILY_LOSS_UNIT = "fraction of day-start equity (change)"  # MAX_DAILY_LOSS's, for limit_text
METRICS, TRADES, CHARTS, HTML = "metrics.json", "trades.csv", "charts.json", "report.html"
REPORT_FILES = (METRICS, TRADES, CHARTS, HTML)  # what ``write_report`` writes
TRADE_FIELDS = (
    "asset",
    "status",
    "entry_time",
    "entry_price",
    "exit_time",
    "exit_price",
    "quantity",
    "pnl",
    "return",
    "fees",
    "entry_decisions",
    "exit_decisions",
)


@dataclass(frozen=True)
class ReportFiles:
    metrics: Path
    trades: Path
    html: Path
    charts: Path


# --- text ----------------------------------------------------------------------------------------


_FILLED = ExecutionStatus.FILLED.value


def _count(n: int, word: str) -> str:
    return f"{n:,} {word if n == 1 else word + 's'}"


def _recovered(m: Metrics) -> str:
    if m.drawdown.peak is None:
        return DASH
    return dated(m.drawdown.dates()[2]) if m.drawdown.recovered else "not yet"


def _trades(m: Metrics) -> str:
    return f"{m.trades:,}" + (f" (+{m.open_trades:,} open)" if m.open_trades else "")


def _win_rate(m: Metrics) -> str:
    w = m.win_rate
    if w.rate is None or w.interval is None:
        return DASH
    low, high = w.interval
    return f"{w.rate:.0%} [{low:.0%}, {high:.0%}]"


def _p_value(m: Metrics) -> str:
    return DASH if not m.win_rate.trades else numbers.p_value(m.win_rate.p_value)


def _false_signals(r: BacktestResult) -> str:
    return f"{r.signals.losers:,} of {r.signals.resolved:,}"


def columns(study: Study) -> tuple[str, ...]:
    """The table's header; the baseline column only when a baseline ran, the benchmark's only
    when one was asked for."""
    head = COLUMNS if study.baseline is not None else (COLUMNS[0], COLUMNS[1], COLUMNS[3])
    if study.result.others:  # several strategies: their account's figures
        head = (head[0], ACCOUNT, *head[2:])
    if study.benchmark is not None:
        head = (*head, benchmark_column(study.benchmark.asset))
    return head


def benchmark_column(asset: str) -> str:
    return f"{COLUMNS[3]} {asset}"


def _labelled(label: str, quote: str | None) -> str:
    """``fees (USD)``; the label alone when the assets' venues share no quote (``Study.quote``)."""
    return f"{label} ({quote})" if quote else label


def metric_rows(study: Study) -> list[tuple[str, ...]]:
    """The side-by-side table as text, one tuple per metric, aligned with ``columns``."""
    runs = [study.result] if study.baseline is None else [study.result, study.baseline]
    holds = [study.result.benchmark]
    if study.benchmark is not None:
        holds.append(study.benchmark.metrics)

    def line(
        label: str,
        of_metrics: Callable[[Metrics], str] | None,
        of_run: Callable[[BacktestResult], str] | None = None,
    ) -> tuple[str, ...]:
        if of_run is not None:  # about trades and decisions: buy-and-hold makes none
            return (label, *(of_run(r) for r in runs), *(DASH for _ in holds))
        assert of_metrics is not None
        cells = [of_metrics(r.metrics) for r in runs]
        return (label, *cells, *(DASH if m is None else of_metrics(m) for m in holds))

    quote = study.quote
    rows = [
        line("total return", lambda m: pct(m.total_return, signed=True)),
        line("CAGR", lambda m: pct(m.cagr, signed=True)),
        line("max drawdown", lambda m: pct(m.drawdown.depth)),
        line("drawdown peak", lambda m: dated(m.drawdown.dates()[0])),
        line("drawdown trough", lambda m: dated(m.drawdown.dates()[1])),
        line("recovered", _recovered),
        line("Sharpe", lambda m: ratio(m.sharpe)),
        line("Sortino", lambda m: ratio(m.sortino)),
        line("trades", None, lambda r: _trades(r.metrics)),
        line("win rate [95% CI]", None, lambda r: _win_rate(r.metrics)),
        line("p (win rate = 50%)", None, lambda r: _p_value(r.metrics)),
        line("exposure", lambda m: pct(m.exposure, digits=1)),
        line(_labelled("fees", quote), lambda m: f"{m.fees:,.2f}"),
        line(_labelled("end equity", quote), lambda m: f"{m.end_equity:,.2f}"),
        line(f"false signals ({horizon(study.result.horizon)})", None, _false_signals),
        line("blocked decisions", None, lambda r: str(r.blocked.total)),
    ]
    if any(s.tree.vetoes for s in study.result.strategies):  # without, nothing to tell apart
        rows += [
            line("  by passing veto", None, lambda r: str(_blocks_of_kind(study, r)[0].total)),
            line("  failed closed", None, lambda r: str(_blocks_of_kind(study, r)[1].total)),
        ]
    return rows


@dataclass(frozen=True)
class AssetTable:
    """A portfolio taken apart by asset, as the terminal prints it under ``portfolio by asset``
    and the page shows it: ``summary`` says what the book was; the first ``left`` columns are
    names (the asset, and its sector when the run named sectors), the rest figures."""

    summary: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]  # the portfolio's own first, then each asset's
    left: int


def asset_table(study: Study) -> AssetTable | None:
    """Each asset's part of the portfolio (``Study.parts``); None for one asset not given as a
    universe (the side-by-side table is all of it)."""
    r, parts = study.result, study.parts
    if len(r.assets) < 2 and study.universe is None:
        return None
    named = bool(parts.sectors)
    start = parts.start_equity
    metrics = r.metrics
    total = (
        "portfolio",
        *([""] if named else []),
        numbers.money(parts.realised, signed=True),
        numbers.money(parts.unrealised, signed=True),
        numbers.money(parts.fees),
        numbers.money(parts.equity_change, signed=True),
        _change(float(parts.equity_change / start)),
        _open_too(metrics.trades, metrics.open_trades),
        pct(metrics.win_rate.rate, digits=0),
        pct(metrics.exposure, digits=1),
        pct(parts.max_weight, digits=1),
        f"{sum(p.denied for p in parts.assets):,}",
        _change(None if r.benchmark is None else r.benchmark.total_return),
    )
    each = tuple(
        (
            p.asset,
            *([p.sector or DASH] if named else []),
            numbers.money(p.realised, signed=True),
            numbers.money(p.unrealised, signed=True),
            numbers.money(p.fees),
            numbers.money(p.net, signed=True),
            _change(float(p.net / start)),
            _open_too(p.trades, p.open_trades),
            pct(p.wins / p.trades if p.trades else None, digits=0),
            pct(p.exposure, digits=1),
            pct(p.max_weight, digits=1),
            f"{p.denied:,}",
            _change(p.buy_and_hold),
        )
        for p in parts.assets
    )
    return AssetTable(_book(study), _asset_columns(named), (total, *each), 2 if named else 1)


STRATEGY_COLUMNS = (
    "strategy",
    "capital",
    "assets",
    "realised",
    "unrealised",
    "fees",
    "net PnL",
    "of start",
    "trades",
    "win rate",
    "exposure",
    "BUYs denied",
)
SHARED = "shared"  # a book without capital of its own: it spends the account's cash


@dataclass(frozen=True)
class BookFigures:
    """One row of the account by strategy: a strategy's book, or the account's own (named
    ``account``, its capital the starting cash)."""

    name: str
    capital: Decimal | None  # None: no capital of its own, the book spends the account's cash
    assets: tuple[str, ...]
    realised: Decimal
    unrealised: Decimal
    fees: Decimal
    net: Decimal
    start: Decimal  # what the net PnL is a change of (``of start``)
    trades: int
    open_trades: int
    win_rate: float | None
    exposure: float
    denied: int  # BUYs the risk gate denied
    denials: Mapping[str, int] = field(default_factory=dict)  # their codes, most first

    def row(self) -> tuple[str, ...]:
        return (
            self.name,
            SHARED if self.capital is None else numbers.money(self.capital),
            numbers.listed(list(self.assets), 3),
            numbers.money(self.realised, signed=True),
            numbers.money(self.unrealised, signed=True),
            numbers.money(self.fees),
            numbers.money(self.net, signed=True),
            _change(float(self.net / self.start)),
            _open_too(self.trades, self.open_trades),
            pct(self.win_rate, digits=0),
            pct(self.exposure, digits=1),
            f"{self.denied:,}",
        )


@dataclass(frozen=True)
class Account:
    """Several strategies' account taken apart by strategy: its own figures, each strategy's
    book in the order named, and its equity at the end (at the start: ``total.start``). Made
    from a study (``strategy_table``: the terminal's and report.html's) or from the
    ``metrics.json`` it wrote (``account_of_report``: the dashboard's), so all three show the
    same cells and lines."""

    total: BookFigures
    books: tuple[BookFigures, ...]
    end: Decimal
    quote: str | None

    def table(self) -> AssetTable:
        rows = (self.total.row(), *(b.row() for b in self.books))
        return AssetTable(self.summary(), STRATEGY_COLUMNS, rows, 1)

    def summary(self) -> str:
        """``2 strategies in one account, sharing 10,000.00 USDT of starting cash``, and the
        allocations when the config gives some."""
        cash = numbers.money(self.total.capital, self.quote)
        several = numbers.counted(len(self.books), "strategy", "strategies")
        given = [b for b in self.books if b.capital is not None]
        if not given:
            return f"{several} in one account, sharing {cash} of starting cash"
        shown = ", ".join(f"{b.name} {numbers.money(b.capital)}" for b in given)
        shared = [b.name for b in self.books if b.capital is None]
        rest = ""
        if shared:
            rest = f"; {numbers.listed(shared)} {'shares' if len(shared) == 1 else 'share'} "
            rest += "the account"
        return f"{several} in one account with {cash} of starting cash; capital: {shown}{rest}"

    def lines(self) -> list[str]:
        """What the books add up to, the order the strategies decide in, what ``shared``
        means and the risk gate's denials of each one's BUYs."""
        books, start, end = self.books, self.total.start, self.end
        net = summed(b.net for b in books)
        if net == end - start:
            lines = [
                f"the strategies' net PnL adds up to the equity change: "
                f"{numbers.money(end - start, signed=True)} = {numbers.money(end)} - "
                f"{numbers.money(start)}"
            ]
        else:  # the ledger's own arithmetic rounded (28 digits): say by how much
            lines = [
                f"the strategies' net PnL {numbers.money(net, signed=True)} differs from the "
                f"equity change {numbers.money(end - start, signed=True)} by "
                f"{net - end + start:.2E}"
            ]
        lines.append(
            f"at each time they decide in the order named ({' then '.join(b.name for b in books)})"
            ": the first takes the cash and the limits' room first; another order may trade "
            "otherwise"
        )
        if any(b.capital is None for b in books):
            lines.append(
                f"{SHARED}: no capital of its own in the config (strategies: {{NAME: {{capital: "
                "...}}), the book spends the account's cash; of start: the net PnL over the "
                "book's capital, else over the account's starting cash"
            )
        denials: dict[str, dict[str, int]] = {}
        for b in books:
            for code, n in b.denials.items():
                denials.setdefault(code, {})[b.name] = n
        if denials:
            shown = "; ".join(
                f"{code} {sum(by.values()):,} "
                f"({', '.join(f'{name} {n:,}' for name, n in by.items())})"
                for code, by in sorted(denials.items(), key=lambda kv: -sum(kv[1].values()))
            )
            lines.append(f"{BY_CHECK}: {shown}")
        return lines


def strategy_table(study: Study) -> AssetTable | None:
    """The account taken apart by strategy (``Study.books``), the account's row first; None
    for one strategy (the side-by-side table is all of it). ``of start``: the net PnL over
    what the book started with, its capital, or the account's starting cash it shares."""
    return _account(study).table() if study.result.others else None


def _account(study: Study) -> Account:
    r, m = study.result, study.result.metrics
    books = tuple(
        BookFigures(
            b.name,
            b.capital,
            b.assets,
            b.realised,
            b.unrealised,
            b.fees,
            b.net,
            b.start,
            b.trades,
            b.open_trades,
            b.win_rate,
            b.exposure,
            b.denied,
            b.denials,
        )
        for b in study.books
    )
    start, end = r.equity[0].equity, r.equity[-1].equity
    trading = (m.trades, m.open_trades, m.win_rate.rate, m.exposure)
    total = _total(r.paper.starting_cash, r.assets, books, start, end, trading)
    return Account(total, books, end, study.quote)


# The account's round trips (closed, still open), win rate and exposure: its own, as its
# metrics have them (a round trip of two books in one asset is one of the account's).
Trading = tuple[int, int, float | None, float]


def _total(
    cash: Decimal,
    assets: Sequence[str],
    books: Sequence[BookFigures],
    start: Decimal,
    end: Decimal,
    trading: Trading,
) -> BookFigures:
    """The account's row: the books' sums, its equity change and its own ``trading``."""
    return BookFigures(
        ACCOUNT,
        cash,
        tuple(assets),
        summed(b.realised for b in books),
        summed(b.unrealised for b in books),
        summed(b.fees for b in books),
        end - start,
        start,
        *trading,
        sum(b.denied for b in books),
    )


def account_of_report(data: Mapping[str, Any], quote: str | None) -> Account | None:
    """The account by strategy of a ``metrics.json`` (``data``) that several strategies
    backtested together wrote: its ``books`` and its account's ``metrics``, as the terminal and
    report.html showed them. None for a report of one strategy, or one that does not read."""
    books = data.get("books")
    if not isinstance(books, Mapping) or len(books) < 2:
        return None
    try:
        figures = tuple(_book_of_report(str(name), book) for name, book in books.items())
        m = data["metrics"]
        start, end = Decimal(m["start_equity"]), Decimal(m["end_equity"])
        cash, assets = Decimal(data["starting_cash"]), [str(a) for a in data["assets"]]
        total = _total(cash, assets, figures, start, end, _trading_of_report(m))
        account = Account(total, figures, end, quote)
        account.table()  # a figure that does not format (a start of 0) fails here, not later
    except (KeyError, TypeError, ValueError, ArithmeticError):
        return None
    return account


def _trading_of_report(m: Mapping[str, Any]) -> Trading:
    rate = m["win_rate"]["rate"]
    return (
        int(m["trades"]),
        int(m.get("open_trades") or 0),
        None if rate is None else float(rate),
        float(m["exposure"]),
    )


def _book_of_report(name: str, book: Mapping[str, Any]) -> BookFigures:
    """One book as ``together.StrategyBook.to_dict`` wrote it."""
    capital, trades, wins = book["capital"], int(book["trades"]), int(book["wins"])
    return BookFigures(
        name,
        None if capital is None else Decimal(capital),
        tuple(str(a) for a in book["assets"]),
        Decimal(book["realised"]),
        Decimal(book["unrealised"]),
        Decimal(book["fees"]),
        Decimal(book["net"]),
        Decimal(book["start"]),
        trades,
        int(book["open_trades"]),
        wins / trades if trades else None,  # as StrategyBook.win_rate
        float(book["exposure"]),
        int(book["denied_buys"]),
        _most_first({str(code): int(n) for code, n in (book.get("denials") or {}).items()}),
    )


def _most_first(counts: Mapping[str, int]) -> dict[str, int]:
    """Denial codes in ``StrategyBook.denials``' order (metrics.json has them by code), so the
    lines name them as the terminal did."""
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def strategy_lines(study: Study) -> list[str]:
    """What the account by strategy adds up to, the risk gate's denials of each one's BUYs,
    and how to ask why one of its decisions was taken (``signalops why --strategy``)."""
    r = study.result
    lines = _account(study).lines()
    if r.legs:
        first = r.legs[0]
        lines.append(
            f"a strategy's decision: signalops why {shlex.quote(first.asset)} --at "
            f"{iso(first.decided_at)} --strategy {shlex.quote(r.owner(first.decision_id))} "
            f"--audit {shlex.quote(str(r.audit_path))}"
        )
    return lines


def _asset_columns(named: bool) -> tuple[str, ...]:
    return (
        "asset",
        *(["sector"] if named else []),
        "realised",
        "unrealised",
        "fees",
        "net PnL",
        "of start",
        "trades",
        "win rate",
        "exposure",
        "max weight",
        "BUYs denied",
        "buy & hold",
    )


def _book(study: Study) -> str:
    """``2 assets in one book, sharing 10,000.00 USDT of starting cash · universe from FILE``."""
    r, universe = study.result, study.universe
    cash = numbers.money(r.paper.starting_cash, study.quote)
    source = ""
    if universe is not None and universe.source != COMMAND_LINE:
        source = f" · universe from {universe.source}"
    several = numbers.counted(len(r.strategies), "strategy", "strategies")
    where = f"one account ({several})" if r.others else "one book"
    return f"{_count(len(r.assets), 'asset')} in {where}, sharing {cash} of starting cash{source}"


def _change(value: float | None) -> str:
    """A signed percentage; ``-0.0`` (nothing gained or lost) reads ``+0.00%``."""
    return pct(None if value is None else value + 0.0, signed=True)


def _open_too(closed: int, still_open: int) -> str:
    """``1 +1 open``: the closed round trips, and the one still open at the end."""
    return f"{closed:,}" + (f" +{still_open:,} open" if still_open else "")


def _blocks_of_kind(study: Study, r: BacktestResult) -> tuple[Accounting, Accounting]:
    """(by a passing veto, failed closed) of ``r``'s blocks; the baseline has no vetoes."""
    if r is study.result:
        return study.blocked_by_kind
    empty = Accounting(r.blocked.horizon, ())
    return r.blocked.by_kind(frozenset()) if r.blocked.items else (empty, empty)


def title(study: Study) -> str:
    r = study.result
    periods = (
        _count(r.periods, "session")
        if r.by_session
        else f"{_count(r.periods, 'period')} of {format_duration(r.every.total_seconds())}"
    )
    return f"{_names(r)} · {', '.join(r.assets)} · {day(r.start)} → {day(r.end)} · {periods}"


def _names(r: BacktestResult) -> str:
    """The strategy's name; of several run together, each (``A + B``)."""
    return " + ".join(s.name for s in r.strategies)


def filter_lines(study: Study) -> list[str]:
    """What the vetoes did, in words (the CLI prints these under the table)."""
    r = study.result
    if r.others:
        return _filter_lines_together(study)
    vetoes = [veto.id for veto in r.strategy.tree.vetoes]
    if not vetoes:
        return ["filter: the strategy has no vetoes; nothing was blocked"]
    return _filter_lines(study, ", ".join(vetoes))


# Said under the filter lines of several strategies run together, which have no baseline.
NO_BASELINE = (
    "no vetoes-removed baseline for strategies run together (removing one's vetoes changes "
    "what the others can do in the account): backtest a file alone for its baseline"
)


def _filter_lines_together(study: Study) -> list[str]:
    """The filter lines of several strategies: each one's vetoes named with it, and with how
    many of its decisions they blocked when more than one strategy has vetoes."""
    r = study.result
    vetoing = [s for s in r.strategies if s.tree.vetoes]
    blocked = Counter(r.owner(d.decision_id) for d in r.decisions if d.verdict == "BLOCKED")
    vetoes = [
        f"{s.name}: {', '.join(veto.id for veto in s.tree.vetoes)}"
        + (f", {blocked[s.name]:,} blocked" if len(vetoing) > 1 else "")
        for s in vetoing
    ]
    if not vetoes:
        return ["filter: the strategies have no vetoes; nothing was blocked"]
    return [*_filter_lines(study, "; ".join(vetoes)), NO_BASELINE]


def _filter_lines(study: Study, vetoes: str) -> list[str]:
    r = study.result
    blocked = r.blocked
    head = f"filter ({vetoes}): {_count(blocked.total, 'decision')} blocked"
    if not blocked.total:
        return [head]
    passing, closed = study.blocked_by_kind
    lines = [
        f"{head} ({passing.total} by a passing veto, {closed.total} failed closed: veto data "
        f"UNKNOWN); each blocked trade played out over {horizon(blocked.horizon)}",
        _kind_line("by a passing veto", passing),
        _kind_line("failed closed (veto data UNKNOWN, no evidence for the veto)", closed),
    ]
    if study.baseline is not None:
        lines.append(_without_vetoes_line(study))
    return lines


def _kind_line(kind: str, blocks: Accounting) -> str:
    """One kind of block: what the blocked trades would have done."""
    if not blocks.total:
        return f"  {kind}: none"
    return (
        f"  {kind}: {_count(blocks.total, 'block')}; the blocked trade would have lost "
        f"{_count(blocks.losers, 'time')} (loss avoided) and gained "
        f"{_count(blocks.winners, 'time')} (profit missed), {blocks.count(UNRESOLVED)} "
        f"unresolved; false-positive rate {pct(blocks.false_positive_rate, digits=0)} "
        f"({blocks.winners} of {blocks.resolved} resolved); mean net return "
        f"{pct(blocks.mean_net_return, signed=True)}"
    )


def _without_vetoes_line(study: Study) -> str:
    """What the baseline did at the blocked decisions' times: did the blocks change anything?"""
    outcomes: dict[str, int] = {}
    for item in study.result.blocked.items:
        match = study.baseline_decision(item)
        if match is None:
            key = "not evaluated"
        elif match.status == "FILLED":
            key = "traded"
        elif match.denials:
            key = "denied " + "+".join(match.denials)
        else:
            key = f"{match.verdict} {match.status}".lower()
        outcomes[key] = outcomes.get(key, 0) + 1
    parts = ", ".join(f"{n} {key}" for key, n in sorted(outcomes.items(), key=lambda kv: -kv[1]))
    total = study.result.blocked.total
    return f"the vetoes-removed baseline at the {_count(total, 'blocked time')}: {parts}"


def sizing_lines(study: Study, logs: Path | None = None) -> list[str]:
    """A line when Kelly sizing (the risk limits' ``kelly_from_trades``) shut the strategy out
    of the market: from its first BUY denied ZERO_SIZE by a Kelly fraction of 0 (no edge in its
    closed trades) after the last BUY that filled, no BUY filled to the end of the run. A
    strategy that no longer buys closes no more trades, so its estimate cannot change: only a
    position still open then could end it.

    The estimate is read from that denial's record in the audit log, in ``logs`` (default: where
    the study says it is; ``write_report`` reads it from its staging folder, before the move).
    Of several strategies run together, a line for each one shut out, named with it."""
    r = study.result
    if not r.others:
        return _sizing_lines(study.limits, r.decisions, r, logs)
    lines = []
    for strategy in r.strategies:
        own = [d for d in r.decisions if r.owner(d.decision_id) == strategy.name]
        limits = study.book_limits.get(strategy.name)
        lines += [f"{strategy.name}: {line}" for line in _sizing_lines(limits, own, r, logs)]
    return lines


def _sizing_lines(
    limits: RiskLimits | None,
    decisions: Sequence[Decision],
    r: BacktestResult,
    logs: Path | None,
) -> list[str]:
    if limits is None or limits.kelly_from_trades is None:
        return []
    filled = [d.as_of for d in decisions if d.action == "BUY" and d.status == "FILLED"]
    last = max(filled, default=None)
    zero = [
        d
        for d in decisions
        if d.action == "BUY" and Code.ZERO_SIZE in d.denials and (last is None or d.as_of > last)
    ]
    if not zero:
        return []
    first = min(zero, key=attrgetter("as_of"))
    kelly = _zero_size_kelly(audit_log(r, logs), first.decision_id)
    if kelly is None:  # sized to nothing without Kelly: too little equity for the venue's step
        return []
    return [
        f"Kelly sizing found no edge from {day(first.as_of)} on: no BUY filled after it "
        f"({len(zero)} denied {Code.ZERO_SIZE}); {_kelly_words(kelly)}"
    ]


def audit_log(r: BacktestResult, logs: Path | None) -> Path:
    """Where ``r``'s audit log is read: in ``logs`` when given (``write_report`` reads it in
    its staging folder, before the move), else where the result says it is. The lines name
    ``r.audit_path``, where the log is once published."""
    return r.audit_path if logs is None else logs / r.audit_path.name


def _zero_size_kelly(audit_path: Path, decision_id: str) -> Mapping[str, Any] | None:
    """The Kelly estimate a ZERO_SIZE denial recorded (its details' ``kelly``), if any."""
    with AuditLog.open_readonly(audit_path) as log:
        record = log.get(decision_id) or {}
    for check in (record.get("risk") or {}).get("checks") or ():
        if check.get("code") != Code.ZERO_SIZE:
            continue
        found = (check.get("details") or {}).get("kelly")
        return found if isinstance(found, Mapping) else None
    return None


def _kelly_words(kelly: Mapping[str, Any]) -> str:
    """What the estimate was then: ``full Kelly at the win rate's lower bound -61.86% after 5
    closed trades (4 won)``."""
    trades, wins = kelly.get("trades"), kelly.get("wins")
    lower = kelly.get("kelly_lower")
    if lower is None:
        return f"none of its {trades} closed trades won"
    return (
        f"full Kelly at the win rate's lower bound {pct(lower, signed=True)} after {trades} "
        f"closed trades ({wins} won)"
    )


AT_POINTS = "the last recorded price at or before each decision"  # a Polymarket outcome's fill


def fill_words(rule: str) -> str:
    return "next bar's open" if rule == "next_open" else "next bar's close"


def fills_text(rule: str, outcomes: Sequence[str], assets: int, candles: str | None) -> str:
    """How orders filled: at the candles' ``rule`` (``candles``: which, when said), and at the
    last recorded price at or before each decision (the price then) for ``outcomes``, the
    Polymarket outcomes of the ``assets`` traded."""
    if outcomes and len(outcomes) == assets:
        return f"fills at {AT_POINTS}" + (" (outcome prices)" if candles else "")
    notes = [candles] if candles else []
    if outcomes:
        notes.append(f"{', '.join(outcomes)}: at {AT_POINTS}")
    text = f"fills at the {fill_words(rule)}"
    return f"{text} ({'; '.join(notes)})" if notes else text


def method_lines(study: Study) -> list[str]:
    r = study.result
    m = r.metrics
    period = format_duration(r.every.total_seconds())
    outcomes = [asset for asset, bars in r.prices.items() if bars.points]
    candles = f"{format_duration(r.timeframe)} candles"
    per = (
        "one decision before each US equity session"
        if r.by_session
        else f"{period} periods counted in US equity sessions, 252 a year"
        if r.sessions
        else f"{period} periods, {YEAR.days}-day year"
    )
    lines = [
        f"Sharpe/Sortino: risk-free rate {m.risk_free:.2%} a year; annualised with "
        f"{numbers.number(m.periods_per_year)} periods a year ({per})",
        f"{fills_text(r.fill, outcomes, len(r.prices), candles)}; fee "
        f"{r.paper.fee_bps} bps, slippage {r.paper.slippage_bps} bps; starting cash "
        f"{money(r.paper.starting_cash, study.quote)}",
    ]
    held = study.benchmark
    if held is not None:
        lines.append(
            f"{COLUMNS[3]}: the strategy's assets in equal parts; "
            f"{benchmark_column(held.asset)}: the benchmark {held.symbol} alone; both bought "
            f"with all the cash at the first fill, same fee and slippage, held to the end"
        )
    return lines


# --- files -------------------------------------------------------------------------------------


def late_data_notes(r: BacktestResult) -> list[str]:
    """A line for each asset whose recorded prices start after the run's first decision: the
    decisions before could price no order, and the metrics count that time as cash
    (``coverage.start_note``, the sweep's too)."""
    if not r.decisions:
        return []
    first = r.decisions[0].as_of
    found = (start_note(bars, first, _decided(r, asset)) for asset, bars in r.prices.items())
    return [note for note in found if note is not None]


def ended_data_notes(r: BacktestResult) -> list[str]:
    """A line for each asset whose recorded candles end before the run's last decisions: those
    decided after its last bar opened could price no order, and the metrics value the asset at
    its last close from then on (``coverage.end_note``, the sweep's too)."""
    if not r.decisions:
        return []
    last = r.decisions[-1].as_of
    found = (end_note(bars, last, _decided(r, asset)) for asset, bars in r.prices.items())
    return [note for note in found if note is not None]


def _decided(r: BacktestResult, asset: str) -> np.ndarray:
    """When ``asset``'s decisions were made (Unix seconds)."""
    return np.array([d.as_of.timestamp() for d in r.decisions if d.asset == asset])


def unknown_data_notes(r: BacktestResult, most: int = 4) -> list[str]:
    """A line for each metric (and reason) some decisions had no usable value of: their leaves
    were UNKNOWN (a rule reading it could not pass on it), which a run of 0 trades would not
    say. With how many of each asset's decisions (``most`` assets named, the rest counted),
    what the source said at the first, and the ``why`` of that decision. Metrics of one source
    missing at the same decisions for the same reason and message (the candles of one stale
    series) share a line."""
    if not r.unknown:
        return []
    groups: dict[tuple[str, str, str], list[UnknownData]] = {}
    for found in r.unknown:
        groups.setdefault((found.metric, found.source, found.reason), []).append(found)
    lines: dict[tuple[Any, ...], list[str]] = {}  # what a line says -> the metrics it names
    for (metric, source, reason), assets in groups.items():
        first = min(assets, key=attrgetter("first_at"))
        counts = tuple((f.asset, f.decisions) for f in assets)
        key = (source, reason, counts, first.first_id, first.message)
        lines.setdefault(key, []).append(metric)
    totals = Counter(d.asset for d in r.decisions)
    notes = []
    for (source, reason, counts, first_id, message), metrics in lines.items():
        if all(n == totals[asset] for asset, n in counts):
            every = sum(n for _, n in counts)
            where = f"all {every:,} decisions of {numbers.listed([a for a, _ in counts], most)}"
            why = "signalops why"
        else:
            shown = [f"{n:,} of {totals[asset]:,} decisions of {asset}" for asset, n in counts]
            where = numbers.listed(shown, most)
            why = "the first: signalops why"
        verb = "was" if len(metrics) == 1 else "were"
        named = numbers.listed(metrics, most)
        notes.append(
            f"{named} ({source}) {verb} UNKNOWN at {where}: {reason}: {message} "
            f"({why} {first_id} --audit {r.audit_path})"
        )
    return notes


def failed_order_notes(r: BacktestResult) -> list[str]:
    """A line when orders the risk gate approved failed at the paper broker (a BUY whose cost
    with its fee is more than the cash: ``position_size: 1.0``, sized to fit at its decision's
    price, of a stock that opened higher): they trade nothing, and the table would only say how
    many trades there were."""
    failed = [d for d in r.decisions if d.status == ExecutionStatus.FAILED.value]
    if not failed:
        return []
    first = failed[0]
    return [
        f"{_count(len(failed), 'order')} the risk gate approved failed at the paper broker "
        f"(the first, {first.verdict} {first.asset} at {iso(first.as_of)}: "
        f"signalops why {first.decision_id} --audit {r.audit_path} says why)"
    ]


def cut_buy_notes(r: BacktestResult, logs: Path | None = None) -> list[str]:
    """Lines for BUYs that filled less than their strategy asked for: the cash left was short
    of what ``position_size`` asked (the last equal share of an all-in book, after the other
    shares' fees), and sizing cut the order to what the cash paid (its CASH_SIZE check); or
    the price rose between the decision and its fill (a stock opening above the close it was
    sized at) past what the cash allowed, and the paper broker bought what it allowed (its
    fill's ``details["ordered"]``). The trades table shows the smaller quantities only. A BUY
    cut only to leave room for its slippage and fee (``position_size: 1.0``) is not told:
    that is what all-in means (``why`` shows its CASH_SIZE). The log is read in ``logs``
    (``audit_log``)."""
    bought = [d for d in r.decisions if d.action == "BUY" and d.status == _FILLED]
    short: list[tuple[Decision, str, str]] = []
    cut: list[tuple[Decision, str, str]] = []
    if bought:
        try:
            with AuditLog.open_readonly(audit_log(r, logs)) as log:
                for d in bought:
                    record = log.get(d.decision_id) or {}
                    asked = _asked_past_the_cash(record)
                    if asked is not None:
                        short.append((d, asked, record["order"]["quantity"]))
                    execution = record.get("execution") or {}
                    ordered = (execution.get("details") or {}).get("ordered")
                    if ordered is not None:
                        cut.append((d, ordered, execution["fill"]["quantity"]))
        except (OSError, SignalOpsError):  # a log moved since: nothing to say
            return []
    lines = []
    if short:
        first, asked, ordered = short[0]
        lines.append(
            f"{_count(len(short), 'BUY')} asked for more than the cash left and bought what "
            f"it paid, slippage and fee included (the first, {first.asset} at "
            f"{iso(first.as_of)}: {numbers.quantity(ordered)} of {numbers.quantity(asked)}; "
            f"signalops why {first.decision_id} --audit {r.audit_path})"
        )
    if cut:
        first, ordered, filled = cut[0]
        lines.append(
            f"{_count(len(cut), 'BUY')} filled less than ordered: the price rose between the "
            f"decision and its fill, and the cash allowed less (the first, {first.asset} at "
            f"{iso(first.as_of)}: {numbers.quantity(filled)} of {numbers.quantity(ordered)}; "
            f"signalops why {first.decision_id} --audit {r.audit_path})"
        )
    return lines


def _asked_past_the_cash(record: Mapping[str, Any]) -> str | None:
    """The quantity a BUY asked for when its notional alone was more than the cash it could
    spend (its CASH_SIZE check); None when the cash did not cut it, or cut it only to leave
    room for its slippage and fee."""
    checks = (record.get("risk") or {}).get("checks") or ()
    found = next((c["details"] for c in checks if c.get("code") == Code.CASH_SIZE), None)
    if found is None:
        return None
    asked = found["asked_quantity"]
    price = (record.get("order") or {}).get("reference_price")
    if price is None or Decimal(asked) * Decimal(price) <= Decimal(found["cash"]):
        return None
    return str(asked)


def denied_buy_notes(r: BacktestResult, logs: Path | None = None) -> list[str]:
    """A line when the risk gate denied BUYs of an asset the book did not hold (entries that
    did not happen), by check: the table would only say how few trades there were (a run
    stopped after its first winning trade by the default ``max_notional`` of 10,000 said
    "trades 1" and nothing else). BUYs denied while the asset is held are the gate at work
    (adding to a position past ``max_position``) and are not counted; a universe's table lists
    every denial. A run that bought nothing says so. Of several strategies run together: while
    the strategy's own book held none, by strategy in the order named, each with its checks at
    its own limits (a strategy's ``risk:`` may tighten them)."""
    denied, entries = _entries(r)
    if not denied:
        return []
    last = denied[-1]
    if r.others:
        shown, book = _checks_by_strategy(r, denied, logs), "its strategy's book"
    else:
        limits = _limits_of(r, [last.decision_id], logs).get(last.decision_id, {})
        shown, book = _checks(denied, limits), "the book"
    why = f"the last: signalops why {last.decision_id} --audit {r.audit_path}"
    if not r.legs:
        return [
            f"nothing was bought: the risk gate denied every BUY, {_count(len(denied), 'BUY')} "
            f"({shown}; {why})"
        ]
    return [
        f"the risk gate denied {len(denied):,} of {_count(entries, 'BUY')} made while {book} "
        f"held none of the asset ({shown}; {why})"
    ]


def denial_lines(study: Study) -> list[str]:
    """The run's denied BUYs by check, when no table under it says them: one strategy on one
    asset (a universe's or several assets' table by asset, several strategies' by strategy, have
    the line). A limit denies an order, never cuts it (``sized_order``): a tighter limit that
    changes the result without changing the trades denied the BUYs adding to a position held,
    which ``denied_buy_notes`` (the entries) does not count."""
    r = study.result
    if r.others or asset_table(study) is not None:
        return []
    (part,) = study.parts.assets
    if not part.denied:
        return []
    shown = ", ".join(f"{code} {n:,}" for code, n in Counter(part.denials).most_common())
    held = part.denied - len(_entries(r)[0])
    return [
        f"{BY_CHECK}: {shown}; {_count(part.denied, 'BUY')} denied, {held:,} of them adding to "
        f"a position held"
    ]


def _checks_by_strategy(r: BacktestResult, denied: Sequence[Decision], logs: Path | None) -> str:
    """``A 7: MAX_POSITION 7 at limit 5%; B 2: ...``: each strategy's denials in the order
    named, at the limits of its own last denial's record (another's may be looser)."""
    books: dict[str, list[Decision]] = {s.name: [] for s in r.strategies}
    for decision in denied:
        books[r.owner(decision.decision_id)].append(decision)
    lasts = {name: found[-1].decision_id for name, found in books.items() if found}
    limits = _limits_of(r, list(lasts.values()), logs)
    return "; ".join(
        f"{name} {len(books[name]):,}: {_checks(books[name], limits.get(last, {}))}"
        for name, last in lasts.items()
    )


def _checks(denied: Sequence[Decision], limits: Mapping[str, str]) -> str:
    """``MAX_POSITION 7 at limit 10%, MAX_EXPOSURE 7 at limit 50%``: the denials' codes, most
    first, each at the limit ``limits`` (of one strategy's record) names for it."""
    codes = Counter(code for d in denied for code in d.denials)
    return ", ".join(
        f"{code} {n:,}" + (f" at limit {limits[code]}" if code in limits else "")
        for code, n in codes.most_common()
    )


def _limits_of(
    r: BacktestResult, decision_ids: Sequence[str], logs: Path | None
) -> dict[str, dict[str, str]]:
    """By decision, the limit each failed check of its record names, for people (a default the
    trader never set, ``max_notional``'s 10,000, reads as what stopped the entries)."""
    try:
        with AuditLog.open_readonly(audit_log(r, logs)) as log:
            records = {decision_id: log.get(decision_id) for decision_id in decision_ids}
    except (OSError, SignalOpsError):  # a log moved since: the counts alone
        return {}
    return {decision_id: _failed_limits(record) for decision_id, record in records.items()}


def _failed_limits(record: Mapping[str, Any] | None) -> dict[str, str]:
    found = {}
    for check in ((record or {}).get("risk") or {}).get("checks", ()):
        limit = None if check.get("passed") else limit_text(check.get("details") or {})
        if limit is not None:
            found[check["code"]] = limit
    return found


def _entries(r: BacktestResult) -> tuple[list[Decision], int]:
    """The BUYs the gate denied while the book held none of their asset, and how many BUYs
    were made so: the decisions in order, with the fills of the decisions before each (an
    order is booked at its decision)."""
    legs = sorted(r.legs, key=attrgetter("decided_at"))
    held: dict[tuple[str, str], Decimal] = {}  # by book (strategy) and asset
    denied: list[Decision] = []
    entries = at = 0
    for decision in r.decisions:
        while at < len(legs) and legs[at].decided_at < decision.as_of:
            leg = legs[at]
            signed = leg.quantity if leg.side.value == "BUY" else -leg.quantity
            key = (r.owner(leg.decision_id), leg.asset)
            held[key] = held.get(key, Decimal(0)) + signed
            at += 1
        book = (r.owner(decision.decision_id), decision.asset)
        if decision.verdict == "BUY" and held.get(book, Decimal(0)) <= 0:
            entries += 1
            if decision.denials:
                denied.append(decision)
    return denied, entries


def gap_fill_notes(r: BacktestResult) -> list[str]:
    """A line for each asset whose orders filled at a bar opening after the run's next decision
    time: its candles have gaps (sessions or hours missing from the data), and such an order
    filled at the open of the first bar after the gap, later than the decision's own bar.
    (Decisions more often than the candles fill so by design: ``early_fill_notes``.)"""
    if not r.legs or (not r.by_session and r.every.total_seconds() < r.timeframe):
        return []
    times = sorted({d.as_of for d in r.decisions})
    late: dict[str, list[Leg]] = {}
    for leg in r.legs:
        if r.prices[leg.asset].sessions is not None:
            # A stock fills at the first session opening after its decision: later is a gap
            # (a crypto asset beside it decides on Good Friday too, and the fill waits).
            due = calendar.next_open(leg.decided_at.timestamp())
            if leg.filled_at.timestamp() > due:
                late.setdefault(leg.asset, []).append(leg)
            continue
        at = bisect.bisect_right(times, leg.decided_at)
        if at < len(times) and leg.filled_at >= times[at]:
            late.setdefault(leg.asset, []).append(leg)
    notes = []
    for asset, legs in late.items():
        first = legs[0]
        notes.append(
            f"the {r.prices[asset].label} have gaps: {_count(len(legs), 'fill')} came at a bar "
            f"opening after the next decision (the first decided at {iso(first.decided_at)} "
            f"filled at the open of {iso(first.filled_at)})"
        )
    return notes


def early_fill_notes(r: BacktestResult) -> list[str]:
    """A line when decisions come more often than the candles: an order then fills at a bar
    opening after the next decision times, and is booked at its own (what the curve and the
    gate see in between already holds that fill)."""
    candles = [bars for bars in r.prices.values() if not bars.points]
    if r.by_session or not candles or r.every.total_seconds() >= r.timeframe:
        return []
    frame = format_duration(r.timeframe)
    return [
        f"decisions every {format_duration(r.every.total_seconds())} on {frame} candles: an "
        f"order fills at the {fill_words(r.fill)}, up to {frame} after its decision, and is "
        "booked at its decision (the equity curve and the later decisions until that bar "
        "opens already hold the fill)"
    ]


def write_report(
    study: Study,
    *,
    store: SnapshotStore | None = None,
    venues: Venues | None = None,
    into: Path | None = None,
) -> ReportFiles:
    """Every file of the report, in ``into`` (default: ``study.out_dir``; ``run_study`` writes
    them into a staging folder, published as ``study.out_dir`` afterwards). ``store`` (with the
    ``venues`` the backtest ran with): the replay store the backtest read, whose candles the
    indicator panes are computed from; without it they come from the backtest's own bars
    (indicators of closes at its timeframe; the chart's notes say what is left out)."""
    out = study.out_dir if into is None else into
    out.mkdir(parents=True, exist_ok=True)
    metrics_path = out / METRICS
    data = study.to_dict()
    data["definitions"] = {**_DEFINITIONS, **(_BOOKS if study.result.others else {})}
    metrics_path.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    trades_path = write_trades(study.result, out / TRADES)
    drawn = charts(study, None if store is None else store_candles(store, venues))
    charts_path = out / CHARTS
    charts_path.write_text(
        json.dumps([chart.to_dict() for chart in drawn], allow_nan=False) + "\n",
        encoding="utf-8",
    )
    html_path = out / HTML
    html_path.write_text(render_html(study, drawn, data), encoding="utf-8")
    return ReportFiles(metrics_path, trades_path, html_path, charts_path)


# trades.csv's figures, each column at one precision (the audit log keeps the exact fills; an
# average of several fills' prices, or a PnL of them, has up to 28 digits): prices to 6 places
# and at least 6 significant digits (an outcome's 0.556193, a coin at 0.0000123456); PnL and
# fees in the quote currency to 4 places (a fee on a small bet, 0.0010, is not 0.00); the
# return, a fraction, to 6 places; quantities exactly as ordered. Plain decimals: no thousands
# separators, no exponents.
_PRICE_PLACES = 6
_PRICE_DIGITS = 6
_MONEY_PLACES = 4
_RETURN_PLACES = 6


def write_trades(result: BacktestResult, path: Path) -> Path:
    """``trades.csv``: one row per round trip (``TRADE_FIELDS``), figures as said above; of
    several strategies run together, the strategy's (its book's round trip) first."""
    fields = ("strategy", *TRADE_FIELDS) if result.others else TRADE_FIELDS
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for trade in result.trades:
            row = trade.to_dict()
            row["strategy"] = result.owner(trade.entries[0].decision_id)
            row["entry_decisions"] = " ".join(row["entry_decisions"])
            row["exit_decisions"] = " ".join(row["exit_decisions"])
            row.update(_trade_figures(trade))
            writer.writerow({k: "" if row[k] is None else row[k] for k in fields})
    return path


def _trade_figures(trade: Trade) -> dict[str, str | None]:
    return {
        "entry_price": _price_text(trade.entry_price),
        "exit_price": None if trade.exit_price is None else _price_text(trade.exit_price),
        "quantity": f"{trade.quantity:f}",
        "pnl": None if trade.pnl is None else _places(trade.pnl, _MONEY_PLACES),
        "return": None if trade.ret is None else _places(Decimal(repr(trade.ret)), _RETURN_PLACES),
        "fees": _places(trade.fees, _MONEY_PLACES),
    }


def _price_text(price: Decimal) -> str:
    significant = _PRICE_DIGITS - 1 - price.adjusted() if price else 0
    return _places(price, max(_PRICE_PLACES, significant))


def _places(value: Decimal, places: int) -> str:
    """``value`` rounded half-even to ``places`` decimals, as plain text (``-0`` is ``0``)."""
    rounded = value.quantize(Decimal(1).scaleb(-places))
    return f"{rounded.copy_abs() if rounded.is_zero() else rounded:f}"


_DEFINITIONS = {
    "equity": "starting cash at 'from', then the portfolio after each decision time t, marked "
    "at the last close at or before t + every (at most the close of the candle opening at 'to': "
    "an every longer than a candle stops there)",
    "quote": "the paper account's currency, which every amount of money is in (starting cash, "
    "equity, fees, PnL, prices): paper.quote, else the quote of the assets' venues",
    "total_return": "last equity / first equity - 1",
    "cagr": "(last / first) ** (365 days / elapsed) - 1",
    "max_drawdown": "deepest fall of equity below its running peak (<= 0), with the peak (the "
    "last point at that high before the trough, where the fall began), the trough and the "
    "recovery (the first point back at the peak) dated as the closes they hold: with daily "
    "marks (each at 00:00 UTC) the day that ended at the mark (the starting cash: the day of "
    "the first decision), else the mark's time",
    "sharpe": "mean(r - rf) / std(r - rf, ddof=1) * sqrt(periods_per_year)",
    "sortino": "mean(r - rf) / sqrt(mean(min(r - rf, 0)^2)) * sqrt(periods_per_year)",
    "risk_free": "annual rate, compounded to a per-period rate",
    "periods_per_year": "365 days / the decision interval; 252 for stocks (one per session)",
    "win_rate": "closed round trips with pnl > 0 / closed round trips; Wilson 95% interval; "
    "exact two-sided binomial test against 50%",
    "exposure": "fraction of periods with a position held",
    "blocked": "each BLOCKED decision's trade entered at the next bar's open and exited at the "
    "close 'horizon' later, net of slippage and fees; loss = the block avoided a loss, profit = "
    "the block cost a profit (a false positive); counted apart for blocks by a passing veto "
    "and blocks that failed closed (every blocking veto UNKNOWN: its data missing or stale)",
    "false_signals": "FILLED BUY decisions whose trade, measured the same way, lost",
    "buy_and_hold": "all cash into the assets (equal parts) at the first fill price, same fee "
    "and slippage, held to the end",
    "benchmark": "all cash into the benchmark asset (--benchmark) at the first fill price, "
    "same fee and slippage, held to the end; null when none was asked for",
}

# Of several strategies run together (``strategy``, ``strategies`` and ``books`` in metrics.json).
_BOOKS = {
    "strategy": "several strategies: the run, named by their names joined by ' + ' in the "
    "order they decide (as the report's title); its file, hash and vetoes are null, no one "
    "strategy's being the run's: each one's are in strategies",
    "strategies": "each strategy, in the order they decide at each time (the order named): its "
    "name, file, content hash, assets, vetoes and capital (null: it shares the account's "
    "cash); each decision played out under blocked and signals names its strategy",
    "books": "each strategy's book in the one account: its own fills (pnl = sold - bought + "
    "held at the end x the last close; net = pnl - fees, adding up to the account's equity "
    "change), its own round trips, the fraction of periods it held a position, its BUYs the "
    "risk gate denied, and what it started with: its capital from the config's strategies: "
    "section, else the account's starting cash, which it shares",
    "trades": "several strategies: each book's round trips (a strategy sells only what its "
    "book holds), all of them in the account's figures",
}


# --- the page ----------------------------------------------------------------------------------


def told(study: Study) -> Sequence[str]:
    """The study's notes: as read before its files moved (``Study.notes``), else ``notes``."""
    return notes(study.result) if study.notes is None else study.notes


def sizing_told(study: Study) -> Sequence[str]:
    """The study's Kelly sizing lines, as ``told`` gives its notes."""
    return sizing_lines(study) if study.sizing is None else study.sizing


def notes(
    r: BacktestResult, logs: Path | None = None, daily_loss: Sequence[RiskLimits] = ()
) -> list[str]:
    """Every note of a backtest, in the order the terminal and the report show them: what the
    table alone would not say (data that starts late or ends early, metrics that could not be
    read, late fills, entries denied, a daily loss limit that cannot bind, orders failed or
    cut). The notes that read the audit log read it in ``logs`` (``audit_log``);
    ``daily_loss``: the limits of the strategies whose ``max_daily_loss`` the config or the
    strategy sets (``daily_loss_notes``)."""
    return [
        *late_data_notes(r),
        *ended_data_notes(r),
        *unknown_data_notes(r),
        *gap_fill_notes(r),
        *early_fill_notes(r),
        *denied_buy_notes(r, logs),
        *daily_loss_notes(r, daily_loss),
        *failed_order_notes(r),
        *cut_buy_notes(r, logs),
    ]


def daily_loss_notes(r: BacktestResult, limits: Sequence[RiskLimits]) -> list[str]:
    """A line when a ``max_daily_loss`` set in ``limits`` cannot deny a BUY: every decision of
    the run is at 00:00 UTC, where the day's loss is measured from (the equity then), so each
    decision has lost nothing yet that day (``MAX_DAILY_LOSS``'s change is 0). A strategy
    deciding once a day at midnight otherwise reads as protected by a limit that never acts."""
    if not limits or not r.decisions:
        return []
    if any(t.astimezone(UTC).time() != MIDNIGHT for t in r.times):
        return []
    shown = ", ".join(
        dict.fromkeys(
            limit_text({"limit": x.max_daily_loss, "unit": DAILY_LOSS_UNIT}) or "" for x in limits
        )
    )
    return [
        f"max_daily_loss {shown} cannot bind: every decision of the run is at 00:00 UTC, where "
        "the day's loss is measured from, so none has lost anything yet that day; decide "
        "within the day (--every 6h, say) for it to deny BUYs after a loss"
    ]


def render_html(
    study: Study,
    drawn: Sequence[Chart],
    data: Mapping[str, Any] | None = None,
) -> str:
    """The page: the study's ``notes`` above the table (and under it its ``sizing`` lines),
    a portfolio's table by asset (``asset_table``), the charts, the extended measures of
    ``data`` (``metrics.json``'s content, when given), the filter accounting and the trades.
    plotly.js is inlined once at the top, so the file opens offline; the same study gives the
    same bytes."""
    r = study.result
    e = html.escape
    why = str(r.audit_path)
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(_names(r))} backtest</title>",
        f"<style>{_CSS}</style>",
        f"<script>{plotly_js()}</script></head><body>",
        f"<h1>{e(title(study))}</h1>",
        *(f"<p class=note>note: {e(line)}</p>" for line in told(study)),
        "<p>" + "<br>".join(e(line) for line in method_lines(study)) + "</p>",
        table(columns(study), metric_rows(study)),
        *(f"<p>{e(line)}</p>" for line in sizing_told(study)),
        *_strategies_section(study),
        *_assets_section(study),
        *(embed(chart, why) for chart in drawn),
        extended_section((data or {}).get("extended"), study.quote),
        "<h2>Filter accounting</h2>",
        "<p>" + "<br>".join(e(line) for line in filter_lines(study)) + "</p>",
    ]
    if r.blocked.items:
        parts.append(_blocked_table(study))
    parts.append(f"<h2>Trades ({len(r.trades)})</h2>")
    parts.append(_trades_table(r))
    parts.append(
        "<p class=note>Every decision is in the audit log "
        f"<code>{e(str(r.audit_path))}</code>: <code>signalops why DECISION_ID --audit "
        f"{e(str(r.audit_path))}</code> explains one.</p>"
    )
    parts.append(f"<script>{CLICK_SCRIPT}</script>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _strategies_section(study: Study) -> list[str]:
    """The account by strategy, as the terminal prints it (nothing for one strategy)."""
    found = strategy_table(study)
    if found is None:
        return []
    lines = "<br>".join(html.escape(line) for line in strategy_lines(study))
    return [
        "<h2>Account by strategy</h2>",
        f"<p>{html.escape(found.summary)}</p>",
        table(found.columns, found.rows, left=found.left),
        f"<p>{lines}</p>",
    ]


def _assets_section(study: Study) -> list[str]:
    """The portfolio by asset, as the terminal prints it (nothing for a single asset)."""
    found = asset_table(study)
    if found is None:
        return []
    return [
        "<h2>Portfolio by asset</h2>",
        f"<p>{html.escape(found.summary)}</p>",
        table(found.columns, found.rows, left=found.left),
    ]


def _blocked_table(study: Study) -> str:
    head: tuple[str, ...] = (
        "decided",
        "asset",
        "action",
        "blocked by",
        "veto data",
        "entry",
        "exit",
        "net return",
        "outcome",
        "decision",
    )
    if study.baseline is not None:
        head = (*head, "without vetoes")
    several = bool(study.result.others)
    if several:
        head = ("strategy", *head)
    rows = []
    for item in study.result.blocked.items:
        outcome = {LOSS: "loss avoided", PROFIT: "profit missed"}.get(item.outcome, item.outcome)
        if item.outcome == UNRESOLVED and item.note:
            outcome = f"unresolved: {item.note}"
        row = [
            day(item.as_of),
            item.asset,
            item.action,
            ", ".join(item.blocked_by),
            "UNKNOWN (failed closed)" if item.decision_id in study.failed_closed else "held",
            _price_at(item.entry_price, item.entry_time),
            _price_at(item.exit_price, item.exit_time),
            pct(item.net_return, signed=True),
            outcome,
            item.decision_id,
        ]
        if study.baseline is not None:
            match = study.baseline_decision(item)
            row.append(
                DASH
                if match is None
                else f"{match.verdict} {match.status}"
                + (f" ({', '.join(match.denials)})" if match.denials else "")
            )
        rows.append([study.result.owner(item.decision_id), *row] if several else row)
    return table(head, rows)


def _price_at(price: Decimal | None, moment: datetime | None) -> str:
    if price is None:
        return DASH
    return f"{numbers.trade_price(price)} @ {day(moment)}"  # an outcome's 0.953 keeps its digits


def _trades_table(result: BacktestResult) -> str:
    head: tuple[str, ...] = ("asset", "entry", "exit", "quantity", "pnl", "return", "fees")
    several = bool(result.others)
    if several:  # each strategy's own round trips: whose
        head = ("strategy", *head)
    rows = []
    for trade in result.trades:
        owner = [result.owner(trade.entries[0].decision_id)] if several else []
        rows.append(
            [
                *owner,
                trade.asset,
                _price_at(trade.entry_price, trade.entry_time),
                _price_at(trade.exit_price, trade.exit_time) if trade.closed else "open",
                numbers.quantity(trade.quantity),
                DASH if trade.pnl is None else f"{trade.pnl:,.2f}",
                pct(trade.ret, signed=True),
                f"{trade.fees:,.2f}",
            ]
        )
    return table(head, rows)


_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}"
    "th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}"
    f"th:first-child,td:first-child,.{TEXT}{{text-align:left}}th{{background:#f4f4f4}}"
    ".chart{width:100%}.note{color:#555}code{background:#f4f4f4;padding:1px 3px}"
    "input.why{width:60%;font-family:ui-monospace,monospace;font-size:12px;padding:2px 4px}"
    ".tables{display:flex;flex-wrap:wrap;gap:0 2em;align-items:flex-start}"
    "td.up{background:#e6f4ea}td.down{background:#fce8e6}"
)
