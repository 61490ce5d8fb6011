"""``signalops data import FILE``: a trader's own files, through the CLI, into replayable series."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from datetime import date, datetime
from pathlib import Path

from click.testing import CliRunner
from conftest import DATA, STRATEGIES

from signalops.adapters._facts import EASTERN
from signalops.adapters.edgar import ReplayFactsFeed, Split, stored_splits
from signalops.adapters.fundamental import FundamentalAdapter
from signalops.adapters.snapshots import SnapshotStore
from signalops.cli import cli
from signalops.codes import Code
from signalops.observation import Observation, Request

FIXTURES = Path(__file__).parent / "fixtures" / "imports"
CDD_DAILY = FIXTURES / "cryptodatadownload_BTCUSDT_d_2022-06_2023-03.csv"
REORDERED_HOURLY = FIXTURES / "BTCUSDT_1h_2023-03-01_reordered.csv"
CCXT_HOURLY = FIXTURES / "ccxt_BTCUSDT_1h_2023-03-01.json"
PARQUET_DAILY = FIXTURES / "freqtrade_ETHUSDT_1d_2023-Q1.parquet"
YAHOO_DAILY = FIXTURES / "yahoo_AAPL_2023-03.csv"
CLOB_HISTORY = FIXTURES / "clob_prices-history_MSTR_YES_first30.json"
GAMMA_MARKETS = FIXTURES / "gamma_markets_trump-deportation_2mkts.json"
DEFILLAMA_TVL = FIXTURES / "defillama_chain_tvl_ethereum_2023-03-01_09.csv"
COMPANYFACTS = FIXTURES / "companyfacts_CIK0000320193_2022-2023.json"
# 2023-03-01 00:00 UTC: the first hourly candle opens then and is recorded at its close, 01:00.
MARCH_1 = 1677628800


def run(*args: str | Path):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def import_file(path: Path, out: Path, *args: str):
    return run("data", "import", path, "--to", out, *args)


def files_in(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_a_csv_with_columns_in_another_order_lands_in_the_replayed_candle_series(tmp_path: Path):
    result = import_file(REORDERED_HOURLY, tmp_path, "--source", "technical", "--asset", "BTC")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        f"technical          48 points in candles/binance/BTC/USDT/1h  {tmp_path}/technical.jsonl\n"
    )
    series = SnapshotStore(tmp_path).series("technical", "candles/binance/BTC/USDT/1h")
    assert series is not None
    assert series.times[0] == MARCH_1 + 3600
    assert series.values[0] == [23141.57, 23219.99, 23020.03, 23101.0, 12736.94918]


def test_the_cryptodatadownload_file_with_its_banner_and_newest_first_rows_imports(
    tmp_path: Path,
):
    result = import_file(CDD_DAILY, tmp_path, "--source", "technical", "--asset", "BTC")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        f"technical         304 points in candles/binance/BTC/USDT/1d  {tmp_path}/technical.jsonl\n"
    )
    series = SnapshotStore(tmp_path).series("technical", "candles/binance/BTC/USDT/1d")
    assert series is not None
    # The 2023-03-10 candle (low 19549.09, close 20150.69) is known at its close, 03-11 00:00.
    t, candle = series.last_at_or_before(1678492800) or (None, None)
    assert (t, candle[2], candle[3]) == (1678492800, 19549.09, 20150.69)


def test_a_parquet_file_in_freqtrade_layout_imports_with_its_timeframe_inferred(tmp_path: Path):
    result = import_file(PARQUET_DAILY, tmp_path, "--source", "technical", "--asset", "ETH")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        f"technical          90 points in candles/binance/ETH/USDT/1d  {tmp_path}/technical.jsonl\n"
    )
    series = SnapshotStore(tmp_path).series("technical", "candles/binance/ETH/USDT/1d")
    assert series is not None
    assert series.times[0] == 1672617600  # 2023-01-01's candle, closed 01-02 00:00 UTC
    assert series.values[0] == [1196.13, 1204.67, 1190.57, 1200.34, 117762.0685]


def test_a_json_file_of_ccxt_arrays_gives_the_same_store_as_the_same_candles_in_a_csv(
    tmp_path: Path,
):
    result = import_file(CCXT_HOURLY, tmp_path / "json", "--source", "technical", "--asset", "BTC")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        f"technical          48 points in candles/binance/BTC/USDT/1h  "
        f"{tmp_path}/json/technical.jsonl\n"
    )
    import_file(REORDERED_HOURLY, tmp_path / "csv", "--source", "technical", "--asset", "BTC")
    csv_bytes = (tmp_path / "csv" / "technical.jsonl").read_bytes()
    assert (tmp_path / "json" / "technical.jsonl").read_bytes() == csv_bytes


def test_a_yahoo_export_is_a_yfinance_series_known_at_the_new_york_close(tmp_path: Path):
    result = import_file(
        YAHOO_DAILY, tmp_path, "--source", "technical", "--asset", "AAPL", "--venue", "yfinance"
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        f"technical          23 points in candles/yfinance/AAPL/1d  {tmp_path}/technical.jsonl\n"
    )
    series = SnapshotStore(tmp_path).series("technical", "candles/yfinance/AAPL/1d")
    assert series is not None
    # 2023-03-01's bar, Close (not Adj Close), known at 16:00 EST = 21:00 UTC that day.
    assert series.times[0] == MARCH_1 + 21 * 3600
    assert series.values[0] == [146.83, 147.23, 145.01, 145.31, 55479000.0]


def test_an_explicit_column_mapping_names_columns_no_layout_knows(tmp_path: Path):
    odd = tmp_path / "odd.csv"
    text = REORDERED_HOURLY.read_text().splitlines(keepends=True)
    odd.write_text("qty,last,floor,ceiling,first,opened\n" + "".join(text[1:]))
    mapping = "time=opened,open=first,high=ceiling,low=floor,close=last,volume=qty"
    out = tmp_path / "out"
    result = import_file(odd, out, "--source", "technical", "--asset", "BTC", "--columns", mapping)
    assert result.exit_code == 0, result.stderr
    import_file(REORDERED_HOURLY, tmp_path / "ref", "--source", "technical", "--asset", "BTC")
    expected = (tmp_path / "ref" / "technical.jsonl").read_bytes()
    assert (out / "technical.jsonl").read_bytes() == expected


def test_an_import_that_reads_no_points_is_refused_with_the_header_and_writes_nothing(
    tmp_path: Path,
):
    result = import_file(DEFILLAMA_TVL, tmp_path / "out", "--source", "technical", "--asset", "ETH")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"error: {DEFILLAMA_TVL}: 0 points read: no column matched open, high, low, close, volume "
        "(the header is: date, chain, tvl); name them with --columns "
        "open=COLUMN,high=COLUMN,low=COLUMN,close=COLUMN,volume=COLUMN\n"
    )
    assert not (tmp_path / "out").exists()


def test_a_header_with_no_rows_is_refused(tmp_path: Path):
    empty = tmp_path / "empty.csv"
    empty.write_text("date,open,high,low,close,volume\n")
    result = import_file(empty, tmp_path / "out", "--source", "technical", "--asset", "BTC")
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {empty}: 0 points read: the header is there but no rows follow\n"
    )


def test_a_bad_row_half_way_names_its_line_and_leaves_the_store_as_it_was(tmp_path: Path):
    out = tmp_path / "out"
    import_file(CCXT_HOURLY, out, "--source", "technical", "--asset", "BTC")
    before = (out / "technical.jsonl").read_bytes()
    lines = CDD_DAILY.read_text().splitlines(keepends=True)
    lines[150] = lines[150].replace(",BTCUSDT,", ",BTCUSDT,n/a,", 1).replace(",", ";", 0)
    bad = tmp_path / "bad.csv"
    bad.write_text("".join(lines[:150]) + "1666656000000,2022-10-25,BTCUSDT,19330,x,1,2,3,4,5\n")
    result = import_file(bad, out, "--source", "technical", "--asset", "BTC")
    assert result.exit_code == 1
    assert result.stderr == f"error: {bad}:151:40: High: 'x' is not a number\n"
    assert files_in(out) == ["technical.jsonl"]
    assert (out / "technical.jsonl").read_bytes() == before


def test_a_failed_import_into_a_new_folder_does_not_create_it(tmp_path: Path):
    bad = tmp_path / "bad.json"
    bad.write_text('[[1677628800000, 1, 2, 0.5, 1.5, 10],\n [1677632400000, 1, 2, 0.5, "", 10]]\n')
    result = import_file(bad, tmp_path / "new", "--source", "technical", "--asset", "BTC")
    assert result.exit_code == 1
    assert result.stderr == f"error: {bad}: item 2: close: '' is not a number\n"
    assert not (tmp_path / "new").exists()


def test_importing_the_same_file_twice_gives_the_same_store_and_keeps_other_series(
    tmp_path: Path,
):
    import_file(PARQUET_DAILY, tmp_path, "--source", "technical", "--asset", "ETH")
    import_file(CDD_DAILY, tmp_path, "--source", "technical", "--asset", "BTC")
    once = (tmp_path / "technical.jsonl").read_bytes()
    again = import_file(CDD_DAILY, tmp_path, "--source", "technical", "--asset", "BTC")
    assert again.exit_code == 0
    assert (tmp_path / "technical.jsonl").read_bytes() == once
    assert SnapshotStore(tmp_path).keys("technical") == [
        "candles/binance/BTC/USDT/1d",
        "candles/binance/ETH/USDT/1d",
    ]
    assert files_in(tmp_path) == ["technical.jsonl"]


def test_imported_real_candles_give_the_same_rsi_as_the_bundled_data(
    tmp_path: Path, replay_dir: Path
):
    import_file(CDD_DAILY, tmp_path, "--source", "technical", "--asset", "BTC")
    strategy = STRATEGIES / "technical_baseline.yaml"
    at = "2023-03-11T00:00:00Z"
    mine = run("evaluate", strategy, "--at", at, "--data", tmp_path, "--json")
    bundled = run("evaluate", strategy, "--at", at, "--data", replay_dir, "--json")
    assert mine.exit_code == 0, mine.stderr
    value = json.loads(mine.stdout)["triggers_met"][0]["value"]
    assert value == json.loads(bundled.stdout)["triggers_met"][0]["value"]
    assert round(value, 3) == 28.242


def test_a_clob_prices_history_lands_where_the_polymarket_replay_reads_it(tmp_path: Path):
    market = "microstrategy-sells-any-bitcoin-by-december-31-2026"
    result = import_file(CLOB_HISTORY, tmp_path, "--source", "polymarket", "--asset", market)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        f"polymarket         30 points in prices/{market}/yes  {tmp_path}/polymarket.jsonl\n"
    )
    series = SnapshotStore(tmp_path).series("polymarket", f"prices/{market}/yes")
    assert series is not None
    assert (series.times[0], series.values[0]) == (1770394157, 0.23)


def test_a_gamma_markets_response_gives_the_metadata_of_the_market_named(tmp_path: Path):
    slug = "will-trump-deport-less-than-250000"
    result = import_file(GAMMA_MARKETS, tmp_path, "--source", "polymarket", "--asset", slug)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        f"polymarket          1 point  in markets/{slug}  {tmp_path}/polymarket.jsonl\n"
    )
    series = SnapshotStore(tmp_path).series("polymarket", f"markets/{slug}")
    assert series is not None
    assert series.values[0]["id"] == "517310"
    assert series.values[0]["outcomes"] == ["Yes", "No"]


def test_a_gamma_response_without_the_market_named_is_refused_with_the_ones_it_has(
    tmp_path: Path,
):
    result = import_file(GAMMA_MARKETS, tmp_path, "--source", "polymarket", "--asset", "nope")
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {GAMMA_MARKETS}: 0 points read: no market with slug or id 'nope' (found: "
        "will-trump-deport-less-than-250000, will-trump-deport-250000-500000-people)\n"
    )


def test_sec_companyfacts_land_where_the_edgar_replay_reads_them_known_from_their_filing_day(
    tmp_path: Path,
):
    result = import_file(COMPANYFACTS, tmp_path, "--source", "fundamental", "--asset", "AAPL")
    assert result.exit_code == 0, result.stderr
    path = f"{tmp_path}/fundamental.jsonl"
    assert result.stdout == (
        f"fundamental         8 points in edgar/CIK0000320193  {path}\n"
        f"fundamental         1 point  in edgar/CIK0000320193/fetched  {path}\n"
        f"fundamental         1 point  in edgar/ticker/AAPL  {path}\n"
    )
    store = SnapshotStore(tmp_path)
    facts = store.series("fundamental", "edgar/CIK0000320193")
    assert facts is not None
    # Each point is the end of its filing day in New York: nothing is seen on the day it is filed.
    for t, day in zip(facts.times, facts.values, strict=True):
        assert {f["filed"] for f in day} == {_new_york_day_before(t)}
    feed = ReplayFactsFeed(store)
    assert feed.cik("AAPL") == "0000320193"
    known, _ = feed.facts("AAPL", as_of=facts.times[0])
    assert {f.filed.isoformat() for f in known} == {"2022-01-28"}


def test_one_companys_facts_under_another_companys_ticker_are_refused(tmp_path: Path):
    """They were imported: WM then evaluated with Apple's earnings per share."""
    result = import_file(COMPANYFACTS, tmp_path, "--source", "fundamental", "--asset", "WM")
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {COMPANYFACTS}: these are the facts of CIK 0000320193 (Apple Inc.), but SEC "
        "lists WM as CIK 0000823768: import it with --asset AAPL\n"
    )
    assert not (tmp_path / "fundamental.jsonl").exists()


