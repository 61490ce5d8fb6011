"""A universe backtest: which assets it runs over, and what each of them contributed.

    universe = read_universe("AAPL,MSFT,GOOGL")          # a comma list on the command line
    universe = read_universe("universes/megacaps.csv")  # a file: assets, optional sectors
    config = universe.configured(config)                # its sectors extend the config's
    parts = breakdown(result, config.sectors)           # per asset and per sector, after a run

The assets share one book (``run_backtest`` with several assets: one cash balance), so a universe
run is one backtest; this module only names its members and takes its result apart.

Files, chosen by their suffix (anything but ``.csv``, ``.yaml`` and ``.yml`` is a plain list):

- CSV: a header row naming an ``asset`` (or ``ticker``, or ``symbol``) column and optionally a
  ``sector`` column, in any case and order; other columns are ignored, so the bundled
  ``examples/data/equities/universe.csv`` reads as it is. Columns are separated by ``,``, ``;``
  or tabs, whichever the header holds most of (as ``data import`` reads a CSV);
- YAML: a list whose items are assets or ``{asset: AAPL, sector: tech}`` mappings, or a mapping
  of asset to sector (``null``: none), the shape of the config's ``sectors:``;
- plain text: one asset a line, optionally followed by its sector (the rest of the line);
  ``#`` starts a comment, blank lines are skipped.

An asset is a symbol as a strategy's ``assets:`` takes it; listing one twice is an error, as is a
universe without assets. Every problem in a file is a ``StrategyError`` at its line and column
(all of them at once, like a strategy's), so the CLI prints ``error: file:3:1: ...``; so is an
asset without recorded prices, or one that is an asset listed before as the data spell it
(``eth`` and ``ETH``), which ``Universe.on_record`` finds before a backtest runs.

The breakdown (``breakdown``) puts the portfolio's equity change on its assets, exactly: from
each asset's fills (what the audit log recorded: quantity, price with slippage, fee) and its mark
at the end (the last close the equity curve's last point used; the last fill price when there is
none, as the broker marks it),

    pnl   = sold - bought + held at the end x mark        (realised + unrealised, before fees)
    net   = pnl - fees

so that the sum of the assets' ``net`` is the portfolio's end equity minus its start: cash
changes by exactly the fills' notionals and fees, and the end equity is that cash plus each
holding at its mark. Decimal arithmetic here is exact (the sums are made with more digits than
any operand has). ``realised`` is the part of ``pnl`` from closed round trips (``round_trips``),
``unrealised`` the rest: the position still open at the end, marked.
"""

from __future__ import annotations

import csv
import io
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal, localcontext
from operator import attrgetter
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from signalops.adapters.snapshots import SnapshotStore
from signalops.backtest.bars import as_recorded, require_prices
from signalops.backtest.ledger import Decision, Leg, book_trips, round_trips
from signalops.backtest.runner import BacktestResult, buy_and_hold
from signalops.config import Config
from signalops.errors import DataNotFound, InputError, StrategyError, raise_collected
from signalops.orders import Side
from signalops.strategy._yaml import Document, load_yaml, read_source
from signalops.strategy.schema import did_you_mean
from signalops.venues import Venues

__all__ = [
    "AssetPart",
    "Breakdown",
    "Holdings",
    "PartTotals",
    "SectorPart",
    "Universe",
    "asset_parts",
    "breakdown",
    "decimal_text",
    "exact_sums",
    "parse_universe",
    "read_universe",
    "summed_parts",
]

# An asset symbol as the strategy schema takes one (``schemas/strategy.schema.json``).
ASSET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
COMMAND_LINE = "--universe"
ASSET_COLUMNS = ("asset", "ticker", "symbol")
SEPARATORS = (",", ";", "\t")  # of a CSV's columns, as ``data import`` reads them
SECTOR_COLUMN = "sector"
CSV_SUFFIXES = (".csv",)
YAML_SUFFIXES = (".yaml", ".yml")
# What a file argument looks like: named by a suffix, it is never read as a list of assets.
FILE_SUFFIXES = (*CSV_SUFFIXES, *YAML_SUFFIXES, ".txt", ".list")
_ITEM_KEYS = ("asset", "sector")
_DIGITS = 120
_ORDERS = ""  # in ``_denied``'s counts: the orders, beside each code's


