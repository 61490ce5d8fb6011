"""Rows of a CSV, Parquet or JSON file, each with the place a person would look for it.

A ``Table`` is a header and rows of raw cells; ``where`` names a row as ``FILE:LINE`` for text
files (the physical line its record starts on, counting a skipped banner) and ``FILE: row N`` /
``FILE: item N`` where a file has no useful lines. A cell is named by ``Row.at``:
``FILE:LINE:COLUMN: NAME`` in a text file (the 1-based column of its first character, as a
strategy error's; NAME is its header's), ``FILE: row N: NAME`` elsewhere; a bad value is told
there (``prices.csv:14:23: close: 'n/a' is not a number``). Columns are matched to fields by an
explicit mapping first (a header's name, or a 1-based position: ``close=5``), then by common
names (case, spaces, a BOM and non-breaking spaces ignored).

A text file whose first row holds only values (numbers, dates: ISO, written with digits such as
``03/01/2023``, or in ``--date-format``) has no header row (Binance Vision's kline files): every
row is data, and its columns can be named by position only.

A text file's fields are separated by ``,``, ``;`` or a tab: whichever its header line (the
first line, or the second after a one-field banner) holds most of, ``,`` on a tie. A file
separated by ``;`` or tabs may write decimals with a comma (``92,25``, as a spreadsheet in a
European locale saves it); those cells are read as ``92.25`` when the file holds no number
with a ``.`` too, which could be a thousands separator (``10.220``) as well as a decimal point:
such a file is refused rather than guessed. Where the decimal mark is ``.`` (every
comma-separated file, and a ``;`` or tab one without decimal commas), a number may group its
digits by three with commas (``"20,187,300"``, ``"4,123.45"``, as a copy of Yahoo's web table
writes them): read as ``20187300`` and ``4123.45``. ``"146,83"`` is no such number: in a
comma-separated file it stays refused, as the decimal comma it is. ``"1,085"`` (one group) is
1085 only in a file that shows ``.`` as its decimal mark (a number with a ``.``), else it is as
much 1.085: refused, naming the cell and both readings.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from signalops.errors import InputError
from signalops.extras import require

SEPARATORS = (",", ";", "\t")  # the first wins a tie
_DECIMAL_COMMA = re.compile(r"\s*[+-]?\d+,\d+\s*")
_DECIMAL_POINT = re.compile(r"\s*[+-]?(\d+\.\d*|\.\d+)([eE][+-]?\d+)?\s*")
_THOUSANDS = re.compile(r"\s*[+-]?[1-9]\d{0,2}(,\d{3})+(\.\d+)?\s*")


@dataclass(frozen=True)
class Row:
    """One row's cells, the place of the row (``where``) and the names of its columns. A text
    file's row keeps its record as written (``text``, from line ``line`` of ``file``), in which
    ``at`` finds a cell's column only when an error needs it."""

    where: str
    cells: Sequence[Any]
    names: Sequence[str] = ()
    file: str = ""
    line: int = 0  # 0: not a text file's
    text: str = ""
    separator: str = ","

    def at(self, index: int, field: str) -> str:
        """Where cell ``index`` (the ``field`` read from it) is: ``FILE:LINE:COLUMN: NAME``, or
        ``FILE: row N: NAME`` in a file without lines. A cell past the row's end is placed just
        after its last character; NAME is the header's name of the column, else ``field``."""
        name = self.names[index].strip() if index < len(self.names) else ""
        name = name.replace("\ufeff", "") or field
        if not self.line:
            return f"{self.where}: {name}"
        offset = _cell_offsets(self.text, self.separator, index + 1)[index]
        before = self.text[:offset]
        line = self.line + before.count("\n")
        column = offset - (before.rfind("\n") + 1) + 1
        return f"{self.file}:{line}:{column}: {name}"

    def written(self, index: int) -> str:
        """Cell ``index`` as the file writes it: a text file's characters (``60.10`` with its
        zero, ``59,46`` in a file of decimal commas, unquoted), else the value read."""
        if not self.line:
            return str(self.cells[index]).strip()
        start, end = _cell_offsets(self.text, self.separator, index + 2)[index : index + 2]
        text = self.text[start:end]
        if text.endswith(self.separator):
            text = text[: -len(self.separator)]
        text = text.strip()
        return text[1:-1].replace('""', '"') if text[:1] == text[-1:] == '"' != text else text