def _new_york_day_before(t: float) -> str:
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    return (datetime.fromtimestamp(t, ZoneInfo("America/New_York")) - timedelta(days=1)).strftime(
        "%Y-%m-%d"
    )


def test_a_file_of_another_source_says_which_source_it_is_for(tmp_path: Path):
    result = import_file(COMPANYFACTS, tmp_path, "--source", "technical", "--asset", "AAPL")
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {COMPANYFACTS}: this is an SEC companyfacts file: "
        "import it with --source fundamental\n"
    )


def test_file_options_without_a_file_are_refused(tmp_path: Path):
    result = run("data", "import", "--to", tmp_path, "--asset", "BTC")
    assert result.exit_code == 1
    assert result.stderr == "error: --asset: only with a FILE to import\n"


def test_help_teaches_the_file_import_with_examples():
    result = run("data", "import", "--help")
    assert "signalops data import Binance_BTCUSDT_d.csv --source technical --asset BTC" in (
        result.stdout
    )


def test_a_failed_bundled_import_leaves_no_tmp_files_and_keeps_the_old_snapshots(
    tmp_path: Path,
):
    data = tmp_path / "data"
    shutil.copytree(DATA / "ohlcv", data / "ohlcv")
    hourly = data / "ohlcv" / "BTCUSDT_1h_binance_2020-10_2025-10.csv"
    lines = hourly.read_text().splitlines(keepends=True)
    lines[300] = lines[300].split(",")[0] + ",1,2,3,oops,5\n"
    hourly.write_text("".join(lines))
    out = tmp_path / "out"
    ok = run("data", "import", "--from", DATA, "--to", out, "--source", "news")
    assert ok.exit_code == 0
    before = (out / "news.jsonl").stat().st_mtime_ns
    (data / "rss").symlink_to(DATA / "rss")
    result = run("data", "import", "--from", data, "--to", out, "--source", "news",
                 "--source", "technical")  # fmt: skip
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: technical: {hourly}:301: bad candle row")
    assert files_in(out) == ["news.jsonl"]
    assert (out / "news.jsonl").stat().st_mtime_ns == before  # not replaced: nothing was


