"""Numbers for people: percentages, money, ratios, counts and quantities as text.

One set of rules for every place that shows a number to a trader (the CLI's tables, the
dashboard): a return is ``+3.81%``, money is ``10,090.45 USDT``, a ratio ``42.54``, a count
``1,234``, an order quantity exactly as recorded (``0.34785224``), a fill price to six
significant digits (``20,372.40``), a duration in days, hours, minutes and seconds (``1d 6h``),
a p-value to three places (``<0.001``). A missing value is ``—``.

Values arrive as floats (metrics), Decimals (the ledger) or the strings a stored record holds
(``"499.9749815968"``); strings are read as Decimals so money is never rounded through a float.
Only formatting lives here: no number is changed, so what is shown can always be traced back to
the record.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

DASH = "—"

Number = float | int | Decimal


def as_number(value: Any) -> Number | None:
    """A float, int or Decimal from what a record holds; None for anything else (text, None,
    booleans: ``True`` is not 1 here)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, str):
        try:
            return Decimal(value.strip().replace(",", ""))
        except InvalidOperation:
            return None
    return None


def _finite(value: Number) -> bool:
    if isinstance(value, Decimal):
        return value.is_finite()
    return math.isfinite(value)


def _special(value: Any) -> str | None:
    """The text for what is not a finite number (None when it is one)."""
    number = as_number(value)
    if number is None:
        return DASH if value is None else str(value)
    if not _finite(number):
        return str(number)
    return None


def percent(value: Any, *, signed: bool = False, digits: int = 2) -> str:
    """A fraction as a percentage with thousands separators: ``0.0380766`` -> ``3.81%``;
    ``signed``: ``+3.81%`` (returns, changes)."""
    special = _special(value)
    if special is not None:
        return special
    number = as_number(value)
    return f"{number:+,.{digits}%}" if signed else f"{number:,.{digits}%}"


def ratio(value: Any, digits: int = 2) -> str:
    """A ratio (Sharpe, Sortino, beta, profit factor) to two places: ``42.54``; one that rounds
    to nothing reads ``0.00`` whatever its sign (``-0.004``: a sign on no digit says nothing)."""
    special = _special(value)
    if special is not None:
        return special
    return f"{as_number(value):z,.{digits}f}"


def money(value: Any, quote: str | None = None, *, signed: bool = False) -> str:
    """Cash, equity, PnL, notional: two places, thousands separators, the quote currency when
    given (``10,090.45 USDT``; ``signed``: ``+90.45``)."""
    special = _special(value)
    if special is not None:
        return special
    text = f"{as_number(value):+,.2f}" if signed else f"{as_number(value):,.2f}"
    return f"{text} {quote}" if quote else text


def price(value: Any, quote: str | None = None) -> str:
    """A market price: like money above 1 (``20,362.21``); smaller prices keep four
    significant digits (``0.0001234``), where two places would say 0.00."""
    special = _special(value)
    if special is not None:
        return special
    number = as_number(value)
    assert number is not None
    if number == 0 or _size(number) >= 1:
        text = f"{number:,.2f}"
    else:
        text = _trimmed(f"{Decimal(str(number)):.{_places(number, 4)}f}")
    return f"{text} {quote}" if quote else text


def count(value: Any) -> str:
    """A whole number with thousands separators: ``1,000,000``."""
    special = _special(value)
    if special is not None:
        return special
    number = as_number(value)
    assert number is not None
    if number != int(number):
        return ratio(number)
    return f"{int(number):,}"


def quantity(value: Any) -> str:
    """An asset quantity exactly as recorded (an order is for exactly this much), with
    thousands separators and no trailing zeros: ``0.34785224``, ``1,250``."""
    special = _special(value)
    if special is not None:
        return special
    number = as_number(value)
    exact = Decimal(str(number)) if isinstance(number, float) else Decimal(number or 0)
    whole, _, fraction = f"{exact:f}".partition(".")
    fraction = fraction.rstrip("0")
    sign = "-" if whole.startswith("-") else ""
    grouped = f"{int(whole.lstrip('-') or 0):,}"
    return f"{sign}{grouped}" + (f".{fraction}" if fraction else "")


def number(value: Any) -> str:
    """Any other number: whole numbers as counts, others with two places from 1 up and four
    significant digits below (``1,234.57``, ``0.03808``)."""
    special = _special(value)
    if special is not None:
        return special
    found = as_number(value)
    assert found is not None
    if found == int(found) and _size(found) < 1e15:
        return count(found)
    if _size(found) >= 1:
        return f"{found:,.2f}"
    return _trimmed(f"{Decimal(str(found)):.{_places(found, 4)}f}")


