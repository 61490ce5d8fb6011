"""How the dashboard writes numbers: the CLI's rules (``signalops.numbers``) applied to what the
pages show — backtest metrics by name, risk-check figures by unit. No Streamlit here.

Every page formats through this module, so a return reads ``+3.81%`` and equity
``10,090.45 USDT`` wherever they appear, as in ``signalops backtest``'s table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from signalops import numbers
from signalops.explain.text import format_age
from signalops.numbers import DASH

DEFAULT_QUOTE = "USDT"  # what ``signalops backtest`` prints when a report names no currency

Formatter = Callable[[Any], str]


def signed_percent(value: Any) -> str:
    return numbers.percent(value, signed=True)


def day(value: Any) -> str:
    """``2023-03-10`` for midnight UTC, else ``2023-03-10 05:00``, as the backtest table."""
    if not isinstance(value, str) or not value:
        return DASH
    return value[:10] if value.endswith("T00:00:00Z") else value[:16].replace("T", " ")


def dated(value: Any) -> str:
    """A drawdown mark as metrics.json dates it (``metrics.Drawdown.to_dict``), shown as the
    CLI's table shows it (``backtest.formatting.dated``): a day (a daily curve's, written
    ``2020-02-19``) as written, a time as ``2020-02-20 00:00`` (UTC) with its time even at
    midnight: an hourly mark there is the close of 23:00's hour, not a day."""
    if not isinstance(value, str) or not value:
        return DASH
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M")


def seconds(value: Any) -> str:
    found = numbers.as_number(value)
    return DASH if found is None else format_age(float(found))


# --- backtest metrics --------------------------------------------------------------------------

# name -> (label, formatter): the rows and words of ``signalops backtest``'s table first, in its
# order; the quote currency is put into labels that say "(quote)".
_KNOWN: dict[str, tuple[str, Formatter]] = {
    "total_return": ("total return", signed_percent),
    "cagr": ("CAGR", signed_percent),
    "sharpe": ("Sharpe", numbers.ratio),
    "sortino": ("Sortino", numbers.ratio),
    "trades": ("trades", numbers.count),
    "exposure": ("exposure", lambda v: numbers.percent(v, digits=1)),
    "fees": ("fees (quote)", numbers.money),
    "end_equity": ("end equity (quote)", numbers.money),
    "start_equity": ("start equity (quote)", numbers.money),
    "starting_cash": ("starting cash (quote)", numbers.money),
    "risk_free_rate": ("risk-free rate (a year)", numbers.percent),
    "periods_per_year": ("periods a year", numbers.number),
    "periods": ("periods", numbers.count),
    "alpha": ("alpha (a year)", signed_percent),
    "beta": ("beta", numbers.ratio),
    "tracking_error": ("tracking error", numbers.percent),
    "information_ratio": ("information ratio", numbers.ratio),
    "calmar": ("Calmar", numbers.ratio),
    "profit_factor": ("profit factor", numbers.ratio),
    "expectancy": ("expectancy (quote)", numbers.money),
    "expectancy_return": ("expectancy (return)", signed_percent),
    "gross_profit": ("gross profit (quote)", numbers.money),
    "gross_loss": ("gross loss (quote)", numbers.money),
    "traded_notional": ("traded notional (quote)", numbers.money),
    "turnover": ("turnover", numbers.ratio),
    "var": ("VaR", numbers.percent),
    "cvar": ("CVaR", numbers.percent),
    "mean_net_return": ("mean net return", signed_percent),
    "false_positive_rate": ("false-positive rate", lambda v: numbers.percent(v, digits=0)),
    "seconds": ("seconds", lambda v: DASH if v is None else f"{numbers.ratio(v)}s"),
    "from": ("from", day),
    "to": ("to", day),
    # the universe's per-asset figures and the portfolio's
    "bought": ("bought (quote)", numbers.money),
    "sold": ("sold (quote)", numbers.money),
    "realised": ("realised (quote)", lambda v: numbers.money(v, signed=True)),
    "unrealised": ("unrealised (quote)", lambda v: numbers.money(v, signed=True)),
    "pnl": ("PnL (quote)", lambda v: numbers.money(v, signed=True)),
    "net": ("net (quote)", lambda v: numbers.money(v, signed=True)),
    "equity_change": ("equity change (quote)", lambda v: numbers.money(v, signed=True)),
    "mark": ("mark (quote)", numbers.price),
    "quantity": ("quantity", numbers.quantity),
    "max_weight": ("max weight", numbers.percent),
    "buy_and_hold": ("buy & hold", signed_percent),
    "wins": ("wins", numbers.count),
    "denied_buys": ("denied buys", numbers.count),
    # tail risk
    "confidence": ("confidence", lambda v: numbers.percent(v, digits=0)),
    "horizon": ("horizon (periods)", numbers.count),
    "observations": ("observations", numbers.count),
}
# Keys shown inside another row (open trades beside trades) or that are no number.
_FOLDED = {"open_trades", "calmar_gap"}
_PERCENT_WORDS = ("return", "drawdown", "rate", "volatility", "exposure", "var")
_MONEY_WORDS = ("equity", "cash", "fee", "pnl", "notional", "profit", "loss")


