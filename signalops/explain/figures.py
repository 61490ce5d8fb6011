"""The figures of a decision record for people: risk-check details, the order, the fill and
the execution message.

A record keeps exact figures (``"499.9998098994"``, ``"172800"``, ``null``); this says them as
a trader reads them: money to the cent (``500.00``), a fill price to six significant digits
(``20,372.40``), a quantity as ordered, a duration as one (``2d``), a fraction of equity as a
percentage (``5%``), no ``None``. Only the words change: ``why --json`` and the records keep
the exact figures. A risk check's ``actual`` and ``limit`` are written alike, and exactly when
the usual places would make two different figures read the same (``10%`` against ``10%``).
A check the order's side is exempt from (``"exempt": "BUY"``: NO_POSITION, which only a SELL
can fail) says that it does not apply, without the figures it did not judge.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from signalops import numbers

Record = Mapping[str, Any]
Format = Callable[[Any], str]

# Detail keys whatever the check: money in the quote currency, fractions shown as percentages.
# Money: the equity and the values MAX_POSITION, MAX_EXPOSURE, MAX_SECTOR (``sector_value``),
# MAX_DAILY_LOSS and MAX_VAR/MAX_CVAR record; Kelly's mean win and loss, of the strategy's
# closed trades' PnLs (KELLY_SIZE, and ZERO_SIZE's ``kelly``); a BUY the cash cut: what it
# asked for would have cost, and what it costs (CASH_SIZE).
_MONEY_KEYS = frozenset(
    {"asked_cost", "cash", "cash_after", "cost", "day_start_equity", "equity", "exposure",
     "mean_loss", "mean_win", "notional", "position_value", "sector_value", "value"}
)  # fmt: skip
# Asset quantities: what a BUY the cash cut asked for (CASH_SIZE).
_QUANTITY_KEYS = frozenset({"asked_quantity"})
_PERCENT_KEYS = frozenset(
    {"cap", "confidence", "fraction", "kelly_lower", "kelly_point", "win_rate", "win_rate_lower"}
)
# Market prices: MAX_DAILY_LOSS's day_start_marks (what each position held at 00:00 UTC was
# valued at).
_PRICE_KEYS = frozenset({"price"})
# Nested mappings of asset quantities: UNPRICED_HOLDINGS' holdings, RECONCILE_MISMATCH's books.
_QUANTITY_MAPS = frozenset({"books", "holdings"})
_PAIRED = ("actual", "limit")
_DURATION_UNIT = "seconds"


def _percent(value: Any) -> str:
    return numbers.percent_trimmed(value, digits=4)


def _exact_percent(value: Any) -> str:
    return numbers.percent_trimmed(value, digits=10)


def _money(value: Any) -> str:
    return numbers.money(value)


def _paired_format(unit: str) -> tuple[Format, Format] | None:
    """How a check's ``actual`` and ``limit`` read in ``unit``, usually and exactly; None for
    a unit of words or counts."""
    if unit.startswith(_DURATION_UNIT):
        return numbers.duration, numbers.duration
    if unit.startswith("fraction"):
        return _percent, _exact_percent
    if unit == "quote currency":
        return _money, numbers.quantity
    if unit.startswith("asset units"):
        return numbers.quantity, numbers.quantity
    return None


def unit_text(unit: str) -> str:
    """A unit as the figures now read: seconds are shown as durations (``2d``), so
    ``seconds since the last trade`` is ``time since the last trade``."""
    if unit == _DURATION_UNIT:
        return "duration"
    if unit.startswith(_DURATION_UNIT + " "):
        return "time" + unit.removeprefix(_DURATION_UNIT)
    return unit


def _missing(key: str, unit: str) -> str:
    """The words for a figure the record holds as null."""
    if key == "actual" and "since the last trade" in unit:
        return "no earlier trade"
    if key == "last_trade":
        return "none yet"
    return "none"


def _plain(value: Any) -> str:
    """A detail no rule covers: JSON numbers as numbers, text as it is."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return numbers.number(value)
    return str(value)


def _one(key: str, value: Any, unit: str, within: str = "") -> str:
    if value is None:
        return _missing(key, unit)
    if isinstance(value, Mapping):
        inner = ", ".join(
            f"{k.replace('_', ' ')} {_one(k, v, '', key)}" for k, v in sorted(value.items())
        )
        return f"({inner})"
    if isinstance(value, list | tuple):
        return "/".join(_one(key, v, unit, within) for v in value)
    if isinstance(value, bool):
        return _plain(value)
    if within in _QUANTITY_MAPS or key in _QUANTITY_KEYS:
        return _figure(numbers.quantity, value)
    if key in _MONEY_KEYS:
        return _figure(_money, value)
    if key in _PRICE_KEYS:
        return _figure(numbers.price, value)
    if key in _PERCENT_KEYS:
        return _figure(_percent, value)
    return _plain(value)


def _figure(shown: Format, value: Any) -> str:
    """``shown(value)`` for a number, the record's text for anything else (``"n/a"``)."""
    return shown(value) if numbers.as_number(value) is not None else str(value)


def _paired(details: Record, unit: str) -> dict[str, str]:
    """The check's ``actual`` and ``limit`` in its unit, exactly if they would read the same
    while they differ."""
    formats = _paired_format(unit)
    found = {k: details[k] for k in _PAIRED if k in details and details[k] is not None}
    if formats is None or any(numbers.as_number(v) is None for v in found.values()):
        return {}
    usual, exact = formats
    shown = {k: usual(v) for k, v in found.items()}
    values = [numbers.as_number(v) for v in found.values()]
    if len(shown) == 2 and len(set(shown.values())) == 1 and values[0] != values[1]:
        shown = {k: exact(v) for k, v in found.items()}
    return shown