@dataclass(frozen=True)
class Universe:
    """The assets of a universe backtest, in the order given, and the sectors of those that
    have one; ``source`` is the file they came from (or ``--universe`` for a list), and
    ``places`` where in it each asset is (none for a list), for errors found later."""

    assets: tuple[str, ...]
    sectors: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    source: str = COMMAND_LINE
    places: Mapping[str, _Entry] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, repr=False
    )

    def configured(self, config: Config) -> Config:
        """``config`` with this universe's sectors added to its ``sectors:`` (the universe's
        win for its own assets), so that the risk gate's MAX_SECTOR sees them."""
        if not self.sectors:
            return config
        merged = {**config.sectors, **self.sectors}
        return replace(config, sectors=MappingProxyType(merged))

    def on_record(self, store: SnapshotStore, timeframe: int, venues: Venues) -> Universe:
        """This universe with each asset as the config or the data spell it
        (``bars.as_recorded``: ``eth`` is the data's ``ETH``; its sector goes with it), checked
        before anything runs: an asset without prices of ``timeframe`` to replay
        (``bars.require_prices``), or one that names an asset listed before, is an error at its
        place in a file (``file:line:column``, every one at once); of a list, the first is.

        Raises ``StrategyError`` for a file, and ``DataNotFound`` or ``InputError`` for a list.
        """
        spelled = as_recorded(self.assets, store, venues)
        errors: list[StrategyError] = []
        assets: list[str] = []
        sectors: dict[str, str] = {}
        places: dict[str, _Entry] = {}
        seen: dict[str, str] = {}  # each asset kept, as given
        for given, asset in zip(self.assets, spelled, strict=True):
            place = self.places.get(given)
            try:
                if asset in seen:
                    raise InputError(_twice(given, asset, seen[asset], self.places))
                require_prices(store, asset, timeframe, venues)
            except (InputError, DataNotFound) as exc:
                if place is None:
                    if isinstance(exc, InputError):
                        raise InputError(f"{COMMAND_LINE}: {exc}") from None
                    raise
                errors.append(_error(str(exc), self.source, place))
                continue
            assets.append(asset)
            seen[asset] = given
            if given in self.sectors:
                sectors[asset] = self.sectors[given]
            if place is not None:
                places[asset] = place
        raise_collected(errors)
        return Universe(tuple(assets), MappingProxyType(sectors), self.source, places)


def _twice(given: str, asset: str, before: str, places: Mapping[str, _Entry]) -> str:
    """``eth`` after ``ETH``: both are the data's ETH."""
    first = places.get(before)
    on = f" (line {first.line})" if first is not None else ""
    return f"{before}{on} and {given} are both {asset}: listed twice"


# --- reading ------------------------------------------------------------------------------------


def read_universe(spec: str) -> Universe:
    """The universe ``--universe`` names: a file if one is there (or the argument ends like a
    file name: then a missing file is an error), else a comma list of assets.

    Raises ``StrategyError`` (with file, line and column) for a file's problems and
    ``InputError`` for a bad list."""
    path = Path(spec)
    if path.is_file() or spec.lower().endswith(FILE_SUFFIXES):
        return parse_universe(read_source(path, "universe"), spec)
    return _comma_list(spec)


def parse_universe(text: str, file: str) -> Universe:
    """The universe in ``text``, read as its file name's suffix says (see the module)."""
    suffix = Path(file).suffix.lower()
    text = text.removeprefix("\ufeff")  # a byte-order mark, as spreadsheets save CSV
    if suffix in YAML_SUFFIXES:
        entries = _yaml_entries(load_yaml(text, file))
    elif suffix in CSV_SUFFIXES:
        entries = _csv_entries(text, file)
    else:
        entries = _text_entries(text)
    return _universe(entries, file)


@dataclass(frozen=True)
class _Entry:
    """One asset as a file lists it, with where it is (for errors) and its sector."""

    asset: str
    sector: str | None
    line: int
    column: int
    source_line: str | None


def _comma_list(spec: str) -> Universe:
    assets = [part.strip() for part in spec.split(",")]
    if not any(assets):
        raise InputError(f"{COMMAND_LINE}: no assets (give a file or a list such as BTC,ETH)")
    seen: set[str] = set()
    for asset in assets:
        if not ASSET.match(asset):
            shown = f"'{asset}'" if asset else "an empty name"
            raise InputError(
                f"{COMMAND_LINE}: {shown} is not an asset symbol such as BTC or AAPL, nor a "
                f"file (a list is comma-separated: AAPL,MSFT)"
            )
        if asset in seen:
            raise InputError(f"{COMMAND_LINE}: {asset} is listed twice")
        seen.add(asset)
    return Universe(tuple(assets))


