"""The report page's tables: any table of text cells, and the extended measures' tables.

The extended measures are read from ``metrics.json``'s content, which carries them under
``extended`` (``metrics.ExtendedMetrics.to_dict``, with ``relative_to``: what alpha and beta
are measured against). The page shows them from that same dict, so the page and the file
cannot disagree, and a study without them shows nothing here:

    against the benchmark   alpha, beta, tracking error, information ratio
    trades and trading      profit factor, expectancy, Calmar, turnover, traded notional
    tail risk               VaR and CVaR of one period, historical and parametric, 95% and 99%
    monthly returns         each UTC month's return, and each year's, coloured by sign
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from signalops import numbers
from signalops.backtest.formatting import DASH, money, pct, profit_factor, ratio

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_BUY_AND_HOLD = "buy_and_hold"  # comparison.BUY_AND_HOLD: the run's own assets held
TEXT = "text"  # the class of a name's cell past the first column: aligned left (report._CSS)


def extended_section(extended: Mapping[str, Any] | None, quote: str | None = "USDT") -> str:
    """The section's HTML; empty without extended measures."""
    if not isinstance(extended, Mapping):
        return ""
    parts = ["<h2>More measures</h2>", '<div class="tables">']
    rows = _relative_rows(extended) + _trading_rows(extended, quote)
    if rows:
        parts.append(table(("measure", "strategy"), rows))
    tail = _tail_rows(extended.get("tail_risk") or ())
    if tail:
        parts.append(table(("loss in one period", "VaR", "CVaR", "periods"), tail))
    parts.append("</div>")
    monthly = extended.get("monthly_returns")
    if isinstance(monthly, Mapping) and monthly:
        parts += ["<h3>Monthly returns</h3>", _monthly_table(monthly)]
    return "\n".join(parts)


def table(head: Sequence[str], rows: Sequence[Sequence[str]], *, left: int = 1) -> str:
    """A table of text cells, escaped; the first ``left`` columns are names, aligned left as
    the terminal aligns them (the page's style aligns the first column left, figures right)."""
    names = "".join(_cell("th", h, i, left) for i, h in enumerate(head))
    lines = ["<table>", f"<tr>{names}</tr>"]
    for row in rows:
        cells = "".join(_cell("td", str(c), i, left) for i, c in enumerate(row))
        lines.append(f"<tr>{cells}</tr>")
    lines.append("</table>")
    return "\n".join(lines)


def _cell(tag: str, text: str, column: int, left: int) -> str:
    name = f' class="{TEXT}"' if 0 < column < left else ""
    return f"<{tag}{name}>{html.escape(text)}</{tag}>"


def _relative_rows(extended: Mapping[str, Any]) -> list[tuple[str, str]]:
    found = extended.get("relative")
    if not isinstance(found, Mapping):
        return []
    against = extended.get("relative_to")
    name = "buy & hold" if against in (None, _BUY_AND_HOLD) else f"buy & hold {against}"
    return [
        (f"alpha vs {name} (a year)", pct(found.get("alpha"), signed=True)),
        (f"beta vs {name}", ratio(found.get("beta"))),
        (f"tracking error vs {name} (a year)", pct(found.get("tracking_error"))),
        (f"information ratio vs {name}", ratio(found.get("information_ratio"))),
    ]


def _trading_rows(extended: Mapping[str, Any], quote: str | None) -> list[tuple[str, str]]:
    trades = extended.get("trades") or {}
    expectancy = _decimal(trades.get("expectancy"))
    each = DASH if expectancy is None else money(expectancy, quote)
    if trades.get("expectancy_return") is not None:
        each += f" ({pct(trades['expectancy_return'], signed=True)})"
    traded = _decimal(extended.get("traded_notional"))
    turnover = extended.get("turnover")
    return [
        ("profit factor", profit_factor(trades.get("profit_factor"), trades.get("gross_profit"))),
        ("expectancy per closed trade", each),
        ("Calmar", _with_gap(ratio(extended.get("calmar")), extended.get("calmar_gap"))),
        ("turnover (a year)", DASH if turnover is None else f"{turnover:.2f}×"),
        ("traded notional", DASH if traded is None else money(traded, quote)),
    ]


def _with_gap(shown: str, gap: Any) -> str:
    """A figure, with why it is missing when it is (metrics.json's ``..._gap``)."""
    return f"{shown} ({gap})" if isinstance(gap, str) and shown == DASH else shown


def _tail_rows(risks: Sequence[Mapping[str, Any]]) -> list[tuple[str, str, str, str]]:
    rows = []
    for risk in risks:
        label = f"{risk.get('method', '?')} {pct(risk.get('confidence'), digits=0)}"
        if risk.get("error"):
            rows.append((label, str(risk["error"]), DASH, str(risk.get("observations", DASH))))
            continue
        var, cvar = (_unsigned_zero(risk.get(key)) for key in ("var", "cvar"))
        rows.append((label, pct(var), pct(cvar), f"{risk.get('observations')}"))
    return rows


def _monthly_table(monthly: Mapping[str, Any]) -> str:
    head = ("year", *MONTHS, "year")
    lines = ["<table class=months>", "<tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
    for year, row in monthly.items():
        months = list(row.get("months") or ())
        cells = [_month_cell(value) for value in [*months, row.get("year")]]
        lines.append(f"<tr><td>{html.escape(str(year))}</td>" + "".join(cells) + "</tr>")
    lines.append("</table>")
    return "\n".join(lines)


def _month_cell(value: float | None) -> str:
    if value is None:
        return f"<td>{DASH}</td>"
    kind = "flat" if value == 0 else "up" if value > 0 else "down"
    return f'<td class="{kind}">{html.escape(numbers.period_return(value))}</td>'


def _unsigned_zero(value: float | None) -> float | None:
    """``-0.0`` (no loss at all) reads ``0.00%``, not ``-0.00%``."""
    return None if value is None else value + 0.0


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None