def _cell_offsets(text: str, separator: str, wanted: int) -> list[int]:
    """Where the first ``wanted`` cells of a CSV record start in ``text`` (as ``csv.reader``
    splits it: a cell opening with a quote runs to its closing quote, ``""`` inside it being
    one quote); the end of the record for the cells it lacks."""
    starts = [0]
    quoted = in_quotes = False  # the cell opened with a quote; inside its quotes now
    end = len(text)
    for i, char in enumerate(text):
        if len(starts) == wanted:
            break
        if char == '"' and (quoted or i == starts[-1]):
            quoted, in_quotes = True, not in_quotes
        elif in_quotes:
            continue
        elif char == separator:
            starts.append(i + 1)
            quoted = False
        elif char in "\r\n":
            end = i
            break
    return starts + [end] * (wanted - len(starts))


@dataclass(frozen=True)
class Table:
    """A file's header and rows; ``yfinance``: written by yfinance's ``download().to_csv()``
    (its three-line header), whose prices are dividend-adjusted unless it has an ``Adj Close``
    column (``dividend_adjusted``); ``ticker``: the symbol its ``Ticker`` line names, with the
    place of that line."""

    path: Path
    header: tuple[str, ...]
    rows: Sequence[Row]
    yfinance: bool = False
    ticker: tuple[str, str] | None = None
    headerless: bool = False  # the first row was data: columns are named by position only

    def shown_header(self) -> str:
        return ", ".join(self.header) if self.header else "(none)"

    def width(self) -> int:
        """How many columns the file has: its header's, else its first row's."""
        if self.header or not self.rows:
            return len(self.header)
        return len(self.rows[0].cells)


def normalized(name: str) -> str:
    """A header name (or an alias) as compared: case, a BOM, runs of spaces and ``_`` or ``-``
    between words make no difference (``Adj Close``, ``adj_close`` and ``Adj-Close`` are one
    name, as are ``open_time`` and ``Open Time``)."""
    text = name.replace("\ufeff", "").replace("\xa0", " ").replace("_", " ").replace("-", " ")
    return " ".join(text.split()).lower()


# Yahoo's adjusted close, as its exports and the tools that rewrite them spell it.
_ADJ_CLOSE = frozenset({"adj close", "adjclose"})


def adj_close_column(table: Table) -> str | None:
    """The header's adjusted-close column as written (``Adj Close``, ``adj_close``,
    ``AdjClose``), else None."""
    return next((name for name in table.header if normalized(name) in _ADJ_CLOSE), None)


