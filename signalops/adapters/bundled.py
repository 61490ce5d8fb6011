"""Turn the bundled real data (``examples/data``) into replay snapshots.

Each source module knows its own files and exposes ``import_bundled(data_dir)``, yielding
``(series, t, value)`` records; this module runs them and writes one snapshot file per source.
The files replace the old ones only once every source has been read: a bad row in the last
source leaves the snapshot folder exactly as it was (see ``importing.staged``).

The equity universe (``equities/``, see its README) belongs to no single source: its daily
prices are technical candles and its SEC company facts and splits are fundamentals. It is read
by the same code as ``signalops data import FILE`` (so a bundled point equals an imported one)
and added to those two sources' files, reported on lines of its own:

- ``equities/prices/daily/<TICKER>.csv`` -> ``candles/yfinance/<SYMBOL>/1d`` (the Yahoo symbol:
  the ticker, ``^GSPC`` for the S&P 500 index), each bar at 16:00 New York on its date;
- ``equities/edgar/companyfacts/CIK##########.json.gz`` (ticker from ``universe.csv``) ->
  ``edgar/CIK##########``, ``.../fetched`` and ``edgar/ticker/<TICKER>``;
- ``equities/prices/splits.csv`` -> ``splits/<TICKER>``.
"""

from __future__ import annotations

import csv
import gzip
import importlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signalops.adapters.importing.staged import staged
from signalops.adapters.registry import BUILTIN
from signalops.adapters.snapshots import SnapshotStore
from signalops.errors import DataNotFound, InputError
from signalops.venues import AssetVenue, Venue, Venues

DEFAULT_DATA_DIR = Path("examples/data")
DEFAULT_SNAPSHOT_DIR = Path("examples/replay")
EQUITIES = "equities"
# Yahoo's symbol where it is not the file's name: what a live yfinance venue would record.
YAHOO_SYMBOLS: Mapping[str, str] = {"GSPC": "^GSPC", "IXIC": "^IXIC"}
_YFINANCE = Venue("yfinance", "yfinance", "USD")
EQUITY_VENUES = Venues(
    venues={_YFINANCE.name: _YFINANCE},
    assets={ticker: AssetVenue(_YFINANCE.name, symbol) for ticker, symbol in YAHOO_SYMBOLS.items()},
    default=_YFINANCE.name,
)

Record = tuple[str, float, Any]


@dataclass(frozen=True)
class ImportResult:
    source: str  # the source, or ``equities`` for the universe's points added to ``path``
    records: int
    series: int
    path: Path


def import_bundled(
    data_dir: str | Path = DEFAULT_DATA_DIR,
    out_dir: str | Path = DEFAULT_SNAPSHOT_DIR,
    *,
    sources: Iterable[str] | None = None,
    on_source: Callable[[str], None] | None = None,
) -> list[ImportResult]:
    """Write ``<out_dir>/<source>.jsonl`` for every source with bundled data; returns counts:
    one result per source, followed by an ``equities`` one when the equity universe added points
    to that source's file."""
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    _refuse_no_folder(data_dir)
    final = SnapshotStore(out_dir)
    results = []
    with staged(out_dir) as store:
        for source in sources or BUILTIN:
            target = BUILTIN.get(source)
            if target is None:
                raise InputError(f"unknown source '{source}' (one of: {', '.join(BUILTIN)})")
            module = importlib.import_module(target.partition(":")[0])
            reader = getattr(module, "import_bundled", None)
            equities = _EQUITY_READERS.get(source) if (data_dir / EQUITIES).is_dir() else None
            if reader is None and equities is None:
                continue
            if on_source is not None:
                on_source(source)
            own = _Tally(reader(data_dir) if reader is not None else ())
            added = _Tally(equities(data_dir / EQUITIES) if equities is not None else ())
            store.write(source, _chained(own, added))
            if reader is not None:
                results.append(ImportResult(source, own.count, len(own.keys), final.path(source)))
            if added.count:
                results.append(
                    ImportResult(EQUITIES, added.count, len(added.keys), final.path(source))
                )
    return results


