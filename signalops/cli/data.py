"""``signalops data``: replay snapshots made from the bundled real data or from a trader's file."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.text import Text

from signalops.cli import output
from signalops.cli.params import (
    CONFIG_OPTION,
    DEFAULT_DATA_DIR,
    DEFAULT_SNAPSHOT_DIR,
    default_config,
    time_value,
    wrong_length,
)
from signalops.errors import InputError

if TYPE_CHECKING:
    from signalops.adapters.importing import SeriesImported


@click.group()
def data() -> None:
    """Manage replay data: snapshots of recorded real data that backtests replay."""


@data.command("import")
@click.argument("file", required=False, type=click.Path(path_type=Path))
@click.option(
    "--from",
    "data_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder of bundled real data (without FILE).  "
    f"[default: {DEFAULT_DATA_DIR}, else the sample signalops carries]",
)
@click.option(
    "--to",
    "out_dir",
    type=click.Path(path_type=Path),
    default=DEFAULT_SNAPSHOT_DIR,
    show_default=True,
    help="Snapshot folder to write (one <source>.jsonl per source; a FILE is merged into it).",
)
@click.option(
    "--source",
    "sources",
    multiple=True,
    help="Only these sources (repeatable); with FILE, the one source it feeds.",
)
@click.option("--asset", help="With FILE: BTC or BTC/USDT, AAPL, a market slug[/outcome].")
@click.option(
    "--venue",
    help="With FILE: the venue the candles are from: a name under the config's venues: or a "
    "ccxt exchange id, or yfinance.  [default: the config's routing of --asset, else binance]",
)
@CONFIG_OPTION
@click.option(
    "--timeframe",
    help="With FILE: 1h, 1d... [default: the shortest step between rows when the rest are "
    "whole candles left out, else the most common; a stock's steps counted in NYSE sessions]",
)
@click.option(
    "--columns",
    help="With FILE: FIELD=COLUMN,... a column by its header's name or its position from 1, "
    "e.g. time=open_time,close=Close or (a file without a header row) "
    "time=1,open=2,high=3,low=4,close=5,volume=6; volume=none: candles without volume (read "
    "so when no column speaks of volume).",
)
@click.option(
    "--date-format",
    help="With FILE: how its time column writes dates ISO does not, in strptime's codes, e.g. "
    "%m/%d/%Y (US), %d.%m.%Y %H:%M (EU): such dates are refused without it, as day and month "
    "cannot be told apart.  [default: Unix times and ISO dates; UTC unless %z]",
)
@click.option(
    "--replace",
    is_flag=True,
    help="With FILE: let its rows replace stored points that have other values "
    "(without it such a file is refused).",
)
def data_import(
    file: Path | None,
    data_dir: Path | None,
    out_dir: Path,
    sources: tuple[str, ...],
    asset: str | None,
    venue: str | None,
    timeframe: str | None,
    columns: str | None,
    config_file: Path | None,
    date_format: str | None,
    replace: bool,
) -> None:
    """Turn the bundled real data, or one FILE of your own, into replay snapshots.

    A FILE (CSV, also ';'- or tab-separated with decimal commas, numbers grouped by commas
    such as "20,187,300" where the decimal mark is '.' ("1,085" only in a file with a '.'
    in its numbers, else refused as ambiguous); Parquet or JSON) is read as --source
    data about --asset and merged into the snapshot folder: the other series there are kept,
    and importing the same file twice changes nothing. Layouts are recognised: ccxt/Freqtrade
    candle arrays and CSVs, CryptoDataDownload (banner line, newest first), Yahoo
    (Date,Open,...,Adj Close,Volume), Binance Vision klines (no header row: open time in ms or
    µs, open, high, low, close, volume, close time, ...), columns in any order; a file of other
    columns without a header row needs them named by position (--columns time=1,open=2,...); a
    Polymarket CLOB prices-history or Gamma markets response; an SEC companyfacts JSON, or a
    company's splits (ticker,ex_date,ratio_new_per_old) for --source fundamental. Candle rows
    are dated by their open; each lands at its close (open + timeframe), so no two rows may be
    closer than the timeframe (longer steps are candles left out); times are Unix times or ISO
    dates, others (03/09/2023: March 9 or 3 September?) are refused unless --date-format names
    their format. Rows are checked as the live adapters check a response (prices above zero,
    high not below low, volume not negative), a bad value named at FILE:LINE:COLUMN with its
    header's name; two rows at one time must agree (a repeat is left out); a stored point the
    file changes needs --replace.
    A file with no column that speaks of volume (an index's, an exchange rate's) gives volume
    0, and volume and volume_z are NOT_APPLICABLE on candles without any; such a file into a
    series stored with volume is refused, and so is the reverse. A file naming
    another market than the one its candles would be stored as (a Symbol column, yfinance's
    Ticker line, a Yahoo export going to a crypto exchange) is refused with the options that
    fit it. Nothing is written unless the whole file reads. Candles missing between the
    file's first and last rows are warned of (for stocks, the NYSE sessions with no bar:
    weekends and holidays are not missing): a backtest's orders fill late across them.

    \b
    Examples:
      signalops data import --from examples/data --to examples/replay
      signalops data import Binance_BTCUSDT_d.csv --source technical --asset BTC
      signalops data import eth.parquet --source technical --asset ETH/USD --venue coinbaseexchange
      signalops data import AAPL.csv --source technical --asset AAPL --venue yfinance
      signalops data import BTCUSDT-1h-2023-03.csv --source technical --asset BTC  (Binance Vision)
      signalops data import mine.csv --source technical --asset BTC --timeframe 1h \\
          --columns time=open_time,close=Close
      signalops data import KO.csv --source technical --asset KO --venue yfinance \\
          --date-format %m/%d/%Y
      signalops data import prices-history.json --source polymarket --asset some-market-slug/yes
      signalops data import CIK0000320193.json --source fundamental --asset AAPL
      signalops data import splits.csv --source fundamental --asset AAPL
    """
    if file is None:
        _refuse_file_options(
            asset=asset,
            venue=venue,
            timeframe=timeframe,
            columns=columns,
            config=config_file,
            date_format=date_format,
            replace=replace or None,
        )
        if data_dir is None and not DEFAULT_DATA_DIR.is_dir():  # installed, outside a checkout
            from signalops.starter import sample_dir

            data_dir = sample_dir()
            output.warnings(
                [
                    f"no {DEFAULT_DATA_DIR} here: importing the small sample signalops "
                    "carries (March 2023; 'signalops init DIR' writes it with its README)"
                ]
            )
        from signalops.adapters.bundled import import_bundled

        with output.console(stderr=True).status("importing...") as status:
            results = import_bundled(
                data_dir or DEFAULT_DATA_DIR,
                out_dir,
                sources=sources or None,
                on_source=lambda s: status.update(f"importing {s}..."),
            )
        output.data_imported(results)
        return
    from signalops.adapters.importing import import_file
    from signalops.config import load_config
    from signalops.workspace import with_venue

    if data_dir is not None:
        raise InputError("--from names the bundled data folder; a FILE is imported on its own")
    if len(sources) != 1 or asset is None:
        raise InputError(f"{file}: name what it holds with one --source and --asset")
    if timeframe is not None:
        _timeframe(timeframe)  # said as download says it, before the file is read
    settings = with_venue(load_config(config_file or default_config()), venue)
    asset = _as_configured(asset, settings.venues.assets)
    imported = import_file(
        file,
        source=sources[0],
        asset=asset,
        out_dir=out_dir,
        venues=settings.venues,
        timeframe=timeframe,
        columns=columns,
        replace=replace,
        date_format=date_format,
    )
    output.file_imported(imported)
    _import_notes(imported, file)
    output.warnings(_missing_warnings(imported, asset))
    if sources[0] == "fundamental":  # a split table that said the company never split
        from signalops.adapters.importing.splits import never_split_notes

        for note in never_split_notes(imported, file, asset, columns):
            output.console(stderr=True).print(Text(f"note: {note}", style="yellow"))
    _split_warnings(sources[0], asset, out_dir)


def _as_configured(asset: str, configured: Iterable[str]) -> str:
    """``asset`` as the config spells it (``mrvl`` -> ``MRVL``: routed to MRVL's venue, not
    stored as an unknown asset of the default one), said in a note."""
    from signalops.textmatch import spelled

    found = spelled(asset, configured)
    if found != asset:
        note = f"--asset {asset}: imported as {found}, as the config spells it"
        output.console(stderr=True).print(Text(f"note: {note}", style="yellow"))
    return found


def _import_notes(imported: list[SeriesImported], file: Path) -> None:
    """What the summary's counts do not show: rows left out as repeats, stored points replaced,
    candles without volume."""
    from signalops.adapters.importing.checks import short

    notes = []
    for series in imported:
        if series.repeats:
            first = series.repeats[0]
            more = len(series.repeats) - 1
            notes.append(
                f"{first.where}: repeats {short(first.first, file)}, left out"
                + (f" (and {more:,} more repeated rows)" if more else "")
            )
        if series.replaced:
            notes.append(
                f"{series.series}: {output.count(series.replaced, 'stored point')} replaced"
            )
        if series.without_volume:
            notes.append(
                f"{series.series}: no candle has a volume (stored as 0): volume and volume_z "
                "read NOT_APPLICABLE on these candles"
            )
    for note in notes:
        output.console(stderr=True).print(Text(f"note: {note}", style="yellow"))


def _missing_warnings(imported: list[SeriesImported], asset: str) -> Iterator[str]:
    """The sessions (stocks) or candles a series lacks between the file's first and last rows:
    a backtest's orders fill late across them (``importing.missing``)."""
    for series in imported:
        gap = series.missing
        if gap is None:
            continue
        runs = [first if n == 1 else f"{first} to {last}" for first, last, n in gap.runs]
        rest = sum(n for _, _, n in gap.runs[_SHOWN_RUNS:])
        more = f" and {rest:,} more {gap.unit}{'' if rest == 1 else 's'}" if rest else ""
        yield (
            f"{asset} {gap.timeframe}: {gap.count:,} {gap.unit}{'' if gap.count == 1 else 's'} "
            f"missing between {gap.first} and {gap.last}: {', '.join(runs[:_SHOWN_RUNS])}{more}"
        )