def _universe(entries: Iterable[_Entry | StrategyError], file: str) -> Universe:
    """The universe of a file's entries; every problem found at once (in file order)."""
    errors: list[StrategyError] = []
    first: dict[str, int] = {}
    assets: list[str] = []
    sectors: dict[str, str] = {}
    places: dict[str, _Entry] = {}
    for entry in entries:
        if isinstance(entry, StrategyError):
            errors.append(entry)
            continue
        problem = _problem(entry, first)
        if problem is not None:
            errors.append(_error(problem, file, entry))
            continue
        first[entry.asset] = entry.line
        assets.append(entry.asset)
        places[entry.asset] = entry
        if entry.sector:
            sectors[entry.asset] = entry.sector
    if not assets and not errors:
        errors.append(StrategyError("the universe lists no assets", file=file))
    raise_collected(errors)
    return Universe(tuple(assets), MappingProxyType(sectors), file, MappingProxyType(places))


def _problem(entry: _Entry, first: Mapping[str, int]) -> str | None:
    if not ASSET.match(entry.asset):
        shown = f"'{entry.asset}'" if entry.asset else "an empty name"
        return f"{shown} is not an asset symbol such as BTC or AAPL"
    if entry.asset in first:
        return f"{entry.asset} is listed twice (first on line {first[entry.asset]})"
    return None


def _error(message: str, file: str, entry: _Entry) -> StrategyError:
    return StrategyError(
        message, file=file, line=entry.line, column=entry.column, source_line=entry.source_line
    )


def _text_entries(text: str) -> Iterable[_Entry]:
    for number, raw in enumerate(text.splitlines(), start=1):
        content = raw.split("#", 1)[0]
        parts = content.split(maxsplit=1)
        if not parts:
            continue
        sector = parts[1].strip() if len(parts) > 1 else None
        yield _Entry(parts[0], sector, number, content.index(parts[0]) + 1, raw)


def _csv_entries(text: str, file: str) -> Iterable[_Entry | StrategyError]:
    lines = text.splitlines()
    rows = csv.reader(io.StringIO(text), delimiter=_separator(lines))
    header: list[str] | None = None
    at, sector_at = 0, None  # the asset's and the sector's columns, once the header is read
    for row in rows:
        number = rows.line_num
        if not any(cell.strip() for cell in row):
            continue
        if header is None:
            header = [cell.strip().lower() for cell in row]
            found = next((c for c in ASSET_COLUMNS if c in header), None)
            if found is None:
                yield StrategyError(
                    f"the header names no asset column (one of: {', '.join(ASSET_COLUMNS)})",
                    file=file,
                    line=number,
                    column=1,
                    hint=_column_hint(header),
                    source_line=_line(lines, number),
                )
                return
            at = header.index(found)
            sector_at = header.index(SECTOR_COLUMN) if SECTOR_COLUMN in header else None
            continue
        source_line = _line(lines, number)
        asset = row[at].strip() if at < len(row) else ""
        sector = None
        if sector_at is not None and sector_at < len(row):
            sector = row[sector_at].strip() or None
        column = _column_of(source_line, asset)
        yield _Entry(asset, sector, number, column, source_line)
    if header is None:
        yield StrategyError("the file is empty: no header and no assets", file=file)


def _separator(lines: Sequence[str]) -> str:
    """The separator the header (the first line that is not blank) holds most of, as ``data
    import`` reads a CSV: ``,``, ``;`` or a tab (the first of a tie); ``,`` when it has none."""
    header = next((line for line in lines if line.strip()), "")
    counts = {sep: header.count(sep) for sep in SEPARATORS}
    return max(SEPARATORS, key=counts.__getitem__) if any(counts.values()) else ","


def _column_hint(header: Sequence[str]) -> str | None:
    for name in header:
        hint = did_you_mean(name, ASSET_COLUMNS)
        if hint is not None:
            return hint
    if len(header) == 1 and any(name in header[0] for name in ASSET_COLUMNS):
        return "separate the columns with ',', ';' or a tab, e.g. asset,sector"
    return "the first row names the columns, e.g. asset,sector"