def limit_text(details: Record) -> str | None:
    """A check's ``limit`` as ``details_text`` writes it (``10,000.00``, ``10%``, ``30d``);
    None when the check has no limit that reads in its unit."""
    return _paired(details, str(details.get("unit") or "")).get("limit")


def details_text(details: Any) -> str:
    """A risk check's details in words, keys sorted (as a stored record has them):
    ``actual 5%, equity 10,000.00, limit 10%, position value 500.00, unit fraction of equity``;
    for a check the order's side is exempt from, ``does not apply to this BUY``."""
    if details in (None, "", {}, []):
        return ""
    if not isinstance(details, Mapping):
        return _one("", details, "")
    exempt = details.get("exempt")
    if isinstance(exempt, str) and exempt:
        return f"does not apply to this {exempt}"
    unit = str(details.get("unit") or "")
    paired = _paired(details, unit)
    words = []
    for key, value in sorted(details.items()):
        text = unit_text(unit) if key == "unit" else paired.get(key) or _one(key, value, unit)
        words.append(f"{key.replace('_', ' ')} {text}")
    return ", ".join(words)


# --- the order, the fill and what the executor said -------------------------------------------


def quote_of(execution: Record | None) -> str | None:
    """The quote currency an execution states, or None: the paper account's (``quote``), else
    the one of the symbol a venue traded (an auto order's ``BTC/USDT``, or ``BTC/USDT:USDT``:
    ``USDT``; the fill's price and fee are in it)."""
    details = (execution or {}).get("details")
    if not isinstance(details, Mapping):
        return None
    quote = details.get("quote")
    if isinstance(quote, str) and quote:
        return quote
    symbol = details.get("symbol")
    if not isinstance(symbol, str) or "/" not in symbol:
        return None
    quote = symbol.partition("/")[2].partition(":")[0]
    return quote or None


def fee_text(value: Any, quote: str | None = None) -> str:
    """A fee to the cent; one below a cent to its first significant digits (``0.0042``), where
    ``0.00`` would say there was none."""
    found = numbers.as_number(value)
    if found is not None and found != 0 and float(numbers.money(found).replace(",", "")) == 0:
        text = numbers.trade_price(value, significant=2)
        return f"{text} {quote}" if quote else text
    return _figure(lambda v: numbers.money(v, quote), value)


def order_text(order: Record, quote: str | None = None) -> str:
    """``BUY 0.02455527 BTC at 20,362.22 USDT (notional 500.00 USDT)``."""
    price = _figure(lambda v: numbers.trade_price(v, quote), order.get("reference_price"))
    notional = _figure(lambda v: numbers.money(v, quote), order.get("notional"))
    quantity = _figure(numbers.quantity, order.get("quantity"))
    return f"{order.get('side')} {quantity} {order.get('asset')} at {price} (notional {notional})"


def fill_text(fill: Record, quote: str | None = None) -> str:
    """``0.02455527 BTC at 20,372.40 USDT, fee 0.50 USDT (paper)``."""
    price = _figure(lambda v: numbers.trade_price(v, quote), fill.get("price"))
    quantity = _figure(numbers.quantity, fill.get("quantity"))
    text = f"{quantity} {fill.get('asset')} at {price}, fee {fee_text(fill.get('fee'), quote)}"
    return text + (f" ({fill['venue']})" if fill.get("venue") else "")


def execution_message(execution: Record) -> str:
    """What the executor said, its figures for people. The paper executor's fill message
    (``paper BUY 0.02455527 BTC at 20372.40111 USDT (fee 0.5002498098043497)``) is said again
    from the fill it describes (``... at 20,372.40 USDT (fee 0.50 USDT)``); any other message,
    whose words only its executor knows, as it was recorded."""
    message = str(execution.get("message") or "")
    fill = execution.get("fill")
    details = execution.get("details")
    if not isinstance(fill, Mapping) or not isinstance(details, Mapping):
        return message
    if details.get("venue") != "paper":
        return message
    side, asset = fill.get("side"), fill.get("asset")
    if not message.startswith(f"paper {side} ") or numbers.as_number(fill.get("price")) is None:
        return message
    quote = quote_of(execution)
    price = numbers.trade_price(fill.get("price"), quote)
    quantity = _figure(numbers.quantity, fill.get("quantity"))
    said = f"paper {side} {quantity} {asset} at {price} (fee {fee_text(fill.get('fee'), quote)})"
    ordered, rose_to = details.get("ordered"), details.get("base_price")
    if ordered is None or numbers.as_number(rose_to) is None:
        return said
    # A BUY the price's rise before its fill put out of the cash's reach (the paper broker's
    # ``_priced_out``): the order line says what was ordered at which price.
    ordered = _figure(numbers.quantity, ordered)
    rose_to = numbers.trade_price(rose_to, quote)
    rise = f"the price rose to {rose_to} before it filled, and the cash allowed less"
    return f"{said}; {ordered} ordered: {rise}"


__all__ = [
    "details_text",
    "execution_message",
    "fee_text",
    "fill_text",
    "order_text",
    "quote_of",
    "unit_text",
]