def csv_table(path: Path, date_format: str | None = None) -> Table:
    """A CSV (or ``;``/tab separated) file; a first line of one field followed by a wider
    header is a banner, skipped. Decimal commas are read as the module docstring says; a first
    row whose dates are written in ``date_format`` is data too (``_values_only``)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        separator = _separator(handle)
        handle.seek(0)
        lines = list(handle)  # split as csv.reader splits them (newline="": \n, \r\n or \r)
    reader = csv.reader(lines, delimiter=separator)
    rows: list[Row] = []
    header: tuple[str, ...] = ()
    last = 0
    yfinance = headerless = False
    ticker: tuple[str, str] | None = None
    for cells in reader:
        line, last = last + 1, reader.line_num  # a quoted cell may hold line breaks
        if not any(cell.strip() for cell in cells):
            continue
        if not header and not headerless:
            headerless = _values_only(cells, date_format)
            if not headerless:
                header = tuple(cells)
                continue
        elif len(header) == 1 and len(cells) > 1 and not rows:
            header = tuple(cells)  # the single field was a banner (CryptoDataDownload's URL)
            continue
        if not rows and _yfinance_header_row(header, cells):
            yfinance = True
            if normalized(cells[0]) != "ticker":
                header = (cells[0], *header[1:])  # Date: the time column's name
            elif named := sorted({cell.strip() for cell in cells[1:] if cell.strip()}):
                ticker = (", ".join(named), f"{path}:{line}")
            continue
        text = lines[line - 1] if line == last else "".join(lines[line - 1 : last])
        rows.append(Row(f"{path}:{line}", cells, header, str(path), line, text, separator))
    rows = _decimal_commas(rows) if separator != "," else _thousands(rows)
    return Table(path, header, rows, yfinance, ticker, headerless)


def _values_only(cells: Sequence[str], date_format: str | None = None) -> bool:
    """Whether a first row is data rather than a header: every cell it fills is a number or
    a date or time: ISO, written with digits (``03/01/2023``, ``01.03.2023 14:00``) or in
    ``date_format`` (no column is named ``1677628800000`` or ``03/01/2023``)."""
    filled = [cell.strip() for cell in cells if cell.strip()]
    return len(filled) > 1 and all(_value(cell, date_format) for cell in filled)


def _value(text: str, date_format: str | None = None) -> bool:
    """Whether a cell is a number (``60.10``, ``60,10``) or a date or time."""
    try:
        float(text)
        return True
    except ValueError:
        pass
    if _DECIMAL_COMMA.fullmatch(text) or _THOUSANDS.fullmatch(text):
        return True
    if _WRITTEN_DATE.fullmatch(text):
        return True
    if date_format is not None:
        try:
            datetime.strptime(text, date_format)
            return True
        except ValueError:
            pass
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


_DOWNLOAD_COLUMNS = ("close", "high", "low", "open", "volume")


def dividend_adjusted(table: Table) -> str | None:
    """The yfinance call that wrote the file with ``auto_adjust=True``, its default for
    ``download`` and ``Ticker.history``, else None: those prices are adjusted for dividends,
    and the ``Adj Close`` column, written only with ``auto_adjust=False``, is absent. Known by
    the layout: ``download()``'s three-line header, or its one-line one with
    ``multi_level_index=False`` (the time column, then ``Close,High,Low,Open,Volume``:
    yfinance's alphabetical order, which no exchange's export writes), ``history()``'s
    ``Dividends`` and ``Stock Splits`` columns."""
    if adj_close_column(table) is not None:
        return None
    names = {normalized(name) for name in table.header}
    flat = [normalized(name) for name in table.header[1:]] == list(_DOWNLOAD_COLUMNS)
    if table.yfinance or flat:
        return "yf.download"
    return "Ticker.history" if {"dividends", "stock splits"} <= names else None


def _yfinance_header_row(header: tuple[str, ...], cells: Sequence[str]) -> bool:
    """Whether ``cells`` is the second or third line of the three-line header yfinance's
    ``download(...).to_csv()`` writes (``Price,Close,...`` then ``Ticker,KO,...`` then
    ``Date,,...``): the first names the columns, the last the time column."""
    if not header or normalized(header[0]) != "price" or not cells:
        return False
    first = normalized(cells[0])
    if first == "ticker":
        return True
    return first in ("date", "datetime") and not any(cell.strip() for cell in cells[1:])


def _separator(handle: Any) -> str:
    """The separator the header line holds most of: the first non-blank line's, else (a
    banner of one field) the next one's."""
    lines: list[str] = []
    while len(lines) < 2 and (line := handle.readline()):
        if line.strip():
            lines.append(line)
    for line in lines:
        counts = {sep: line.count(sep) for sep in SEPARATORS}
        if any(counts.values()):
            return max(SEPARATORS, key=lambda sep: counts[sep])  # max keeps the first of ties
    return ","


def _decimal_commas(rows: list[Row]) -> list[Row]:
    """``92,25`` cells as ``92.25``, unless another cell holds a ``.`` that could be a thousands
    separator as well as a decimal point (then the file is refused, naming both cells)."""
    found: dict[str, tuple[str, str]] = {}  # the first cell of each mark, in file order
    for row in rows:
        for index, value in enumerate(row.cells):
            if "," not in found and _DECIMAL_COMMA.fullmatch(value):
                found[","] = (row.at(index, "a cell"), value.strip())
            elif "." not in found and _DECIMAL_POINT.fullmatch(value):
                found["."] = (row.at(index, "a cell"), value.strip())
        if len(found) == 2:
            (a, first), (b, second) = found.values()
            raise InputError(
                f"{a}: {first!r} and {b}: {second!r}: numbers with a '.' and with a ',' in "
                "one file (a thousands separator, or two decimal marks); save the numbers "
                "with one decimal mark and no thousands separators"
            )
    if "," not in found:
        return _thousands(rows)  # the decimal mark is '.'
    return [
        replace(row, cells=[_point(v) if _DECIMAL_COMMA.fullmatch(v) else v for v in row.cells])
        for row in rows
    ]