def test_a_table_of_times_and_prices_imports_like_the_clob_response_it_came_from(tmp_path: Path):
    history = json.loads(CLOB_HISTORY.read_text())["history"]
    table = tmp_path / "mstr.csv"
    table.write_text("timestamp,price\n" + "".join(f"{p['t']},{p['p']}\n" for p in history))
    import_file(CLOB_HISTORY, tmp_path / "json", "--source", "polymarket", "--asset", "mstr/yes")
    result = import_file(table, tmp_path / "csv", "--source", "polymarket", "--asset", "mstr")
    assert result.exit_code == 0, result.stderr
    expected = (tmp_path / "json" / "polymarket.jsonl").read_bytes()
    assert (tmp_path / "csv" / "polymarket.jsonl").read_bytes() == expected


def test_candles_land_under_the_venue_and_symbol_the_config_routes_the_asset_to(tmp_path: Path):
    config = tmp_path / "signalops.yaml"
    config.write_text(
        "venues:\n"
        "  coinbase: {exchange: coinbaseexchange, quote: USD}\n"
        "assets:\n"
        "  ETH: {venue: coinbase, symbol: ETH-USD}\n"
    )
    out = tmp_path / "out"
    result = import_file(
        PARQUET_DAILY, out, "--source", "technical", "--asset", "ETH", "--config", str(config)
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        f"technical          90 points in candles/coinbaseexchange/ETH-USD/1d  "
        f"{out}/technical.jsonl\n"
    )