# A name ending so is a file's: --from given one means a file, missing or not a folder.
_FILE_SUFFIXES = (".csv", ".tsv", ".txt", ".json", ".jsonl", ".parquet", ".pq", ".gz", ".xml")
_ONE_FILE = (
    "--from names a folder of bundled data; one file is imported as "
    "'signalops data import FILE --source SOURCE --asset ASSET'"
)


def _refuse_no_folder(data_dir: Path) -> None:
    """``DataNotFound`` unless ``data_dir`` is a folder, saying what is there instead: nothing
    (a file's name is called a missing file, not a missing folder), or a file."""
    if data_dir.is_dir():
        return
    if data_dir.exists():
        raise InputError(f"{data_dir}: a file, not a data folder ({_ONE_FILE})")
    if data_dir.name.lower().endswith(_FILE_SUFFIXES):
        raise DataNotFound(f"{data_dir}: no such file ({_ONE_FILE})")
    raise DataNotFound(f"{data_dir}: no such data folder")


def _present(path: Path, what: str) -> Path:
    """``path``, or ``DataNotFound`` saying plainly that it is missing and what it was for."""
    if not path.is_file():
        raise DataNotFound(f"{path}: no such file ({what})")
    return path


class _Tally:
    """Records passed through, counted, with the series they belong to."""

    def __init__(self, records: Iterable[Record]) -> None:
        self.records = records
        self.count = 0
        self.keys: set[str] = set()

    def __iter__(self) -> Iterator[Record]:
        for record in self.records:
            self.keys.add(record[0])
            self.count += 1
            yield record


def _chained(*parts: _Tally) -> Iterator[Record]:
    for part in parts:
        yield from part


# --- the equity universe -----------------------------------------------------------------------


def equity_candles(folder: Path) -> Iterator[Record]:
    """Every ``prices/daily/<TICKER>.csv`` as ``data import FILE --venue yfinance`` reads it."""
    from signalops.adapters.importing import file_records

    for path in sorted((folder / "prices" / "daily").glob("*.csv")):
        yield from file_records(path, "technical", path.stem.upper(), EQUITY_VENUES, "1d", None)


def equity_fundamentals(folder: Path) -> Iterator[Record]:
    """Company facts of every ticker ``universe.csv`` lists with them, then the splits."""
    # Imported here, as every source module is: the EDGAR adapter loads TA-Lib and pandas.
    from signalops.adapters.edgar import split_records, splits_from_csv_rows
    from signalops.adapters.importing import companyfacts_records

    for ticker, cik in _universe(folder / "universe.csv"):
        path = folder / "edgar" / "companyfacts" / f"CIK{cik}.json.gz"
        _present(path, f"{ticker}'s company facts, listed in universe.csv")
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            document = json.load(handle)
        yield from companyfacts_records(path, document, ticker)
    splits = _present(folder / "prices" / "splits.csv", "the splits of the equity universe")
    with splits.open(encoding="utf-8", newline="") as handle:
        yield from split_records(splits_from_csv_rows(csv.DictReader(handle)))


def stock_tickers(data_dir: Path) -> frozenset[str]:
    """The stocks (and indexes) the bundled data at ``data_dir`` has daily prices or Yahoo
    fundamentals of, by their files' names (nothing else is read):
    ``equities/prices/daily/<TICKER>.csv`` and ``fundamentals/yahoo_quoteSummary_<SYMBOL>.json``."""
    daily = (data_dir / EQUITIES / "prices" / "daily").glob("*.csv")
    yahoo = (data_dir / "fundamentals").glob(f"{_YAHOO_FILE}*.json")
    return frozenset(
        {path.stem.upper() for path in daily}
        | {path.stem.removeprefix(_YAHOO_FILE).upper() for path in yahoo}
    )


_YAHOO_FILE = "yahoo_quoteSummary_"


def _universe(path: Path) -> Iterator[tuple[str, str]]:
    _present(path, "the tickers of the equity universe")
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row.get("has_companyfacts") == "1":
                yield row["ticker"].upper(), f"{int(row['cik']):010d}"


_EQUITY_READERS: Mapping[str, Callable[[Path], Iterable[Record]]] = {
    "technical": equity_candles,
    "fundamental": equity_fundamentals,
}