def _point(value: str) -> str:
    return value.replace(",", ".")


def _thousands(rows: list[Row]) -> list[Row]:
    """``"20,187,300"`` cells as ``20187300`` in a file whose decimal mark is ``.``: digits
    grouped by three, so a decimal comma (``146,83``) is not read as one. A single group
    (``"1,085"``) is a thousand only where the file shows ``.`` as its decimal mark (a number
    with a ``.`` in it); else it is as much a decimal comma, and refused naming both readings."""
    point = any(_point_decimal(v) for row in rows for v in row.cells)
    return [_ungrouped_row(row, point) for row in rows]


def _point_decimal(value: Any) -> bool:
    """Whether a cell is a number whose decimal mark is ``.`` (``146.83``, ``3,951.39``)."""
    text = str(value)
    return bool(_DECIMAL_POINT.fullmatch(text) or ("." in text and _THOUSANDS.fullmatch(text)))


def _ungrouped_row(row: Row, point: bool) -> Row:
    if not any(_THOUSANDS.fullmatch(v) for v in row.cells):
        return row
    cells = list(row.cells)
    for index, value in enumerate(cells):
        if not _THOUSANDS.fullmatch(value):
            continue
        if not point and value.count(",") == 1 and "." not in value:
            grouped, comma = value.strip().replace(",", ""), value.strip().replace(",", ".")
            raise InputError(
                f"{row.at(index, 'a cell')}: {value.strip()!r} is {float(grouped):g} with a "
                f"thousands separator or {float(comma):g} with a decimal comma, and no number "
                "in the file has a '.' to tell which; save the numbers without thousands "
                "separators"
            )
        cells[index] = _ungrouped(value)
    return replace(row, cells=cells)


def _ungrouped(value: str) -> str:
    return value.replace(",", "").strip()


def parquet_table(path: Path) -> Table:
    require("pyarrow", "parquet", "Parquet files")
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a Parquet file ({exc})") from None
    columns = [table.column(name).to_pylist() for name in table.column_names]
    names = tuple(table.column_names)
    rows = [
        Row(f"{path}: row {i + 1}", [column[i] for column in columns], names)
        for i in range(table.num_rows)
    ]
    return Table(path, names, rows)