def test_an_unknown_venue_is_refused_with_a_suggestion(tmp_path: Path):
    result = import_file(
        PARQUET_DAILY, tmp_path, "--source", "technical", "--asset", "ETH", "--venue", "krakn"
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("error: --venue: unknown exchange 'krakn'")
    assert files_in(tmp_path) == []


# --- split histories -----------------------------------------------------------------------

SPLITS = DATA / "equities" / "prices" / "splits.csv"
AAPL_PRICES = DATA / "equities" / "prices" / "daily" / "AAPL.csv"
AAPL_FACTS = Path(__file__).parent / "fixtures" / "edgar" / "CIK0000320193.json.gz"


def _price_to_book(folder: Path, day: str) -> float:
    request = Request("fundamental", "price_to_book", (), "AAPL")
    when = datetime.fromisoformat(f"{day}T16:00").replace(tzinfo=EASTERN)
    answer = FundamentalAdapter.replay(SnapshotStore(folder)).fetch([request], when)[request]
    assert isinstance(answer, Observation), answer
    return answer.value


def test_the_bundled_split_table_gives_the_splits_of_the_asset_named(tmp_path: Path):
    result = import_file(SPLITS, tmp_path, "--source", "fundamental", "--asset", "NVDA")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        f"fundamental         2 points in splits/NVDA  {tmp_path}/fundamental.jsonl\n"
    )
    assert stored_splits(SnapshotStore(tmp_path), "NVDA") == [
        Split(date(2021, 7, 20), 4.0),
        Split(date(2024, 6, 10), 10.0),
    ]


