"""``signalops data``: replay snapshots made from the bundled real data or from a trader's file."""

from __future__ import annotations

from pathlib import Path

import click

from signalops.adapters.bundled import DEFAULT_DATA_DIR, DEFAULT_SNAPSHOT_DIR, import_bundled
from signalops.cli import output
from signalops.cli.params import CONFIG_OPTION, default_config
from signalops.errors import InputError


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
    help=f"Folder of bundled real data (without FILE).  [default: {DEFAULT_DATA_DIR}]",
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
@click.option("--timeframe", help="With FILE: 1h, 1d... [default: the smallest step between rows]")
@click.option("--columns", help="With FILE: FIELD=COLUMN,... e.g. time=open_time,close=Close.")
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
) -> None:
    """Turn the bundled real data, or one FILE of your own, into replay snapshots.

    A FILE (CSV, Parquet or JSON) is read as --source data about --asset and merged into the
    snapshot folder: the other series there are kept, and importing the same file twice changes
    nothing. Layouts are recognised: ccxt/Freqtrade candle arrays and CSVs, CryptoDataDownload
    (banner line, newest first), Yahoo (Date,Open,...,Adj Close,Volume), columns in any order;
    a Polymarket CLOB prices-history or Gamma markets response; an SEC companyfacts JSON.
    Candle rows are dated by their open; each lands at its close (open + timeframe). Nothing
    is written unless the whole file reads.

    \b
    Examples:
      signalops data import --from examples/data --to examples/replay
      signalops data import Binance_BTCUSDT_d.csv --source technical --asset BTC
      signalops data import eth.parquet --source technical --asset ETH/USD --venue coinbaseexchange
      signalops data import AAPL.csv --source technical --asset AAPL --venue yfinance
      signalops data import mine.csv --source technical --asset BTC --timeframe 1h \\
          --columns time=open_time,close=Close
      signalops data import prices-history.json --source polymarket --asset some-market-slug/yes
      signalops data import CIK0000320193.json --source fundamental --asset AAPL
    """
    if file is None:
        _refuse_file_options(
            asset=asset, venue=venue, timeframe=timeframe, columns=columns, config=config_file
        )
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
    settings = with_venue(load_config(config_file or default_config()), venue)
    imported = import_file(
        file,
        source=sources[0],
        asset=asset,
        out_dir=out_dir,
        venues=settings.venues,
        timeframe=timeframe,
        columns=columns,
    )
    output.file_imported(imported)


def _refuse_file_options(**given: object) -> None:
    named = [f"--{name}" for name, value in given.items() if value is not None]
    if named:
        raise InputError(f"{', '.join(named)}: only with a FILE to import")
