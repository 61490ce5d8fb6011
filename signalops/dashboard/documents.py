"""Files the dashboard shows besides the audit log: strategy files and backtest reports.

No Streamlit here. Each strategy file is loaded exactly as ``signalops validate`` loads it, so
the errors (with file:line:column) are the ones the CLI prints.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from signalops import numbers
from signalops.adapters import registry
from signalops.audit.store import AuditLog
from signalops.backtest.report import ACCOUNT, Account, account_of_report
from signalops.backtest.runner import AUDIT_FILE
from signalops.dashboard.formatting import (
    DEFAULT_QUOTE,
    comparison_rows,
    metric_label,
    metric_text,
)
from signalops.errors import SignalOpsError, StrategyError
from signalops.explain import View, header_lines, tree_lines, tree_to_dict
from signalops.strategy import find_strategy_files, load

CHART_SUFFIXES = (".png", ".jpg", ".jpeg", ".svg")
HOLD = "buy & hold"
STRATEGY = "strategy"  # the first column's name: the strategy's figures (of several: ACCOUNT)
NAMED = frozenset({"strategy", "strategies"})  # who ran: said by ``whose``, not as a figure


@dataclass(frozen=True)
class StrategyFile:
    path: Path
    name: str | None
    ok: bool
    errors: tuple[str, ...] = ()
    excerpts: tuple[str, ...] = ()
    header: str = ""
    tree: str = ""
    summary: str = ""


def strategy_files(folder: Path) -> list[StrategyFile]:
    """Every ``*.yaml``/``*.yml`` under ``folder``, valid or not, in file order."""
    if not folder.is_dir():
        return []
    catalogue = registry.catalogue()
    found = []
    for path in find_strategy_files([folder]):
        try:
            found.append(_strategy_file(path, catalogue))
        except StrategyError as exc:
            found.append(
                StrategyFile(
                    path=path,
                    name=None,
                    ok=False,
                    errors=tuple(str(item) for item in exc.errors),
                    excerpts=tuple(item.excerpt or "" for item in exc.errors),
                )
            )
        except Exception as exc:  # RecursionError, MemoryError's cousins, a loader bug
            # A file the loader did not foresee must not take the page (and the other files)
            # down: it is shown as that file's one error.
            found.append(_unloadable(path, exc))
    return found


def _strategy_file(path: Path, catalogue: Any) -> StrategyFile:
    strategy = load(path, catalogue)
    tree = strategy.tree
    doc = tree_to_dict(strategy)
    exits = len(tree.exit.children) if tree.exit else 0
    return StrategyFile(
        path=path,
        name=strategy.name,
        ok=True,
        header="\n".join(line.plain for line in header_lines(doc)),
        tree="\n".join(line.plain for line in tree_lines(doc, View(file_lines=True))),
        summary=(
            f"{len(tree.entry.children)} entry, {exits} exit rules, "
            f"{len(tree.vetoes)} vetoes, {len(tree.leaves())} conditions"
        ),
    )


def _unloadable(path: Path, exc: BaseException) -> StrategyFile:
    message = str(exc).splitlines()[0] if str(exc) else ""
    text = f"{path}: cannot be loaded ({type(exc).__name__}{': ' + message if message else ''})"
    return StrategyFile(path=path, name=None, ok=False, errors=(text[:500],), excerpts=("",))


@dataclass(frozen=True)
class BacktestReport:
    """One ``reports/<name>/`` folder: its ``metrics.json`` and any chart images beside it."""

    folder: Path
    metrics: dict[str, Any] = field(default_factory=dict)
    charts: tuple[Path, ...] = ()
    error: str | None = None

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def quote(self) -> str:
        """The currency of the report's money figures: metrics.json's ``quote``; of a report
        written before metrics.json had one, the paper account of its audit log (the account
        the backtest was made in); else ``USDT``, the ledger's default (``quote_assumed``)."""
        return self._currency[0]

    @property
    def quote_assumed(self) -> bool:
        """Whether nothing in the report says its currency: ``quote`` is the default, which
        the page says it assumed (a EUR backtest's money once read as USDT)."""
        return self._currency[1]

    @cached_property
    def _currency(self) -> tuple[str, bool]:
        found = self.metrics.get("quote")
        if isinstance(found, str) and found:
            return found, False
        kept = _account_currency(self.folder / AUDIT_FILE)
        return (kept, False) if kept else (DEFAULT_QUOTE, True)

    def scalar_metrics(self) -> dict[str, Any]:
        """Top-level numbers and strings (the headline figures); nested data shown as JSON.
        Who ran is left to ``whose``: one name in a row of figures would read as the whole
        backtest's, though several strategies ran."""
        return {k: v for k, v in self.metrics.items() if _scalar(v) and k not in NAMED}

    def strategy_names(self) -> tuple[str, ...]:
        """The strategies the backtest ran, in the order named: of several run together, the
        books of metrics.json (``books``, else its ``strategies``); else the one strategy."""
        data = self.metrics
        books = data.get("books")
        if isinstance(books, dict) and books:
            return tuple(str(name) for name in books)
        listed = data.get("strategies")
        if isinstance(listed, list) and listed:
            return tuple(n for n in map(_name, listed) if n)
        one = _name(data.get("strategy"))
        return (one,) if one else ()

    @property
    def together(self) -> bool:
        """Several strategies backtested together: the figures are their account's."""
        return len(self.strategy_names()) > 1

    @property
    def lead(self) -> str:
        """What the first column's figures are: ``account`` of several strategies (as the
        CLI's table heads it), else ``strategy``."""
        return ACCOUNT if self.together else STRATEGY

    def whose(self) -> str:
        """Whose figures the report's are, in a line: ``The account of 2 strategies
        backtested together: A and B``, or ``Strategy: A``; empty when it names none."""
        names = self.strategy_names()
        if not names:
            return ""
        if len(names) == 1:
            return f"Strategy: {names[0]}"
        several = numbers.counted(len(names), "strategy", "strategies")
        return f"The account of {several} backtested together: {numbers.listed(list(names))}"

    def account(self) -> Account | None:
        """Of several strategies run together, the account by strategy as ``signalops
        backtest`` printed it and report.html shows it (``report.account_of_report``)."""
        return account_of_report(self.metrics, self.quote) if self.together else None

    def run_rows(self) -> list[dict[str, str]]:
        """The top-level figures (period, cash, timing) with numbers as the CLI writes them."""
        return [
            {"metric": metric_label(name, self.quote), "value": metric_text(name, value)}
            for name, value in self.scalar_metrics().items()
        ]

    def runs(self) -> dict[str, dict[str, Any]]:
        """Each run's metrics: the strategy's (of several, their account's: ``lead``), the
        vetoes-removed baseline's and buy-and-hold's, as ``signalops backtest`` writes them
        (``metrics``, ``baseline.metrics``, ``buy_and_hold``); empty for reports of another
        shape."""
        data, lead = self.metrics, self.lead
        found = {
            lead: data.get("metrics"),
            "vetoes removed": (data.get("baseline") or {}).get("metrics"),
            HOLD: data.get("buy_and_hold"),
        }
        columns = {name: value for name, value in found.items() if isinstance(value, dict)}
        return columns if lead in columns else {}

    def comparison(self) -> list[dict[str, str]]:
        """The strategy's (of several, their account's) metrics beside the baseline's and
        buy-and-hold's, one row per metric, in the words and formats of the CLI's table
        (``signalops.dashboard.formatting``)."""
        runs = self.runs()
        return comparison_rows(runs, self.quote, frozenset({HOLD})) if runs else []

    def section(self, name: str) -> dict[str, Any]:
        """A top-level object of metrics.json (``extended``, ``universe``), or empty."""
        found = self.metrics.get(name)
        return found if isinstance(found, dict) else {}

    def interactive(self) -> list[dict[str, Any]]:
        """The report's plotly figures (``charts.json``: ``[{"title", "figure", "notes"}]``),
        or none when the report has no such file or it does not read."""
        path = self.folder / "charts.json"
        try:
            found = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return []
        if not isinstance(found, list):
            return []
        return [c for c in found if isinstance(c, dict) and isinstance(c.get("figure"), dict)]

    @property
    def trades(self) -> Path | None:
        path = self.folder / "trades.csv"
        return path if path.is_file() else None

    @property
    def html(self) -> Path | None:
        path = self.folder / "report.html"
        return path if path.is_file() else None