def test_imported_facts_without_splits_warn_and_importing_the_splits_corrects_price_to_book(
    tmp_path: Path,
):
    """The audit's case: AAPL's prices and facts imported, no split history. At 2019-12-31 the
    split-adjusted close 73.41 over the pre-split 20.3652 per share read P/B 3.60; with the 4:1
    split of 2020-08-31 it is 14.42 (293.65 / 20.3652 as traded). The import says so, and as
    AAPL's filed share counts show its splits, P/B is UNKNOWN (NO_SPLIT_HISTORY) until then."""
    out = tmp_path / "store"
    facts = tmp_path / "CIK0000320193.json"
    facts.write_bytes(gzip.decompress(AAPL_FACTS.read_bytes()))
    prices = import_file(AAPL_PRICES, out, "--source", "technical", "--asset", "AAPL",
                         "--venue", "yfinance")  # fmt: skip
    assert prices.exit_code == 0 and prices.stderr == ""  # no facts yet: nothing to warn about
    imported = import_file(facts, out, "--source", "fundamental", "--asset", "AAPL")
    assert imported.exit_code == 0, imported.stderr
    assert imported.stderr.startswith(
        f"warning: {out} holds SEC EDGAR facts of AAPL but no split history, and its filed share "
        "count says it split"
    )
    assert (
        f"'signalops data download --source technical --asset AAPL --venue yfinance "
        f"--timeframe 1d --to {out}'" in " ".join(imported.stderr.split())
    )
    request = Request("fundamental", "price_to_book", (), "AAPL")
    when = datetime.fromisoformat("2019-12-31T16:00").replace(tzinfo=EASTERN)
    answer = FundamentalAdapter.replay(SnapshotStore(out)).fetch([request], when)[request]
    assert not isinstance(answer, Observation) and answer.reason == Code.NO_SPLIT_HISTORY, answer

    splits = import_file(SPLITS, out, "--source", "fundamental", "--asset", "AAPL")

    assert splits.exit_code == 0 and splits.stderr == ""
    assert round(_price_to_book(out, "2019-12-31"), 2) == 14.42


