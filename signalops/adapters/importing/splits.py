"""A company's split history from a table: ``data import FILE --source fundamental --asset X``.

The EDGAR metrics put filed share counts into the units of the split-adjusted close with the
company's splits (``signalops.adapters.edgar``); without them a company is read as never having
split. A table gives them: the bundled layout ``ticker,ex_date,ratio_new_per_old`` (the shared
``prices/splits.csv``: only the rows of ``--asset`` are read), or any table with an ex-date
column (``ex_date``, ``date``...) and a ratio column (``ratio_new_per_old``, ``ratio``, ``stock
splits``...), such as a Yahoo history saved with its actions, whose zero ratios (days without
a split) are skipped. A ratio is new shares per old share: ``4``, ``4:1`` or ``4/1`` for AAPL's
2020 split, ``0.125`` or ``1:8`` for a 1-for-8 reverse split.

Points: ``splits/<ASSET>``, ``t`` = the ex-date at 00:00 New York, ``v`` = the ratio, as the
bundled import writes them. A table that lists no split of ``--asset`` (the header alone, a
shared table without its rows, a Yahoo history whose ratios are all 0) says that it never split
up to the file's date: it gives the mark a Yahoo download of an empty split history writes,
``splits/<ASSET>/listed`` with ``t`` = the file's modification time (whole seconds, so that a
second import of the file is a no-op) and ``v`` = 0 splits. The fundamentals then know the
company's split history (``edgar.has_split_history``) and the import no longer warns about it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date, datetime

from signalops.adapters.importing.checks import Located
from signalops.adapters.importing.rows import (
    Row,
    Table,
    cell,
    match_columns,
    normalized,
    parse_mapping,
)
from signalops.errors import InputError

FIELDS = ("ex_date", "ratio")
ALIASES = {
    "ex_date": ("ex_date", "ex-date", "exdate", "ex date", "date", "datetime"),
    "ratio": ("ratio_new_per_old", "ratio", "split ratio", "split_ratio", "stock splits",
              "stock_splits", "splits", "split"),
}  # fmt: skip
TICKER_ALIASES = ("ticker", "symbol")


def split_rows(table: Table, asset: str, columns: str | None) -> Iterator[Located]:
    """The splits of ``asset`` in ``table`` as snapshot points, or the mark that it lists none
    (see the module docstring)."""
    from signalops.adapters.edgar import Split, split_listing, split_records

    mapping = parse_mapping(columns, FIELDS)
    found = match_columns(table, FIELDS, ALIASES, mapping, rows_needed=False)
    ticker = _ticker_column(table)
    symbol = asset.upper()
    points: list[Located] = []
    for row in table.rows:
        if ticker is not None and _text(row, ticker).upper() != symbol:
            continue
        ratio = _ratio(row, found["ratio"])
        if ratio != 0:
            split = Split(_ex_date(row, found["ex_date"]), ratio)
            points.extend((*p, row[0]) for p in split_records({symbol: [split]}))
    if not points:
        listed_at = int(table.path.stat().st_mtime)
        points.extend((*p, str(table.path)) for p in split_listing(symbol, [], listed_at))
    yield from points


def _ticker_column(table: Table) -> int | None:
    names = [normalized(name) for name in table.header]
    return next((names.index(a) for a in TICKER_ALIASES if a in names), None)


def _text(row: Row, index: int) -> str:
    return str(cell(row, index, "ticker")).strip()


def _ex_date(row: Row, index: int) -> date:
    """The ex-date as written: a date, or the date part of a time in the exchange's zone."""
    value = cell(row, index, "ex_date")
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        raise InputError(f"{row[0]}: ex_date is {text!r}, not an ISO date") from None


def _ratio(row: Row, index: int) -> float:
    """New shares per old share: a number, or ``NEW:OLD`` / ``NEW/OLD``."""
    value = cell(row, index, "ratio")
    text = str(value).strip()
    try:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, str) and (":" in text or "/" in text):
            new, old = text.replace("/", ":").split(":")
            ratio = float(new) / float(old)
        else:
            ratio = float(text if isinstance(value, str) else value)
    except (TypeError, ValueError, ZeroDivisionError):
        raise InputError(
            f"{row[0]}: ratio is {text!r}, not new shares per old share (4, 4:1, 0.125, 1:8)"
        ) from None
    if not math.isfinite(ratio) or ratio < 0:
        raise InputError(f"{row[0]}: ratio is {text!r}, not a positive number of new shares")
    return ratio