def metric_label(name: str, quote: str = DEFAULT_QUOTE) -> str:
    label = _KNOWN[name][0] if name in _KNOWN else name.replace("_", " ")
    return label.replace("(quote)", f"({quote})")


def metric_text(name: str, value: Any) -> str:
    """One metric's value as the CLI prints it; names it does not know by their words
    (``*_return`` a percentage, ``*_equity`` money), other numbers plainly, text as text."""
    if name in _KNOWN:
        return _KNOWN[name][1](value)
    if value is None:
        return DASH
    if isinstance(value, bool) or numbers.as_number(value) is None:
        return str(value)
    return _by_words(name, value)


def _by_words(name: str, value: Any) -> str:
    words = name.lower()
    if any(w in words for w in _PERCENT_WORDS):
        return numbers.percent(value)
    if any(w in words for w in _MONEY_WORDS):
        return numbers.money(value)
    return numbers.number(value)


def _drawdown_rows(value: Mapping[str, Any]) -> list[tuple[str, str]]:
    recovered = value.get("recovered")
    return [
        ("max drawdown", numbers.percent(value.get("depth"))),
        ("drawdown peak", dated(value.get("peak"))),
        ("drawdown trough", dated(value.get("trough"))),
        (
            "recovered",
            DASH if value.get("peak") is None else (dated(recovered) if recovered else "not yet"),
        ),
    ]


def _win_rate_rows(value: Mapping[str, Any]) -> list[tuple[str, str]]:
    rate, interval = value.get("rate"), value.get("wilson_95")
    shown = DASH
    if rate is not None and isinstance(interval, list) and len(interval) == 2:
        low, high = interval
        shown = (
            f"{numbers.percent(rate, digits=0)} [{numbers.percent(low, digits=0)}, "
            f"{numbers.percent(high, digits=0)}]"
        )
    p_value = value.get("binomial_p_vs_50pct")
    p_text = DASH if not value.get("trades") or p_value is None else numbers.p_value(p_value)
    return [("win rate [95% CI]", shown), ("p (win rate = 50%)", p_text)]