def _account_currency(log: Path) -> str | None:
    """The currency of the paper account in the audit log ``log``; None without a readable
    one. The log is opened read-only, as every reader opens it."""
    if not log.is_file():
        return None
    try:
        with AuditLog.open_readonly(log) as opened:
            ledger = opened.paper_ledger()
            account = ledger.account() if ledger.exists() else None
    except (SignalOpsError, sqlite3.Error, OSError):
        return None
    return None if account is None else account[1]


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, int | float | str | bool)


def _name(value: Any) -> str:
    """A strategy's name as metrics.json may give it: an object with its ``name``, or the
    name alone."""
    found = value.get("name") if isinstance(value, dict) else value
    return found if isinstance(found, str) else ""


def backtest_reports(folder: Path) -> list[BacktestReport]:
    """Reports written by ``signalops backtest``, newest first (by metrics.json mtime)."""
    if not folder.is_dir():
        return []
    found = []
    files = sorted(folder.glob("*/metrics.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for metrics_file in files:
        report_dir = metrics_file.parent
        charts = tuple(
            sorted(p for p in report_dir.rglob("*") if p.suffix.lower() in CHART_SUFFIXES)
        )
        try:
            metrics = json.loads(metrics_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            found.append(BacktestReport(report_dir, charts=charts, error=f"{metrics_file}: {exc}"))
            continue
        if not isinstance(metrics, dict):
            metrics = {"metrics": metrics}
        found.append(BacktestReport(report_dir, metrics, charts))
    return found