def test_a_yahoo_history_with_its_actions_gives_the_days_with_a_split(tmp_path: Path):
    """Yahoo's chart of AAPL (tests/fixtures/yahoo) saved as ``history(actions=True)`` writes
    it: a ``Stock Splits`` column, 0 on days without a split."""
    table = tmp_path / "AAPL_history.csv"
    table.write_text(
        "Date,Open,High,Low,Close,Volume,Dividends,Stock Splits\n"
        "2020-08-31 00:00:00-04:00,127.58,131.0,126.0,129.04,225702700,0.0,4.0\n"
        "2020-09-01 00:00:00-04:00,132.76,134.8,130.53,134.18,151948100,0.0,0.0\n"
    )
    result = import_file(table, tmp_path / "out", "--source", "fundamental", "--asset", "AAPL")
    assert result.exit_code == 0, result.stderr
    series = SnapshotStore(tmp_path / "out").series("fundamental", "splits/AAPL")
    assert series is not None and series.values == [4.0]


def test_a_reverse_split_may_be_written_as_new_to_old(tmp_path: Path):
    """GE's 1-for-8 reverse split of 2021-08-02 (the bundled table has it as 0.125)."""
    table = tmp_path / "ge.csv"
    table.write_text("ex_date,ratio\n2021-08-02,1:8\n")
    result = import_file(table, tmp_path / "out", "--source", "fundamental", "--asset", "GE")
    assert result.exit_code == 0, result.stderr
    series = SnapshotStore(tmp_path / "out").series("fundamental", "splits/GE")
    assert series is not None and series.values == [0.125]


def test_a_split_table_without_the_asset_is_refused_and_says_what_it_lists(tmp_path: Path):
    """(tests/cli/test_split_table_without_asset.py has the cases; tests/cli/test_no_splits.py
    those of a table that says the company never split.)"""
    result = import_file(SPLITS, tmp_path / "out", "--source", "fundamental", "--asset", "MSFT")
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {SPLITS}: 0 points read: no split of MSFT (the file lists AAPL, AMZN, GE, "
        "GOOGL, NVDA, PFE, TSLA, WMT)\n"
    )
    assert not (tmp_path / "out").exists()


def test_yfinances_three_line_csv_header_is_read_as_one(tmp_path: Path):
    """``yf.download(..., auto_adjust=False).to_csv()`` writes ``Price,Adj Close,Close,...``,
    then ``Ticker,AAPL,...``, then ``Date,,...`` before the rows; it was refused: ``no column
    matched time``."""
    plain = DATA / "equities" / "prices" / "daily" / "AAPL.csv"
    rows = list(csv.DictReader(plain.open(encoding="utf-8")))[:30]
    export = tmp_path / "AAPL_yf.csv"
    fields = ("adj_close", "close", "high", "low", "open", "volume")
    export.write_text(
        "Price,Adj Close,Close,High,Low,Open,Volume\nTicker,AAPL,AAPL,AAPL,AAPL,AAPL,AAPL\n"
        "Date,,,,,,\n"
        + "".join(f"{row['date']},{','.join(row[f] for f in fields)}\n" for row in rows),
        encoding="utf-8",
    )
    reference = tmp_path / "reference.csv"
    ordered = ("open", "high", "low", "close", "volume")
    reference.write_text(
        "date,open,high,low,close,volume\n"
        + "".join(f"{row['date']},{','.join(row[f] for f in ordered)}\n" for row in rows),
        encoding="utf-8",
    )
    options = ("--source", "technical", "--asset", "AAPL", "--venue", "yfinance")

    read = import_file(export, tmp_path / "yf", *options)
    expected = import_file(reference, tmp_path / "ref", *options)

    assert read.exit_code == 0, read.stderr
    assert expected.exit_code == 0, expected.stderr
    key = "candles/yfinance/AAPL/1d"
    ours = SnapshotStore(tmp_path / "yf").series("technical", key)
    theirs = SnapshotStore(tmp_path / "ref").series("technical", key)
    assert ours is not None and theirs is not None and len(ours) == 30
    assert (list(ours.times), list(ours.values)) == (list(theirs.times), list(theirs.values))


def test_a_price_file_imported_as_fundamentals_is_told_to_use_technical(tmp_path: Path):
    """It said "no column matched ratio ... name them with --columns ratio=COLUMN"."""
    daily = DATA / "equities" / "prices" / "daily" / "AAPL.csv"

    result = import_file(daily, tmp_path, "--source", "fundamental", "--asset", "AAPL")

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {daily}: 0 points read: its open, high, low and close columns are candles: "
        "import it with --source technical\n"
    )