def metric_rows(section: Mapping[str, Any], quote: str = DEFAULT_QUOTE) -> list[tuple[str, str]]:
    """(label, text) for each metric of one ``metrics`` object of metrics.json, in the CLI's
    words; drawdown and win rate as the CLI splits them; other nested objects one level deep
    (each of their numbers under its own name); lists and deeper tables left to the JSON view."""
    rows: list[tuple[str, str]] = []
    for name, value in section.items():
        if name in _FOLDED:
            continue
        if name == "max_drawdown" and isinstance(value, Mapping):
            rows += _drawdown_rows(value)
        elif name == "win_rate" and isinstance(value, Mapping):
            rows += _win_rate_rows(value)
        elif name == "trades" and not isinstance(value, Mapping):
            open_trades = section.get("open_trades")
            extra = f" (+{open_trades} open)" if open_trades else ""
            rows.append((metric_label(name, quote), numbers.count(value) + extra))
        elif name == "calmar" and value is None and isinstance(section.get("calmar_gap"), str):
            rows.append((metric_label(name, quote), f"{DASH} ({section['calmar_gap']})"))
        elif isinstance(value, Mapping):
            rows += [
                (metric_label(k, quote), metric_text(k, v))
                for k, v in value.items()
                if _scalar(v) and k not in _FOLDED
            ]
        elif _scalar(value):
            rows.append((metric_label(name, quote), metric_text(name, value)))
    return rows


# The rows of ``signalops backtest``'s table come first, in its order (labels without the
# currency); the others follow in the order metrics.json has them (the sort is stable).
_CLI_ORDER = {
    label: i
    for i, label in enumerate(
        (
            "total return", "CAGR", "max drawdown", "drawdown peak", "drawdown trough",
            "recovered", "Sharpe", "Sortino", "trades", "win rate [95% CI]",
            "p (win rate = 50%)", "exposure", "fees", "end equity",
        )
    )
}  # fmt: skip


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, int | float | str | bool)


# Rows about trades and decisions: buy-and-hold makes none, so the CLI shows ``—`` there.
RUN_ONLY = frozenset({"trades", "win rate [95% CI]", "p (win rate = 50%)"})


def comparison_rows(
    columns: Mapping[str, Mapping[str, Any]],
    quote: str = DEFAULT_QUOTE,
    holds: frozenset[str] = frozenset(),
) -> list[dict[str, str]]:
    """One row per metric, one column per run (strategy, vetoes removed, buy & hold): each
    run's metrics through ``metric_rows``; a run without a metric shows ``—``, and so do the
    ``holds`` columns (buy-and-hold) in the rows about trades."""
    shown = {name: dict(metric_rows(section, quote)) for name, section in columns.items()}
    for name in holds & set(shown):
        shown[name] = {label: DASH if label in RUN_ONLY else text
                       for label, text in shown[name].items()}  # fmt: skip
    labels: list[str] = []
    for rows in shown.values():
        labels += [label for label in rows if label not in labels]
    last = len(_CLI_ORDER)
    labels.sort(key=lambda label: _CLI_ORDER.get(label.removesuffix(f" ({quote})"), last))
    return [
        {"metric": label, **{name: rows.get(label, DASH) for name, rows in shown.items()}}
        for label in labels
    ]


# --- risk checks -------------------------------------------------------------------------------


def small_percent(value: Any) -> str:
    """A percentage to two places, or to two significant digits when smaller than 1%
    (a day's loss of ``-0.005%`` against a 3% limit is not ``-0.00%``)."""
    found = numbers.as_number(value)
    if found is None or not 0 < abs(float(found)) < 0.01:
        return numbers.percent(value)
    digits = 1 - math.floor(math.log10(abs(float(found)) * 100))
    text = numbers.percent(value, digits=digits)
    return text[:-1].rstrip("0").rstrip(".") + "%"


def risk_figure(value: Any, unit: str | None, quote: str | None) -> str:
    """A check's limit or actual value in its unit: fractions as percentages, seconds as a
    duration, quote currency as money, asset units as the exact quantity."""
    if value is None:
        return DASH
    if numbers.as_number(value) is None or isinstance(value, bool):
        if isinstance(value, list):
            return "/".join(str(v) for v in value)
        return str(value)
    unit = (unit or "").lower()
    if unit.startswith("fraction"):
        return small_percent(value)
    if unit.startswith("seconds"):
        return seconds(value)
    if unit.startswith("quote currency"):
        return numbers.money(value, quote)
    if unit.startswith("asset units"):
        return numbers.quantity(value)
    return numbers.number(value)


