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
bundled import writes them.

A table that says the company never split gives instead the mark a Yahoo download of an empty
split history writes, ``splits/<ASSET>/listed`` with ``v`` = 0 splits, so that the fundamentals
know its split history (``edgar.has_split_history``) and the import no longer warns about it.
Two tables say so: one of the header alone (no row at all), and one whose rows of the company
all have ratio 0 (a Yahoo history of a company that did not split). A table that lists other
companies but not this one says nothing about it (``--asset GOOG`` of a table of GOOGL, or a
typo) and is refused, with the name it likely means. The mark's ``t`` comes from the file's
content alone, so that importing the same content again is a no-op wherever the file is: the
end of the last day its rows speak for (New York, as a filed fact is known); a header alone
speaks for no day, and its mark is at 0 (the Unix epoch), a time that claims none (the file's
modification time, or the clock, would make two checkouts' stores differ, and a touched file
add a second mark).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from signalops.adapters.importing import SeriesImported

FIELDS = ("ex_date", "ratio")
ALIASES = {
    "ex_date": ("ex_date", "ex-date", "exdate", "ex date", "date", "datetime"),
    "ratio": ("ratio_new_per_old", "ratio", "split ratio", "split_ratio", "stock splits",
              "stock_splits", "splits", "split"),
}  # fmt: skip
TICKER_ALIASES = ("ticker", "symbol")
UNDATED = 0.0  # the mark of a header alone: no day it speaks for (see the module docstring)


def split_rows(table: Table, asset: str, columns: str | None) -> Iterator[Located]:
    """The splits of ``asset`` in ``table`` as snapshot points, or the mark that it never
    split (see the module docstring); ``InputError`` when the table lists only others."""
    from signalops.adapters.edgar import Split, split_listing, split_records

    mapping = parse_mapping(columns, FIELDS)
    found = match_columns(table, FIELDS, ALIASES, mapping, rows_needed=False)
    symbol = asset.upper()
    rows = _rows_of(table, symbol)
    points: list[Located] = []
    for row in rows:
        ratio = _ratio(row, found["ratio"])
        if ratio != 0:
            split = Split(_ex_date(row, found["ex_date"]), ratio)
            points.extend((*p, row.where) for p in split_records({symbol: [split]}))
    if not points:
        listed_at = _listed_at([_ex_date(row, found["ex_date"]) for row in rows])
        points.extend((*p, str(table.path)) for p in split_listing(symbol, [], listed_at))
    yield from points


def never_split_notes(
    imported: Iterable[SeriesImported], path: Path, asset: str, columns: str | None
) -> list[str]:
    """What an import of ``path`` recorded when it said ``asset`` never split (``note:``
    lines): the mark is not a split, and a header alone records it with no date."""
    from signalops.adapters.edgar import splits_listed_key
    from signalops.adapters.importing import file_records
    from signalops.venues import DEFAULT_VENUES

    symbol = asset.strip().upper()
    key = splits_listed_key(symbol)
    if not any(series.series == key for series in imported):
        return []
    records = file_records(path, "fundamental", asset.strip(), DEFAULT_VENUES, None, columns)
    return [_never_split(path, symbol, t) for series, t, _ in records if series == key]


def _never_split(path: Path, symbol: str, listed_at: float) -> str:
    from signalops.adapters._facts import day_of

    if listed_at == UNDATED:
        return (
            f"{path} lists no split of {symbol}: recorded that {symbol} never split (its "
            "header alone gives no date)"
        )
    last = day_of(listed_at - 1)  # the day that ended at the mark
    return (
        f"{path} lists no split of {symbol}: recorded that {symbol} did not split (up to "
        f"{last.isoformat()})"
    )


def _rows_of(table: Table, symbol: str) -> list[Row]:
    """The rows about ``symbol``: all of a table without a ticker column; ``InputError`` when
    the table has rows of other tickers only."""
    ticker = _ticker_column(table)
    if ticker is None:
        return list(table.rows)
    rows = [row for row in table.rows if _text(row, ticker).upper() == symbol]
    if table.rows and not rows:
        from signalops.textmatch import closest

        listed = sorted({_text(row, ticker).upper() for row in table.rows} - {""})
        meant = closest(symbol, listed)
        hint = f"did you mean {meant}? " if meant else ""
        raise InputError(
            f"{table.path}: 0 points read: no split of {symbol} ({hint}the file lists "
            f"{', '.join(listed[:10])}{' ...' if len(listed) > 10 else ''})"
        )
    return rows


def _listed_at(days: Sequence[date]) -> float:
    """When the rows say the company had not split: the end of the last day they speak for
    (New York); ``UNDATED`` for none."""
    from signalops.adapters._facts import known_at

    return known_at(max(days)) if days else UNDATED


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
        raise InputError(f"{row.at(index, 'ex_date')}: {text!r} is not an ISO date") from None


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
            f"{row.at(index, 'ratio')}: {text!r} is not new shares per old share (4, 4:1, "
            "0.125, 1:8)"
        ) from None
    if not math.isfinite(ratio) or ratio < 0:
        at = row.at(index, "ratio")
        raise InputError(f"{at}: {text!r} is not a positive number of new shares")
    return ratio