def load_json(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8-sig") as handle:
            return json.load(handle)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None


def json_table(path: Path, raw: Any, positional: Sequence[str]) -> Table | None:
    """A JSON list of arrays (ccxt/Freqtrade: ``positional`` names the cells) or of objects."""
    if not isinstance(raw, list) or not raw:
        return None
    if all(isinstance(item, list) for item in raw):
        names = tuple(positional)
        rows = [Row(f"{path}: item {i + 1}", item, names) for i, item in enumerate(raw)]
        return Table(path, names, rows)
    if all(isinstance(item, dict) for item in raw):
        header = tuple(dict.fromkeys(str(key) for item in raw for key in item))
        rows = [
            Row(f"{path}: item {i + 1}", [item.get(k) for k in header], header)
            for i, item in enumerate(raw)
        ]
        return Table(path, header, rows)
    return None


def parse_mapping(text: str | None, fields: Sequence[str]) -> dict[str, str]:
    """``time=open_time,close=5`` -> ``{"time": "open_time", "close": "5"}``: a column by its
    header's name, or by its 1-based position (``match_columns`` tells them apart)."""
    mapping: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        field, sep, column = part.partition("=")
        field = field.strip().lower()
        if not sep:
            raise InputError(f"--columns: '{part.strip()}' is not FIELD=COLUMN")
        if field not in fields:
            raise InputError(f"--columns: unknown field '{field}' (one of: {', '.join(fields)})")
        if not column.strip():
            hint = " (volume=none: candles without volume)" if field == "volume" else ""
            raise InputError(f"--columns: '{part.strip()}' names no column{hint}")
        mapping[field] = column.strip()
    return mapping


def by_position(fields: Sequence[str]) -> str:
    """``time=1,open=2,...``: every field named by position, in order (an example to give)."""
    return ",".join(f"{field}={i}" for i, field in enumerate(fields, 1))


_CANDLE_COLUMNS = frozenset({"open", "high", "low", "close"})


def match_columns(
    table: Table,
    fields: Sequence[str],
    aliases: Mapping[str, Sequence[str]],
    mapping: Mapping[str, str],
    *,
    rows_needed: bool = True,
    optional: Sequence[str] = (),
) -> dict[str, int]:
    """Each field's column index; every field must be found or the import reads 0 points, and
    so must a row unless not ``rows_needed`` (a split history may list none). An ``optional``
    field no column matches is left out when every other field is found (a file with a
    header row only: a file without one names its columns, ``FIELD=none`` for one it lacks)."""
    position = {normalized(name): i for i, name in reversed(list(enumerate(table.header)))}
    found: dict[str, int] = {}
    for field in fields:
        if field in mapping:
            found[field] = _mapped(table, field, mapping[field], position, fields)
            continue
        for alias in map(normalized, aliases[field]):
            if alias in position:
                found[field] = position[alias]
                break
    missing = [f for f in fields if f not in found]
    if missing and table.headerless:
        unnamed = f"{', '.join(missing)} not named: " if mapping else ""
        lacking = "".join(f" ({f}=none: a file without {f})" for f in optional if f in missing)
        raise InputError(
            f"{table.path}: no header row: {unnamed}name the columns by position, e.g. "
            f"--columns {by_position(fields)}{lacking}"
        )
    if set(missing) <= set(optional):
        missing = []
    if missing:
        if "close" not in fields and set(position) >= _CANDLE_COLUMNS:
            # A price file given another source: the candles' columns say which it is.
            raise InputError(
                f"{table.path}: 0 points read: its open, high, low and close columns are "
                "candles: import it with --source technical"
            )
        example = ",".join(f"{f}=COLUMN" for f in missing)
        raise InputError(
            f"{table.path}: 0 points read: no column matched {', '.join(missing)} "
            f"(the header is: {table.shown_header()}); name them with --columns {example}"
        )
    if rows_needed and not table.rows:
        raise InputError(f"{table.path}: 0 points read: the header is there but no rows follow")
    return found


def refuse_numeric_header(
    table: Table, found: Mapping[str, int], mapping: Mapping[str, str], prices: Sequence[str]
) -> None:
    """Refuse a first row read as the header whose ``prices`` cells are numbers, when every
    field was named by position (no name of the header was needed): it is a row of data in
    a layout ``_values_only`` did not know (a date written in words), and would be lost."""
    if table.headerless or not mapping or not all(c.isdigit() for c in mapping.values()):
        return
    cells = [table.header[found[f]].strip() for f in prices if found[f] < len(table.header)]
    if len(cells) < len(prices) or not all(_number_like(c) for c in cells):
        return
    raise InputError(
        f"{table.path}: the first row ({', '.join(table.header)}) would be read as a header, "
        f"but its {', '.join(prices)} are numbers: it is a row of data; name the format of "
        "its dates with --date-format, or add a header row"
    )


def _number_like(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return bool(_DECIMAL_COMMA.fullmatch(text) or _THOUSANDS.fullmatch(text))
    return True


def _mapped(
    table: Table, field: str, column: str, position: Mapping[str, int], fields: Sequence[str]
) -> int:
    """The index of the column ``--columns FIELD=COLUMN`` names: by position when COLUMN is a
    whole number (counted from 1), else by the header's name."""
    given = f"{table.path}: --columns {field}={column}"
    if column.isdigit():
        index, width = int(column) - 1, table.width()
        if index < 0:
            raise InputError(f"{given}: columns are counted from 1")
        if index >= width:
            raise InputError(f"{given}: the file has {width} column{'s' * (width != 1)}")
        return index
    if table.headerless:
        raise InputError(
            f"{given}: no header row names it: name the columns by position, e.g. "
            f"--columns {by_position(fields)}"
        )
    named = position.get(normalized(column))
    if named is None:
        raise InputError(f"{given}: no such column (the header is: {table.shown_header()})")
    return named


def cell(row: Row, index: int, field: str) -> Any:
    if index >= len(row.cells):
        count = len(row.cells)
        raise InputError(
            f"{row.at(index, field)}: missing (the row has {count} cell{'s' * (count != 1)})"
        )
    return row.cells[index]


def number(row: Row, index: int, field: str) -> float:
    value = cell(row, index, field)
    try:
        if isinstance(value, bool):
            raise ValueError
        result = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        comma = isinstance(value, str) and _DECIMAL_COMMA.fullmatch(value)
        why = " (decimal commas are read in files separated by ';' or tabs)" if comma else ""
        raise InputError(f"{row.at(index, field)}: {value!r} is not a number{why}") from None
    if not math.isfinite(result):
        raise InputError(f"{row.at(index, field)}: {value!r} is not a finite number")
    return result


def epoch(row: Row, index: int, field: str) -> float:
    """Unix seconds from s, ms or µs, or from an ISO date or time (UTC when it has no zone)."""
    value = cell(row, index, field)
    if isinstance(value, datetime):
        return _utc(value).timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text)
        except ValueError:
            try:
                return _utc(datetime.fromisoformat(text.replace("Z", "+00:00"))).timestamp()
            except ValueError:
                raise InputError(
                    f"{row.at(index, field)}: {text!r} is neither a Unix time nor an ISO date"
                    + _format_hint(text)
                ) from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"{row.at(index, field)}: {value!r} is not a time")
    t = float(value)
    # A time in seconds passes 1e11 only in the year 5138: larger values are ms, then µs.
    if abs(t) >= 1e14:
        return t / 1e6
    if abs(t) >= 1e11:
        return t / 1e3
    return t