# Details whose numbers are money or shares of equity, whatever the check's unit says.
_DETAIL_MONEY = ("equity", "exposure", "position_value", "notional", "day_start_equity")


def detail_text(name: str, value: Any, quote: str | None) -> str:
    if name in _DETAIL_MONEY and numbers.as_number(value) is not None:
        return numbers.money(value, quote)
    if isinstance(value, list):
        return "/".join(str(v) for v in value)
    if isinstance(value, str) and numbers.as_number(value) is not None:
        return numbers.number(value)
    return DASH if value is None else str(value)


# The figures a trader reads first, as cards above the table (labels of ``metric_rows``).
_HEADLINE = (
    ("Total return", "total return"),
    ("CAGR", "CAGR"),
    ("Max drawdown", "max drawdown"),
    ("Sharpe", "Sharpe"),
    ("Sortino", "Sortino"),
    ("Trades", "trades"),
    ("End equity (quote)", "end equity (quote)"),
)


def headline(section: Mapping[str, Any], quote: str = DEFAULT_QUOTE) -> list[tuple[str, str]]:
    """(label, text) of the headline figures one run has, in ``_HEADLINE``'s order."""
    rows = dict(metric_rows(section, quote))
    found = []
    for title, label in _HEADLINE:
        label = label.replace("(quote)", f"({quote})")
        if label in rows:
            found.append((title.replace("(quote)", f"({quote})"), rows[label]))
    return found


def keyed_rows(
    items: Mapping[str, Any], first: str, quote: str = DEFAULT_QUOTE
) -> list[dict[str, str]]:
    """A table of objects keyed by name (the universe's assets: ``{"BTC": {...}}``): one row
    each, every figure formatted by its name; nested objects in a few words (``COOLDOWN 1``)."""
    rows = []
    for name, fields in items.items():
        if not isinstance(fields, Mapping):
            continue
        row = {first: str(name)}
        for key, value in fields.items():
            if key in _FOLDED:
                continue
            if isinstance(value, Mapping):
                text = ", ".join(f"{k} {v}" for k, v in value.items()) or DASH
            elif isinstance(value, list):
                text = ", ".join(str(v) for v in value) or DASH
            else:
                text = metric_text(key, value)
            row[metric_label(key, quote)] = text
        rows.append(row)
    return rows


def tail_risk_rows(items: Any) -> list[dict[str, str]]:
    """VaR and CVaR at each method and confidence (``extended.tail_risk``); a measure that
    could not be had says why."""
    rows = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping):
            continue
        error = item.get("error")
        rows.append(
            {
                "method": str(item.get("method", "")),
                "confidence": numbers.percent(item.get("confidence"), digits=0),
                "horizon (periods)": numbers.count(item.get("horizon")),
                "observations": numbers.count(item.get("observations")),
                "VaR": numbers.percent(item.get("var")) if not error else DASH,
                "CVaR": numbers.percent(item.get("cvar")) if not error else DASH,
                "why not": str(error or ""),
            }
        )
    return rows


MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def monthly_rows(table: Any) -> list[dict[str, str]]:
    """The monthly returns table as the CLI prints it: a row per year, ``+0.9%`` per month
    with a return, blank where the backtest did not run, the year's total last."""
    rows = []
    for year, data in (table or {}).items() if isinstance(table, Mapping) else ():
        months = data.get("months") if isinstance(data, Mapping) else None
        if not isinstance(months, list):
            continue
        row = {"year": str(year)}
        for name, value in zip(MONTHS, [*months, *[None] * 12][:12], strict=True):
            row[name] = "" if value is None else numbers.period_return(value)
        total = data.get("year")
        row["total"] = "" if total is None else numbers.period_return(total)
        rows.append(row)
    return rows