def _line(lines: Sequence[str], number: int) -> str | None:
    return lines[number - 1] if 1 <= number <= len(lines) else None


def _column_of(line: str | None, cell: str) -> int:
    if line is None or not cell:
        return 1
    found = line.find(cell)
    return found + 1 if found >= 0 else 1


_FORMS = "a universe is a list of assets or a mapping of asset to sector"
_FORMS_EXAMPLE = "e.g. [AAPL, MSFT] or {AAPL: tech, JPM: financials}"


def _yaml_entries(doc: Document) -> Iterable[_Entry | StrategyError]:
    data = doc.data
    if isinstance(data, list):
        for i, item in enumerate(data):
            yield _yaml_item(doc, i, item)
    elif isinstance(data, dict):
        for asset, sector in data.items():
            yield _yaml_pair(doc, asset, sector)
    else:
        yield doc.error(_FORMS, (), hint=_FORMS_EXAMPLE, strategy_relative=False)


def _what(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return str(value)


def _forms_hint(key: Any, value: Any) -> str:
    # ``assets: [BTC, ETH]``, as a strategy file writes its assets: the list alone is a universe.
    if key == "assets" and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return f"write the list without 'assets:': [{', '.join(value)}]"
    return _FORMS_EXAMPLE


def _yaml_item(doc: Document, i: int, item: Any) -> _Entry | StrategyError:
    if isinstance(item, str):
        return _yaml_entry(doc, (i,), item, None)
    if not isinstance(item, dict):
        return doc.error(
            "an item is an asset or a mapping {asset: ..., sector: ...}",
            (i,),
            strategy_relative=False,
        )
    for key in item:
        if key not in _ITEM_KEYS:
            return doc.error(
                f"unknown key '{key}'",
                (i, key),
                at=doc.key_mark((i, key)),
                hint=did_you_mean(str(key), _ITEM_KEYS) or "an item has asset and sector",
                strategy_relative=False,
            )
    asset, sector = item.get("asset"), item.get("sector")
    if not isinstance(asset, str):
        return doc.error("an item needs an asset", (i,), strategy_relative=False)
    if sector is not None and not isinstance(sector, str):
        return doc.error("a sector is a name", (i, "sector"), strategy_relative=False)
    return _yaml_entry(doc, (i, "asset"), asset, sector)


def _yaml_pair(doc: Document, asset: Any, sector: Any) -> _Entry | StrategyError:
    if sector is not None and not isinstance(sector, str):
        return doc.error(
            f"a sector is a name (or null), not {_what(sector)}: {_FORMS}",
            (asset,),
            hint=_forms_hint(asset, sector),
            strategy_relative=False,
        )
    mark = doc.key_mark((asset,))
    return _Entry(str(asset), _sector(sector), mark.line, mark.column, doc.line_text(mark.line))


def _yaml_entry(
    doc: Document, path: tuple[str | int, ...], asset: str, sector: str | None
) -> _Entry:
    mark = doc.mark(path)
    return _Entry(asset.strip(), _sector(sector), mark.line, mark.column, doc.line_text(mark.line))


def _sector(sector: str | None) -> str | None:
    return (sector.strip() or None) if sector else None


# --- what each asset contributed ----------------------------------------------------------------


@dataclass(frozen=True)
class AssetPart:
    """One asset's share of a portfolio backtest (money in the quote currency)."""

    asset: str
    sector: str | None
    bought: Decimal  # every BUY fill's notional (slippage included, fees not)
    sold: Decimal  # every SELL fill's notional
    quantity: Decimal  # held at the end
    mark: Decimal | None  # the end's price of what is held (None: nothing held)
    realised: Decimal  # closed round trips, before fees
    unrealised: Decimal  # the open position at the mark, before fees
    fees: Decimal
    trades: int  # closed round trips
    open_trades: int
    wins: int  # closed round trips with a positive PnL (after fees)
    exposure: float  # the fraction of periods it was held
    max_weight: float  # its largest value at a mark, as a fraction of the equity then
    buy_and_hold: float | None  # the asset bought alone with all the cash (None: no price)
    denied: int  # BUY orders the risk gate denied
    denials: Mapping[str, int]  # the codes of those denials (an order may have several)

    @property
    def pnl(self) -> Decimal:
        with exact_sums():
            return self.realised + self.unrealised

    @property
    def net(self) -> Decimal:
        with exact_sums():
            return self.pnl - self.fees

    def to_dict(self) -> dict[str, Any]:
        return {
            "sector": self.sector,
            "bought": decimal_text(self.bought),
            "sold": decimal_text(self.sold),
            "quantity": decimal_text(self.quantity),
            "mark": None if self.mark is None else decimal_text(self.mark),
            "realised": decimal_text(self.realised),
            "unrealised": decimal_text(self.unrealised),
            "pnl": decimal_text(self.pnl),
            "fees": decimal_text(self.fees),
            "net": decimal_text(self.net),
            "trades": self.trades,
            "open_trades": self.open_trades,
            "wins": self.wins,
            "exposure": self.exposure,
            "max_weight": self.max_weight,
            "buy_and_hold": self.buy_and_hold,
            "denied_buys": self.denied,
            "denials": dict(sorted(self.denials.items())),
        }


@dataclass(frozen=True)
class SectorPart:
    """The assets of one named sector, together."""

    sector: str
    assets: tuple[str, ...]
    pnl: Decimal
    fees: Decimal
    trades: int
    max_weight: float  # the sector's largest value at a mark, as a fraction of equity

    @property
    def net(self) -> Decimal:
        with exact_sums():
            return self.pnl - self.fees

    def to_dict(self) -> dict[str, Any]:
        return {
            "assets": list(self.assets),
            "pnl": decimal_text(self.pnl),
            "fees": decimal_text(self.fees),
            "net": decimal_text(self.net),
            "trades": self.trades,
            "max_weight": self.max_weight,
        }


class PartTotals(ABC):
    """The exact totals of the ``AssetPart``s a group holds (``totalled``): a portfolio's, a
    strategy's book's."""

    @property
    @abstractmethod
    def totalled(self) -> Iterable[AssetPart]: ...

    @property
    def realised(self) -> Decimal:
        return summed_parts(self.totalled, "realised")

    @property
    def unrealised(self) -> Decimal:
        return summed_parts(self.totalled, "unrealised")

    @property
    def fees(self) -> Decimal:
        return summed_parts(self.totalled, "fees")

    @property
    def pnl(self) -> Decimal:
        return summed_parts(self.totalled, "pnl")

    @property
    def net(self) -> Decimal:
        """The parts' net PnL summed."""
        return summed_parts(self.totalled, "net")


@dataclass(frozen=True)
class Breakdown(PartTotals):
    """A backtest's portfolio taken apart by asset and by sector (its ``net``, the assets'
    summed, equals ``equity_change``: see the module)."""

    assets: tuple[AssetPart, ...]
    sectors: tuple[SectorPart, ...]  # the named ones; an asset without a sector is its own
    start_equity: Decimal
    end_equity: Decimal
    max_weight: float  # all positions together, largest fraction of equity at a mark

    @property
    def totalled(self) -> Iterable[AssetPart]:
        return self.assets

    @property
    def equity_change(self) -> Decimal:
        with exact_sums():
            return self.end_equity - self.start_equity

    def to_dict(self) -> dict[str, Any]:
        return {
            "assets": {part.asset: part.to_dict() for part in self.assets},
            "sectors": {part.sector: part.to_dict() for part in self.sectors},
            "portfolio": {
                "start_equity": decimal_text(self.start_equity),
                "end_equity": decimal_text(self.end_equity),
                "equity_change": decimal_text(self.equity_change),
                "pnl": decimal_text(self.pnl),
                "fees": decimal_text(self.fees),
                "net": decimal_text(self.net),
                "max_weight": self.max_weight,
            },
        }


def summed_parts(parts: Iterable[AssetPart], figure: str) -> Decimal:
    """``figure`` (``net``, ``fees``...) of each of ``parts`` added up exactly (``exact_sums``):
    a portfolio's or a strategy's book's."""
    read = attrgetter(figure)
    with exact_sums():
        return sum((read(part) for part in parts), Decimal(0))


def decimal_text(value: Decimal) -> str:
    """A decimal as ``str`` gives it, but zero as ``0`` (not ``0E-8``, a sum of nothing but
    8-decimal quantities)."""
    return "0" if value == 0 else str(value)


def exact_sums() -> Any:
    """A context with digits to spare: sums and products of the ledger's decimals (28 digits
    at most each) are exact in it, whatever order they are added in."""
    return localcontext(prec=_DIGITS)


def breakdown(result: BacktestResult, sectors: Mapping[str, str]) -> Breakdown:
    """``result``'s portfolio by asset (in the result's order) and by named sector."""
    curve = result.equity
    held = asset_parts(result, result.assets, result.legs, result.decisions, sectors)
    parts, values = held.parts, held.values
    equity = _equity(result)
    total = sum(values.values(), np.zeros(len(equity)))
    return Breakdown(
        assets=parts,
        sectors=_sectors(parts, values, equity),
        start_equity=curve[0].equity,
        end_equity=curve[-1].equity,
        max_weight=_max_fraction(total, equity),
    )


@dataclass(frozen=True)
class Holdings:
    """What some fills of a backtest came to, asset by asset (``asset_parts``)."""

    parts: tuple[AssetPart, ...]
    values: Mapping[str, np.ndarray]  # each asset's value at each mark after the first
    held: Mapping[str, np.ndarray]  # whether it was held then


def asset_parts(
    result: BacktestResult,
    assets: Sequence[str],
    legs: Iterable[Leg],
    decisions: Iterable[Decision],
    sectors: Mapping[str, str],
) -> Holdings:
    """The part of each of ``assets`` (then of any other asset ``legs`` traded) that ``legs``
    made, marked on ``result``'s curve, with the BUYs of ``decisions`` the risk gate denied:
    all of ``result``'s for its portfolio, one strategy's for its book."""
    curve = result.equity
    marked_at = [point.time for point in curve[1:]]
    decided = np.array([t.timestamp() for t in result.times], dtype=np.float64)
    equity = _equity(result)
    by_asset: dict[str, list[Leg]] = {asset: [] for asset in assets}
    for leg in legs:
        by_asset.setdefault(leg.asset, []).append(leg)
    denied = _denied(decisions)
    nothing: Mapping[str, int] = MappingProxyType({})
    parts, values, flags = [], {}, {}
    for asset, bought in by_asset.items():
        held, value, mark = _held(result, asset, bought, decided, marked_at)
        values[asset], flags[asset] = value, held
        parts.append(
            _part(
                asset,
                sectors.get(asset),
                bought,
                mark,
                exposure=float(np.count_nonzero(held)) / len(held) if len(held) else 0.0,
                max_weight=_max_fraction(value, equity),
                buy_and_hold=_alone(result, asset),
                denials=denied.get(asset, nothing),
                owners=result.owners,
            )
        )
    return Holdings(tuple(parts), values, flags)


def _equity(result: BacktestResult) -> np.ndarray:
    """The equity at each mark after the first, as floats (for weights)."""
    return np.array([float(point.equity) for point in result.equity[1:]], dtype=np.float64)


def _part(
    asset: str,
    sector: str | None,
    legs: Sequence[Leg],
    mark: Decimal | None,
    *,
    exposure: float,
    max_weight: float,
    buy_and_hold: float | None,
    denials: Mapping[str, int],
    owners: Mapping[str, str],
) -> AssetPart:
    # Of several strategies in one account: each book's round trips, as the account counts them.
    trades = book_trips(legs, owners) if owners else round_trips(legs)
    closed = [t for t in trades if t.closed]
    with exact_sums():
        bought = sum((leg.notional for leg in legs if leg.side is Side.BUY), Decimal(0))
        sold = sum((leg.notional for leg in legs if leg.side is Side.SELL), Decimal(0))
        quantity = sum(
            (leg.quantity if leg.side is Side.BUY else -leg.quantity for leg in legs),
            Decimal(0),
        )
        fees = sum((leg.fee for leg in legs), Decimal(0))
        value = quantity * mark if mark is not None and quantity else Decimal(0)
        realised = sum(
            (
                sum((leg.notional for leg in t.exits), Decimal(0))
                - sum((leg.notional for leg in t.entries), Decimal(0))
                for t in closed
            ),
            Decimal(0),
        )
        unrealised = sold - bought + value - realised
    return AssetPart(
        asset=asset,
        sector=sector,
        bought=bought,
        sold=sold,
        quantity=quantity,
        mark=mark if quantity else None,
        realised=realised,
        unrealised=unrealised,
        fees=fees,
        trades=len(closed),
        open_trades=len(trades) - len(closed),
        wins=sum(1 for t in closed if (t.pnl or 0) > 0),
        exposure=exposure,
        max_weight=max_weight,
        buy_and_hold=buy_and_hold,
        denied=denials.get(_ORDERS, 0),
        denials=MappingProxyType({k: n for k, n in denials.items() if k != _ORDERS}),
    )


def _held(
    result: BacktestResult,
    asset: str,
    legs: Sequence[Leg],
    decided: np.ndarray,
    marked_at: Sequence[datetime],
) -> tuple[np.ndarray, np.ndarray, Decimal | None]:
    """At each mark of the curve after its first: whether ``asset`` was held (after the fills
    placed at or before that period's decision time, as the broker's view counts them), its
    value then (float, for weights), and its mark at the end (Decimal, exact)."""
    periods = len(decided)
    if not legs or not periods:
        return np.zeros(periods, dtype=bool), np.zeros(periods), None
    placed = np.array([leg.decided_at.timestamp() for leg in legs], dtype=np.float64)
    after, fill_price, running = [], [], Decimal(0)
    with exact_sums():
        for leg in legs:
            running += leg.quantity if leg.side is Side.BUY else -leg.quantity
            after.append(running)
            fill_price.append(leg.price)
    index = np.searchsorted(placed, decided, side="right") - 1
    quantity = np.array([float(after[i]) if i >= 0 else 0.0 for i in index.tolist()])
    held = np.array([i >= 0 and after[i] > 0 for i in index.tolist()], dtype=bool)
    bars = result.prices.get(asset)
    closes = bars.closes_at(marked_at) if bars is not None else [None] * periods
    # The broker marks a holding without a close by then at its last fill price.
    marks = [
        close if close is not None else (fill_price[i] if i >= 0 else None)
        for close, i in zip(closes, index.tolist(), strict=True)
    ]
    prices = np.array([float(m) if m is not None else 0.0 for m in marks])
    return held, quantity * prices, marks[-1]


def _max_fraction(values: np.ndarray, equity: np.ndarray) -> float:
    with np.errstate(all="ignore"):
        fractions = np.where(equity > 0, values / equity, 0.0)
    return float(fractions.max()) if len(fractions) else 0.0


def _sectors(
    parts: Sequence[AssetPart], values: Mapping[str, np.ndarray], equity: np.ndarray
) -> tuple[SectorPart, ...]:
    named: dict[str, list[AssetPart]] = {}
    for part in parts:
        if part.sector is not None:
            named.setdefault(part.sector, []).append(part)
    out = []
    for sector, members in named.items():
        total = sum((values[p.asset] for p in members), np.zeros(len(equity)))
        with exact_sums():
            pnl = sum((p.pnl for p in members), Decimal(0))
            fees = sum((p.fees for p in members), Decimal(0))
        out.append(
            SectorPart(
                sector=sector,
                assets=tuple(p.asset for p in members),
                pnl=pnl,
                fees=fees,
                trades=sum(p.trades for p in members),
                max_weight=_max_fraction(total, equity),
            )
        )
    return tuple(out)


def _denied(decisions: Iterable[Decision]) -> dict[str, dict[str, int]]:
    """asset -> code -> BUY orders denied with it, and under ``_ORDERS`` the orders (a SELL
    denied NO_POSITION is an exit rule passing while nothing is held: not a limit at work)."""
    counts: dict[str, dict[str, int]] = {}
    for decision in decisions:
        if decision.denials and decision.verdict == "BUY":
            codes = counts.setdefault(decision.asset, {})
            codes[_ORDERS] = codes.get(_ORDERS, 0) + 1
            for code in decision.denials:
                codes[code] = codes.get(code, 0) + 1
    return counts


def _alone(result: BacktestResult, asset: str) -> float | None:
    """Buy-and-hold of ``asset`` alone to the end, as the backtest's own buy-and-hold buys and
    marks (``runner.buy_and_hold`` of one period: from the first decision to the last mark)."""
    bars = result.prices.get(asset)
    if bars is None or len(result.equity) < 2:
        return None
    first, last = result.start, result.equity[-1].time
    curve = buy_and_hold({asset: bars}, [first], last - first, result.paper, result.fill)
    if not curve:
        return None
    return float(curve[-1].equity) / float(curve[0].equity) - 1