def percent_trimmed(value: Any, *, digits: int = 4, signed: bool = False) -> str:
    """A fraction as a percentage to at most ``digits`` places, trailing zeros dropped, so a
    limit reads as it was written and a figure keeps what it has: ``0.10`` -> ``10%``,
    ``0.09951`` -> ``9.951%``, ``-0.0193101`` (``digits=2``) -> ``-1.93%``."""
    special = _special(value)
    if special is not None:
        return special
    found = as_number(value)
    exact = Decimal(str(found)) if isinstance(found, float) else Decimal(found or 0)
    rounded = (exact * 100).quantize(Decimal(1).scaleb(-digits))
    text = _trimmed(f"{rounded:+,f}" if signed else f"{rounded:,f}")
    return ("+0" if signed and text in ("+0", "-0") else "0" if text == "-0" else text) + "%"


def period_return(value: Any) -> str:
    """A month's or a year's return as the monthly returns table shows it, in the terminal, on
    report.html and on the dashboard alike: one place (``+1.9%``, ``-1,412.1%``); a flat one
    ``0.0%`` without a sign; a small gain or loss never as a flat one, so with a second place
    (``-0.03%``) or below it (``+<0.01%``)."""
    special = _special(value)
    if special is not None:
        return special
    number = as_number(value)
    if number == 0:
        return "0.0%"  # flat: nothing held, or nothing moved
    text = f"{number:+,.1%}"
    if text not in ("+0.0%", "-0.0%"):
        return text
    text = f"{number:+.2%}"
    return text if text not in ("+0.00%", "-0.00%") else f"{text[0]}<0.01%"


def trade_price(value: Any, quote: str | None = None, *, significant: int = 6) -> str:
    """A traded price: at least two places and ``significant`` significant digits, so that
    ``20372.40111`` reads ``20,372.40``, ``1.234567`` ``1.23457`` and ``0.953`` ``0.953``
    (``price`` gives every price of 1 and above two places only)."""
    special = _special(value)
    if special is not None:
        return special
    found = as_number(value)
    assert found is not None
    exact = Decimal(str(found)) if isinstance(found, float) else Decimal(found)
    places = 2
    if exact != 0:
        leading = exact.adjusted()  # 20372.4 -> 4, 0.0123 -> -2
        places = max(2, significant - 1 - leading)
    text = f"{round(exact, places):,.{places}f}"
    whole, _, fraction = text.partition(".")
    text = f"{whole}.{fraction[:2]}{fraction[2:].rstrip('0')}"
    return f"{text} {quote}" if quote else text


_DURATION_PARTS = (("d", 86400), ("h", 3600), ("m", 60))


def duration(seconds: Any) -> str:
    """A number of seconds as days, hours, minutes and seconds, exactly: ``0`` -> ``0s``,
    ``172800`` -> ``2d``, ``90061`` -> ``1d 1h 1m 1s``, ``-5400`` -> ``-1h 30m``."""
    special = _special(seconds)
    if special is not None:
        return special
    found = as_number(seconds)
    left = abs(Decimal(str(found)) if isinstance(found, float) else Decimal(found or 0))
    parts = []
    for unit, size in _DURATION_PARTS:
        whole, left = divmod(left, size)
        if whole:
            parts.append(f"{int(whole):,}{unit}")
    if left or not parts:
        parts.append(f"{_trimmed(f'{left:f}')}s")
    sign = "-" if found is not None and found < 0 else ""
    return sign + " ".join(parts)


def p_value(value: Any, digits: int = 3) -> str:
    """A p-value to ``digits`` places; below what they can show, ``<0.001`` (never ``0.000``:
    a p-value is never zero)."""
    special = _special(value)
    if special is not None:
        return special
    found = as_number(value)
    assert found is not None
    floor = 10.0**-digits
    if float(found) < floor / 2:
        return f"<{floor:.{digits}f}"
    return f"{float(found):.{digits}f}"


def counted(value: Any, word: str, plural: str | None = None) -> str:
    """A count and its noun, singular for one: ``1 approval``, ``2 approvals``,
    ``1,000 records`` (``plural`` for nouns that do not take an s)."""
    text = count(value)
    one = as_number(value) == 1
    return f"{text} {word if one else plural or word + 's'}"


def listed(names: Sequence[str], most: int | None = None) -> str:
    """Names as a sentence lists them: ``AAPL``, ``AAPL and MSFT``, ``AAPL, MSFT and KO``;
    past ``most``, the first ``most`` and a count: ``A, B, C, D and 3 more``."""
    if most is not None and len(names) > most:
        return f"{', '.join(names[:most])} and {len(names) - most:,} more"
    if len(names) == 1:
        return names[0]
    return f"{', '.join(names[:-1])} and {names[-1]}"


def _size(value: Number) -> float:
    return abs(float(value))


def _places(value: Number, significant: int) -> int:
    """Decimal places that keep ``significant`` digits of a number below 1."""
    leading = -math.floor(math.log10(_size(value)))  # 0.0123 -> 2
    return leading + significant - 1


def _trimmed(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


__all__ = [
    "DASH",
    "as_number",
    "count",
    "counted",
    "duration",
    "listed",
    "money",
    "number",
    "p_value",
    "percent",
    "percent_trimmed",
    "price",
    "quantity",
    "ratio",
    "trade_price",
]