_SHOWN_RUNS = 5


def _refuse_file_options(**given: object) -> None:
    named = [f"--{name.replace('_', '-')}" for name, value in given.items() if value is not None]
    if named:
        raise InputError(f"{', '.join(named)}: only with a FILE to import")


@data.command("download")
@click.option(
    "--source",
    required=True,
    help="technical, fundamental, onchain, polymarket or news.",
)
@click.option(
    "--asset",
    required=True,
    help="BTC or BTC/USDT, AAPL; a ticker (fundamental); a series key such as "
    "stablecoin_supply/USDC/all (onchain); a market slug (polymarket); a feed URL or a name "
    "under the config's news: feeds: (news).",
)
@click.option(
    "--venue",
    help="Candles: a name under the config's venues:, a ccxt exchange id, or yfinance.  "
    "[default: the config's routing of --asset, else binance]",
)
@click.option("--timeframe", help="Candles: 1m, 5m, 15m, 30m, 1h, 4h, 1d, 1w.  [default: 1d]")
@click.option(
    "--since",
    callback=time_value,
    help="Start (date or ISO time, UTC).  [default: candles continue after the last stored "
    "one, else 365 days back; other sources: all the history the service gives]",
)
@click.option(
    "--until",
    callback=time_value,
    help="End (date or ISO time, UTC).  [default: now]",
)
@click.option(
    "--to",
    "out_dir",
    type=click.Path(path_type=Path),
    default=DEFAULT_SNAPSHOT_DIR,
    show_default=True,
    help="Snapshot folder to write into (the series are added to what is there).",
)
@CONFIG_OPTION
@click.pass_obj
def data_download(
    connections: object,
    source: str,
    asset: str,
    venue: str | None,
    timeframe: str | None,
    since: datetime | None,
    until: datetime | None,
    out_dir: Path,
    config_file: Path | None,
) -> None:
    """Download history from a live source into the replay snapshots, page by page.

    Each page is written (and flushed to disk) as it arrives, so an interrupted download keeps
    what it got and the same command continues after the last stored candle. Only closed
    candles are stored, at their close time (times shown are candle closes, UTC); missing bars
    between them are reported as gaps (for equities, only missing NYSE sessions). Rerunning a
    finished download adds nothing.

    \b
    Examples:
      signalops data download --source technical --asset BTC/USDT --venue binance --timeframe 1h
      signalops data download --source technical --asset ETH --venue coinbaseexchange \\
          --timeframe 1d --since 2022-01-01 --until 2024-01-01
      signalops data download --source technical --asset AAPL --venue yfinance --timeframe 1d
      signalops data download --source fundamental --asset AAPL       (SEC EDGAR company facts)
      signalops data download --source onchain --asset stablecoin_supply/USDC/all
      signalops data download --source onchain --asset chain_tvl/ethereum
      signalops data download --source polymarket --asset will-trump-deport-less-than-250000
      signalops data download --source news --asset https://www.coindesk.com/arc/outboundfeeds/rss

    EDGAR needs a User-Agent naming you: the config's fundamental: {sec_user_agent: ...} or
    $SIGNALOPS_SEC_USER_AGENT. On-chain series: stablecoin_supply/<SYMBOL>/<chain or all>,
    chain_tvl/<chain>, protocol_tvl/<slug>, cex_net_flow/<slug> (needs $DEFILLAMA_API_KEY).
    """
    from signalops.adapters.download import Connections, download
    from signalops.config import load_config
    from signalops.workspace import with_venue

    candles = source == "technical"
    if not candles:
        _refuse_options(source, venue=venue, timeframe=timeframe)
    if source in ("fundamental", "news"):
        _refuse_options(source, since=since, until=until)
    step = _timeframe(timeframe or "1d")
    settings = load_config(config_file or default_config())
    settings = with_venue(settings, venue)
    now = datetime.now(UTC)
    with output.progress(output.console(stderr=True)) as update:
        results = download(
            source,
            asset,
            to=out_dir,
            venues=settings.venues,
            timeframe=step,
            since=None if since is None else since.timestamp(),
            until=(until or now).timestamp(),
            now=now.timestamp(),
            sec_user_agent=settings.fundamental.sec_user_agent,
            news_feeds=settings.news.feeds,
            connections=connections if isinstance(connections, Connections) else Connections(),
            progress=update,
        )
    output.downloaded(results)
    _split_warnings(source, asset, out_dir)


def _split_warnings(source: str, asset: str, out_dir: Path) -> None:
    """Warn when the folder now holds a company's SEC facts but not its split history."""
    if source in ("technical", "fundamental"):
        from signalops.adapters.edgar import split_history_warnings

        output.warnings(split_history_warnings(out_dir, asset))


def _refuse_options(source: str, **given: object) -> None:
    named = [f"--{name}" for name, value in given.items() if value is not None]
    if named:
        raise InputError(f"{', '.join(named)}: not for --source {source}")


def _timeframe(text: str) -> int:
    from signalops.catalogue.spec import parse_duration

    seconds = parse_duration(text)
    if seconds is None:
        raise InputError(f"--timeframe: '{text}' {wrong_length(text)}")
    return seconds
