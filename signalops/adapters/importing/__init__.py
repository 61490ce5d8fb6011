"""``signalops data import FILE``: a trader's own file, into the series the replay adapters read.

One file, one source, one asset. The layout is recognised from the file itself, and the points
land in exactly the series a live run would have recorded, so a replay cannot tell them apart:

technical (CSV, Parquet, or JSON arrays ``[[ms, o, h, l, c, v], ...]`` as ccxt and Freqtrade
    save them; Freqtrade/Yahoo/CryptoDataDownload/exchange exports with columns in any order;
    Binance Vision's kline files, which have no header row, ``_binance_klines``)
    -> ``candles/<venue>/<BASE>/<QUOTE>/<timeframe>``, ``t`` = the candle's *close* (its time
    column is the open, as in every one of these layouts, plus the timeframe), ``v`` =
    ``[open, high, low, close, volume]`` (volume 0 from a file with no column that speaks
    of volume, an index's or an exchange rate's, or with ``--columns volume=none``: the volume
    metrics read such candles as NOT_APPLICABLE; such a file into a series stored with
    volume, or a file with volume into one stored without, is refused:
    ``checks.refuse_mixed_volume``). Venue and symbol are the ones the configuration
    routes the asset to (``signalops.venues``; without one, binance and ``BASE/USDT``), as the
    replay feed reads them; a file naming another market is refused (``importing.market``).
    On a yfinance venue (equities, ETFs) the symbol is the Yahoo one
    (``candles/yfinance/AAPL/1d``), the candles are daily (the equity feeds read no other
    timeframe: a weekly or intraday file is refused), and a daily bar is known at 16:00 New
    York on its date, the exchange's close: the date as written, in the row's own offset
    (``2023-03-09T00:00+09:00``, Tokyo's midnight, is March 9's bar, though March 8 in UTC),
    UTC for Unix times; a stock's prices yfinance adjusted for dividends (``auto_adjust=True``,
    its default) are refused (not a coin's, an index's, a rate's: they pay none).
    Yahoo's crypto (``BTC-USD``, ``venues.yahoo_crypto``) has a bar every day, covering the
    UTC day, known at the next 00:00 UTC, as any other 24-hour candle: any other candle opens
    at the moment written, converted to UTC: a daily crypto candle written at ``00:00+02:00``
    opens 22:00 UTC the day before and closes when its written day ends. Longer steps between
    rows are candles left out (exchanges omit empty ones); rows closer than the timeframe are
    refused, and so is a timeframe no step is as long as (each candle would be known before its
    close). When not given, the timeframe is the shortest step if the rows read as such
    candles with some left out, else the most common step (``checks.default_timeframe``): a
    stray row does not make a daily file hourly. A stock's daily rows are stepped in NYSE
    sessions (``_daily_sessions``): Friday's bar and Monday's are consecutive.
polymarket (a CLOB ``/prices-history`` response ``{"history": [{"t", "p"}]}``, a Gamma
    ``/markets`` response, or a table with time and price columns) -> ``prices/<market>/<outcome>``
    (``t`` as recorded, ``v`` = price) and ``markets/<market>`` (``t`` = Gamma's ``updatedAt``,
    ``v`` = the metadata the replay reads). ``--asset MARKET/OUTCOME``; the outcome defaults to yes.
fundamental (an SEC ``companyfacts`` JSON as the API serves it) -> ``edgar/CIK##########``:
    one point per filing day, ``t`` = the end of the ``filed`` day in New York (a fact is known
    from its filing, never its period end), ``v`` = the facts filed that day. These are exactly
    the points ``signalops.adapters.edgar.recording`` writes for a live fetch (with
    ``edgar/CIK##########/fetched`` and ``edgar/ticker/<ASSET>``), as if the file had been
    fetched when its last filing became known. A table (CSV, Parquet, JSON objects) is the
    company's split history instead (``ticker,ex_date,ratio_new_per_old`` as the bundled
    ``splits.csv``; see ``importing.splits``) -> ``splits/<ASSET>``, ``t`` = the ex-date at 00:00
    New York, ``v`` = new shares per old share: the EDGAR metrics need it to put filed share
    counts in the units of the split-adjusted close.

Rows are checked before anything is written (``importing.checks``): a candle must be plausible
by the live adapters' rules, two rows at one time must agree (a repeat is left out), and a point
that would change one stored at the same series and time is refused unless ``replace`` is given.
Points are merged into the source's snapshot file (every other series is kept), written aside
and renamed into place only when the whole file was read: a bad row leaves the folder as it was,
and importing a file twice gives the same store byte for byte. What the stored candles then lack
over the file's span (a stock's sessions, other candles one by one) is returned with each
series for the CLI to warn of (``importing.missing``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

from signalops.adapters.calendar import is_session, session_close, sessions_between
from signalops.adapters.importing.checks import (
    Located,
    Points,
    Repeat,
    aligned,
    changes,
    default_timeframe,
    plausible,
    refuse_changes,
    refuse_mixed_volume,
    short,
    slack,
    unique,
)
from signalops.adapters.importing.market import refuse_other_market
from signalops.adapters.importing.missing import Missing, missing_bars
from signalops.adapters.importing.rows import (
    Row,
    Table,
    check_date_format,
    csv_table,
    dated,
    dividend_adjusted,
    epoch,
    json_table,
    load_json,
    match_columns,
    normalized,
    number,
    parquet_table,
    parse_mapping,
    refuse_numeric_header,
    written_date,
)
from signalops.adapters.importing.splits import FIELDS as SPLIT_FIELDS
from signalops.adapters.importing.splits import split_rows
from signalops.adapters.importing.staged import staged
from signalops.adapters.snapshots import SnapshotStore
from signalops.catalogue.spec import format_duration, parse_duration
from signalops.errors import AdapterError, DataNotFound, InputError
from signalops.venues import DEFAULT_VENUES, VenueKind, Venues

__all__ = ["SOURCES", "SeriesImported", "import_file"]

SOURCES = ("technical", "polymarket", "fundamental")
DAY = 86400
CANDLE_FIELDS = ("time", "open", "high", "low", "close", "volume")
PRICE_FIELDS = ("time", "price")
_TIME_ALIASES = ("unix", "unix(ms)", "unix_ms", "timestamp", "open_time", "open time", "opentime",
                 "time", "date", "datetime", "t")  # fmt: skip

Record = tuple[str, float, Any]


@dataclass(frozen=True)
class SeriesImported:
    """How many points of one series a file gave, and the snapshot file that now holds them:
    ``replaced`` stored points had other values, ``repeats`` rows were left out as repeats;
    ``missing``: the candles (or a stock's sessions) the stored series lacks between the file's
    first and last rows; ``without_volume``: every candle the file gave has volume 0 (it has
    no volume column, ``--columns volume=none``, or writes 0s), which the volume metrics read
    as NOT_APPLICABLE (``technical.VOLUME_METRICS``)."""

    source: str
    series: str
    points: int
    path: Path
    replaced: int = 0
    repeats: tuple[Repeat, ...] = ()
    missing: Missing | None = None
    without_volume: bool = False


def import_file(
    path: str | Path,
    *,
    source: str,
    asset: str,
    out_dir: str | Path,
    venues: Venues = DEFAULT_VENUES,
    timeframe: str | None = None,
    columns: str | None = None,
    replace: bool = False,
    date_format: str | None = None,
) -> list[SeriesImported]:
    """Read ``path`` as ``source`` data about ``asset`` and merge it into ``out_dir``.

    Candles go to the series of the venue ``venues`` routes ``asset`` to (the configuration
    with the CLI's ``--venue`` applied: ``signalops.workspace.with_venue``), under the symbol it
    names there, so that the same configuration replays them. A stored point the file gives
    other values for is refused unless ``replace``. ``date_format`` (strptime's codes) reads
    the time column of a table (candles, prices) as written in it (``%m/%d/%Y``).
    """
    path, out_dir = Path(path), Path(out_dir)
    if source not in SOURCES:
        raise InputError(
            f"--source: cannot import a file for '{source}' (one of: {', '.join(SOURCES)})"
        )
    if path.is_dir():
        raise InputError(f"{path}: a folder, not a file (--from imports a folder of bundled data)")
    if not path.is_file():
        raise DataNotFound(f"{path}: no such file")
    if not asset.strip():
        raise InputError("--asset: empty name")
    if source != "technical" and timeframe:
        raise InputError("--timeframe is for candles (--source technical)")
    if date_format is not None:
        if source == "fundamental":
            raise InputError(
                "--date-format is for a time column (--source technical or polymarket)"
            )
        check_date_format(date_format)
    located = located_records(
        path, source, asset.strip(), venues, timeframe, columns, date_format=date_format
    )
    points = unique(located, path)
    if not points.by_series:
        raise InputError(f"{path}: 0 points read")
    final = SnapshotStore(out_dir)
    if source == "technical":
        refuse_mixed_volume(final, points, path)
    changed = changes(final, source, points)
    if not replace:
        refuse_changes(changed, final, source)
    with staged(out_dir) as store:
        store.write(source, _merged(final, source, points))
    in_sessions = source == "technical" and _in_sessions(venues, asset.strip())
    return [
        SeriesImported(
            source,
            key,
            len(series),
            final.path(source),
            replaced=sum(change.series == key for change in changed),
            repeats=tuple(r for r in points.repeats if r.series == key),
            missing=_missing(final, key, series, in_sessions) if source == "technical" else None,
            without_volume=source == "technical" and not any(v[4] for v, _ in series.values()),
        )
        for key, series in sorted(points.by_series.items())
    ]


def _in_sessions(venues: Venues, asset: str) -> bool:
    """Whether ``asset``'s candles are a stock's, in sessions (on a yfinance venue, not Yahoo's
    crypto: BTC-USD has a bar every day)."""
    return venues.trades_stock(asset)


def _missing(
    store: SnapshotStore, key: str, new: Mapping[float, Any], sessions: bool
) -> Missing | None:
    """The bars the candle series ``key`` now stored in ``store`` lacks over the file's span
    (``new``: the file's points by close time)."""
    step = parse_duration(key.rsplit("/", 1)[1])  # the key ends in the timeframe (series_key)
    if step is None or len(new) < 2:
        return None
    series = store.series("technical", key)
    closes = [*new, *(series.times if series is not None else ())]
    return missing_bars(closes, min(new), max(new), int(step), sessions=sessions)


def _merged(existing: SnapshotStore, source: str, new: Points) -> Iterator[Record]:
    """Every series of the old file and the new points, sorted, so that a re-import is a no-op."""
    for key in sorted(set(existing.keys(source)) | set(new.by_series)):
        series = existing.series(source, key)
        points: dict[float, Any] = (
            {} if series is None else dict(zip(series.times, series.values, strict=True))
        )
        points.update((t, value) for t, (value, _) in new.by_series.get(key, {}).items())
        for t in sorted(points):
            yield key, t, points[t]


def file_records(
    path: Path,
    source: str,
    asset: str,
    venues: Venues,
    timeframe: str | None,
    columns: str | None,
) -> list[Record]:
    """The points of a file as ``import_file`` checks them (repeated rows left out), for the
    bundled import, which writes whole sources rather than merging."""
    points = unique(located_records(path, source, asset, venues, timeframe, columns), path)
    return [
        (key, t, value)
        for key, series in points.by_series.items()
        for t, (value, _) in sorted(series.items())
    ]


def located_records(
    path: Path,
    source: str,
    asset: str,
    venues: Venues,
    timeframe: str | None,
    columns: str | None,
    *,
    date_format: str | None = None,
) -> list[Located]:
    """Every point of the file, in file order per series, each with the place of its row."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        raw = load_json(path)
        kind = _json_kind(raw)
        if kind not in (None, source):
            raise InputError(f"{path}: this is {_KIND_NAMES[kind]}: import it with --source {kind}")
        if kind == "fundamental":
            return [(*record, str(path)) for record in companyfacts_records(path, raw, asset)]
        if kind == "polymarket":
            if date_format is not None:
                raise InputError(
                    f"{path}: a Polymarket response has Unix times: --date-format is for the "
                    "time column of a table"
                )
            return list(_polymarket_json(path, raw, asset))
        positional = {"technical": CANDLE_FIELDS, "fundamental": SPLIT_FIELDS}.get(
            source, PRICE_FIELDS
        )
        table = json_table(path, raw, positional)
        if table is None:
            raise InputError(
                f"{path}: 0 points read: not a layout SignalOps knows (a list of arrays, a list of "
                "objects, a CLOB prices-history, a Gamma markets response, SEC companyfacts)"
            )
    elif suffix in (".csv", ".tsv", ".txt"):
        table = csv_table(path, date_format)
    elif suffix in (".parquet", ".pq"):
        table = parquet_table(path)
    else:
        raise InputError(f"{path}: unknown format '{suffix}' (CSV, TSV, Parquet or JSON)")
    if source == "technical":
        return list(_candles(table, asset, venues, timeframe, columns, date_format))
    if source == "polymarket":
        return list(_price_rows(table, asset, columns, date_format))
    return list(split_rows(table, asset, columns))  # fundamental: a split history


_KIND_NAMES = {
    "fundamental": "an SEC companyfacts file",
    "polymarket": "a Polymarket response",
}


def _json_kind(raw: Any) -> str | None:
    if isinstance(raw, dict) and "facts" in raw and "cik" in raw:
        return "fundamental"
    if isinstance(raw, dict) and ("history" in raw or "clobTokenIds" in raw):
        return "polymarket"
    if (
        isinstance(raw, list)
        and raw
        and all(isinstance(m, dict) and "outcomes" in m and "id" in m for m in raw)
    ):
        return "polymarket"
    return None


# --- candles ---------------------------------------------------------------------------------


def _candles(
    table: Table,
    asset: str,
    venues: Venues,
    timeframe: str | None,
    columns: str | None,
    date_format: str | None,
) -> Iterator[Located]:
    from signalops.adapters.technical import series_key

    venue = venues.venue_of(asset)
    if venue is None or not venue.kind.serves_candles:
        raise InputError(f"--asset: no configured venue serves {asset}'s candles; give --venue")
    market = refuse_other_market(table, venues, asset, venue)
    adjusted_by = dividend_adjusted(table) if _pays_dividends(venues, asset) else None
    if adjusted_by is not None:
        _refuse_dividend_adjusted(table.path, adjusted_by)
    symbol, base = market.symbol, market.base.lower()
    aliases = {
        "time": _TIME_ALIASES,
        "open": ("open", "o"),
        "high": ("high", "h"),
        "low": ("low", "l"),
        "close": ("close", "c"),
        "volume": (f"volume {base}", f"volume_{base}", "volume", "vol", "v"),
    }
    mapping = parse_mapping(columns, CANDLE_FIELDS)
    if not mapping and _binance_klines(table):
        mapping = dict(zip(CANDLE_FIELDS, "123456", strict=True))
    fields: tuple[str, ...] = CANDLE_FIELDS
    if mapping.get("volume", "").lower() == "none":
        fields = tuple(f for f in fields if f != "volume")
        del mapping["volume"]
    optional = () if _volume_like(table) else ("volume",)
    found = match_columns(table, fields, aliases, mapping, optional=optional)
    refuse_numeric_header(table, found, mapping, CANDLE_FIELDS[1:5])
    if date_format is not None:
        table = dated(table, found["time"], "time", date_format)
    rows: list[tuple[float, list[float], Row]] = []
    first: dict[float, tuple[list[float], Row]] = {}  # the first row opening at each time
    for row in table.rows:
        t = epoch(row, found["time"], "time")
        candle = [number(row, found[f], f) for f in CANDLE_FIELDS[1:5]]
        candle.append(number(row, found["volume"], "volume") if "volume" in found else 0.0)
        plausible(_cells_of(row, found), candle)
        rows.append((t, candle, row))
        earlier, earlier_row = first.setdefault(t, (candle, row))
        if earlier != candle:  # a repeat of the same values is left out (checks.unique)
            _refuse_other_values(table.path, earlier_row, row, found, earlier, candle)
    where = {t: row.where for t, (_, row) in first.items()}
    step = None
    if venues.trades_stock(asset):
        days = [written_date(row, found["time"], "time") for _, (_, row) in sorted(first.items())]
        step = _daily_sessions(days, timeframe)
    if step is None:
        step = _timeframe(table, sorted(where), where, timeframe)
    if venue.kind is VenueKind.YFINANCE and step != DAY:
        _refuse_not_daily(table.path, asset, step, stock=venues.trades_stock(asset))
    key = series_key(venue.exchange, symbol, step)
    # Yahoo's crypto bar covers the UTC day: it closes a day after it opens, as any other.
    at_exchange_close = venues.trades_stock(asset) and step == DAY
    for t, candle, row in sorted(rows, key=lambda row: row[0]):
        # A daily bar is its written date's session (a Berlin or Tokyo midnight is the day
        # before in UTC: that date's close would be known a session early); any other candle
        # opens at the moment written, converted to UTC, and closes a timeframe later.
        close = (
            session_close(written_date(row, found["time"], "time"))
            if at_exchange_close
            else t + step
        )
        yield key, close, candle, row.where


def _pays_dividends(venues: Venues, asset: str) -> bool:
    """Whether ``asset``'s prices can be adjusted for dividends: a stock or ETF (``trades_stock``),
    not one of Yahoo's indexes (``^GSPC``), exchange rates (``EURUSD=X``) or futures (``CL=F``),
    whose adjusted prices are their raw ones, nor a coin."""
    symbol = venues.symbol_of(asset).strip().upper()
    return venues.trades_stock(asset) and not symbol.startswith("^") and "=" not in symbol


def _volume_like(table: Table) -> bool:
    """Whether a column's name speaks of volume (``Vol.``, ``Volume USD``): a file with one
    that is not read as the volume is refused rather than read as having none."""
    return any("vol" in normalized(name) for name in table.header)


def _binance_klines(table: Table) -> bool:
    """Whether a file without a header row is in Binance's kline layout (data.binance.vision's
    files, as ``/api/v3/klines`` answers): 12 columns, the open time first (ms; µs in spot
    files from 2025), then open, high, low, close, volume, and the close time seventh, one ms
    (µs) before the next candle opens."""
    if not table.headerless or not table.rows:
        return False
    cells = [str(cell).strip() for cell in table.rows[0].cells]
    if len(cells) != 12 or not (cells[0].isdigit() and cells[6].isdigit()):
        return False
    opened, closed = int(cells[0]), int(cells[6])
    unit = 1000 if opened < 10**14 else 10**6
    return opened >= 10**11 and closed > opened and (closed + 1 - opened) % unit == 0


def _refuse_other_values(
    path: Path,
    first: Row,
    row: Row,
    found: Mapping[str, int],
    before: Sequence[float],
    here: Sequence[float],
) -> None:
    """Two rows opening at one time with other values: the first field that differs, each
    value as the file writes it (``60.10``, not ``60.1``)."""
    field = next(f for f, a, b in zip(CANDLE_FIELDS[1:], before, here, strict=True) if a != b)
    there = short(first.where, path)
    raise InputError(
        f"{row.where}: the same time as {there}, with other values ({field} "
        f"{first.written(found[field])} at {there}, {row.written(found[field])} here)"
    )


def _refuse_not_daily(path: Path, asset: str, step: int, *, stock: bool) -> None:
    """A yfinance venue's candles are read daily only (``equities.require_daily``): weekly or
    intraday ones would be stored where no strategy can use them, as evaluate's NOT_APPLICABLE
    says."""
    what = "an equity" if stock else "on a yfinance venue"
    raise InputError(
        f"{path}: {asset} is {what} with daily candles only: these rows are "
        f"{format_duration(step)} candles, which no strategy can read; import its daily candles"
    )


def _refuse_dividend_adjusted(path: Path, call: str) -> None:
    """Stock candles are split-adjusted, not dividend-adjusted, as the live feed records them.
    Refused rather than warned of: a back-adjusted close is lowered by every dividend paid
    after its day (known only later), the series would not match the closes recorded live
    under the same key, and per-share fundamentals ratios would be off by the adjustment."""
    raise InputError(
        f"{path}: yfinance wrote these prices with auto_adjust=True, its default (there is no "
        "Adj Close column): they are adjusted for dividends, which would put per-share "
        "fundamentals ratios (price_to_book, trailing_pe...) off by the adjustment; export raw "
        f"closes with {call}(..., auto_adjust=False).to_csv(FILE)"
    )


def _cells_of(row: Row, found: Mapping[str, int]) -> Callable[[str], str]:
    """The place of a field's cell in ``row`` (``found``: each field's column)."""
    return lambda field: row.at(found[field], field)


def _timeframe(
    table: Table, times: Sequence[float], where: Mapping[float, str], given: str | None
) -> int:
    """The candles' length: ``given``, else ``default_timeframe`` of the steps between rows.
    A row closer to the one before, or off the timeframe's grid, is refused; a longer step is
    candles left out. A timeframe no step is as long as is refused: each candle would land at
    its open + the timeframe, before it closed."""
    gaps = [b - a for a, b in pairwise(times)]
    if given is not None:
        step = parse_duration(given)
        if step is None:
            raise InputError(f"--timeframe: '{given}' is not a duration such as 1h or 1d")
    else:
        guess = default_timeframe(gaps)
        if guess is None:
            raise InputError(f"{table.path}: one row cannot show its timeframe; give --timeframe")
        if not float(guess).is_integer():
            raise InputError(f"{table.path}: rows are {guess:g}s apart; give --timeframe")
        step = int(guess)
    for a, b in pairwise(times):
        if b - a < step:
            raise InputError(
                f"{where[b]}: this candle opens {format_duration(b - a)} after the one at "
                f"{where[a]}, less than the timeframe {format_duration(step)}"
            )
    if gaps and min(gaps) > step + slack(step):
        _refuse_short_timeframe(table.path, min(gaps), step)
    for a, b in pairwise(times):
        if not aligned(b - a, step):
            raise InputError(
                f"{where[b]}: this candle opens {format_duration(b - a)} after the one at "
                f"{where[a]}, not a whole number of {format_duration(step)} candles: the rows "
                f"are not aligned to the timeframe"
            )
    return step


def _daily_sessions(days: Sequence[date], given: str | None) -> int | None:
    """``DAY`` when a stock's rows, by their dates (``days``, in time order), are daily bars
    counted in NYSE sessions: every date a session, distinct, and one session apart as the
    most common step (or, with ``--timeframe 1d``, some step): Friday's bar and Monday's are
    consecutive, not a 3d candle. Else None: the steps in time tell (a weekly or intraday file,
    refused as not daily)."""
    if len(days) < 2 or (given is not None and parse_duration(given) != DAY):
        return None
    if not all(is_session(day) for day in days):
        return None
    gaps = [len(sessions_between(a, b)) + 1 for a, b in pairwise(days) if b > a]
    if len(gaps) != len(days) - 1:
        return None  # two rows on one date: intraday
    daily = min(gaps) == 1 if given is not None else default_timeframe(gaps) == 1
    return DAY if daily else None


def _refuse_short_timeframe(path: Path, shortest: float, step: int) -> None:
    looks, given = format_duration(shortest), format_duration(step)
    raise InputError(
        f"{path}: --timeframe {given} does not match the rows: no step between them is "
        f"{given}, the shortest is {looks}: they look like {looks} candles (read as {given} "
        f"candles, each would be known {format_duration(shortest - step)} before its close)"
    )


# --- polymarket ------------------------------------------------------------------------------


def _market_and_outcome(asset: str) -> tuple[str, str]:
    market, _, outcome = asset.rpartition("/")
    if not market:
        return asset, "yes"
    return market, outcome


def _price_rows(
    table: Table, asset: str, columns: str | None, date_format: str | None
) -> Iterator[Located]:
    from signalops.adapters.polymarket import prices_key

    market, outcome = _market_and_outcome(asset)
    aliases = {"time": _TIME_ALIASES, "price": ("p", "price", outcome.lower())}
    found = match_columns(table, PRICE_FIELDS, aliases, parse_mapping(columns, PRICE_FIELDS))
    if date_format is not None:
        table = dated(table, found["time"], "time", date_format)
    key = prices_key(market, outcome)
    for row in table.rows:
        price = number(row, found["price"], "price")
        if not 0.0 <= price <= 1.0:
            at = row.at(found["price"], "price")
            raise InputError(f"{at}: {price:g} is not a probability between 0 and 1")
        yield key, epoch(row, found["time"], "time"), price, row.where


def _polymarket_json(path: Path, raw: Any, asset: str) -> Iterator[Located]:
    from signalops.adapters.polymarket import Market, markets_key, parse_history, prices_key

    market, outcome = _market_and_outcome(asset)
    if isinstance(raw, dict) and "history" in raw:
        try:
            parse_history(raw, str(path))  # the live reader's checks, with its messages
        except AdapterError as exc:
            raise InputError(exc.message) from None
        if not raw["history"]:
            raise InputError(f"{path}: 0 points read: 'history' is empty")
        key = prices_key(market, outcome)
        # One point at a time: the live reader keeps the last of two at one time, unseen.
        for i, point in enumerate(raw["history"]):
            (t,), (p,) = parse_history({"history": [point]}, str(path))
            yield key, t, p, f"{path}: history item {i + 1}"
        return
    listed = raw if isinstance(raw, list) else [raw]
    chosen = [m for m in listed if market in (str(m.get("id")), m.get("slug"))]
    if not chosen:
        names = ", ".join(str(m.get("slug") or m.get("id")) for m in listed)
        raise InputError(
            f"{path}: 0 points read: no market with slug or id '{market}' (found: {names})"
        )
    entry = chosen[0]
    try:
        updated = datetime.fromisoformat(str(entry.get("updatedAt")).replace("Z", "+00:00"))
        meta = Market.from_gamma(entry, market, updated.timestamp())
    except ValueError:
        raise InputError(f"{path}: market '{market}' has no ISO 'updatedAt' time") from None
    except AdapterError as exc:
        raise InputError(f"{path}: {exc.message}") from None
    yield markets_key(market), updated.timestamp(), meta.record(), str(path)


# --- SEC companyfacts ------------------------------------------------------------------------


def companyfacts_records(path: Path, raw: Mapping[str, Any], asset: str) -> Iterator[Record]:
    """The EDGAR adapter's own recording of the document, as if fetched after its last filing."""
    from signalops.adapters._facts import known_at
    from signalops.adapters.edgar import recording

    try:
        cik = str(int(raw["cik"]))
    except (TypeError, ValueError):
        raise InputError(f"{path}: 'cik' is {raw['cik']!r}, not a number") from None
    _same_company(path, raw, asset, int(cik))
    last: date | None = None
    for taxonomy, concept, unit, i, fact in _facts(path, raw):
        try:
            filed = date.fromisoformat(str(fact.get("filed")))
        except ValueError:
            where = f"{taxonomy}:{concept} {unit} fact {i + 1}"
            raise InputError(
                f"{path}: {where}: 'filed' is {fact.get('filed')!r}, not YYYY-MM-DD"
            ) from None
        last = filed if last is None or filed > last else last
    records = [] if last is None else list(recording(asset, cik, raw, known_at(last)))
    if not any(key.endswith(f"CIK{int(cik):010d}") for key, _, _ in records):
        raise InputError(
            f"{path}: 0 points read: no fact of the concepts the fundamentals metrics read"
        )
    yield from records


def _same_company(path: Path, raw: Mapping[str, Any], asset: str, cik: int) -> None:
    """Refuse one company's facts under another's ticker: SEC's ticker map (the one the live
    adapter looks tickers up in) names the company ``asset`` is, when it lists it."""
    from signalops.adapters.edgar import bundled_tickers, cik10

    tickers = bundled_tickers()
    listed = tickers.get(asset.upper())
    if listed is None or int(listed) == cik:
        return
    entity = raw.get("entityName")
    whose = f" ({entity})" if isinstance(entity, str) and entity else ""
    theirs = sorted(t for t, c in tickers.items() if int(c) == cik)
    hint = f": import it with --asset {theirs[0]}" if theirs else ""
    raise InputError(
        f"{path}: these are the facts of CIK {cik10(cik)}{whose}, but SEC lists {asset.upper()} "
        f"as CIK {listed}{hint}"
    )


def _facts(
    path: Path, raw: Mapping[str, Any]
) -> Iterable[tuple[str, str, str, int, dict[str, Any]]]:
    facts = raw.get("facts")
    if not isinstance(facts, dict):
        raise InputError(f"{path}: 'facts' is not an object")
    for taxonomy, concepts in facts.items():
        for concept, body in (concepts or {}).items():
            units = body.get("units") if isinstance(body, dict) else None
            if not isinstance(units, dict):
                raise InputError(f"{path}: {taxonomy}:{concept} has no 'units' object")
            for unit, listed in units.items():
                for i, fact in enumerate(listed):
                    if not isinstance(fact, dict):
                        raise InputError(
                            f"{path}: {taxonomy}:{concept} {unit} fact {i + 1} is not an object"
                        )
                    yield taxonomy, concept, unit, i, fact