_WRITTEN_DATE = re.compile(r"(\d{1,4})([./-])(\d{1,2})\2(\d{1,4})(?:[ T](\d{1,2}(?::\d\d){1,2}))?")


def _format_hint(text: str) -> str:
    """How to read a date ISO does not write (``03/09/2023``, ``09.03.2023 14:00``): name its
    format, as day and month cannot be told apart by the file (refused rather than guessed)."""
    written = _WRITTEN_DATE.fullmatch(text)
    if written is None:
        return ""
    first, sep, second, _, clock = written.groups()
    time = "" if clock is None else " %H:%M" + ":%S" * (clock.count(":") == 2)
    us, eu = f"%m{sep}%d{sep}%Y{time}", f"%d{sep}%m{sep}%Y{time}"
    if len(first) == 4:
        formats = f"%Y{sep}%m{sep}%d{time}"
    elif int(first) > 12 or int(second) > 12:  # this cell says which is the day
        formats = eu if int(first) > 12 else us
    else:  # a dot is Europe's mark, a slash more often the US's: both are given
        formats = f"{eu} or {us}" if sep == "." else f"{us} or {eu}"
    return f": name its format with --date-format, e.g. {formats}"


def check_date_format(date_format: str) -> None:
    """Refuse a ``--date-format`` strptime cannot use (``%Q``, a lone ``%``) before any row."""
    if not date_format.strip():
        raise InputError("--date-format: empty (strptime's codes, e.g. %m/%d/%Y)")
    try:
        datetime.strptime("", date_format)
    except ValueError as exc:
        if "does not match" not in str(exc):
            raise InputError(f"--date-format {date_format}: {exc}") from None


def dated(table: Table, index: int, field: str, date_format: str) -> Table:
    """``table`` with the cells of column ``index`` read as times in ``date_format``
    (``datetime.strptime``'s codes; UTC unless it has ``%z``), each a one-line error at its
    cell when it does not match; the text of each row is kept for naming places."""
    rows = []
    for row in table.rows:
        text = str(cell(row, index, field)).strip()
        try:
            moment = datetime.strptime(text, date_format)
        except ValueError:
            raise InputError(
                f"{row.at(index, field)}: {text!r} does not match --date-format {date_format}"
            ) from None
        cells = list(row.cells)
        cells[index] = moment
        rows.append(replace(row, cells=cells))
    return replace(table, rows=rows)


def written_date(row: Row, index: int, field: str) -> date:
    """The calendar date of a time cell as written: in the cell's own UTC offset
    (``2023-03-09T00:00:00+01:00`` is March 9, though it is March 8 in UTC), in UTC for a Unix
    time or a time without a zone. A daily bar is the session of the date it is written with."""
    value = cell(row, index, field)
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).date()
        except ValueError:
            pass  # a Unix time written as text
    return datetime.fromtimestamp(epoch(row, index, field), UTC).date()


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
