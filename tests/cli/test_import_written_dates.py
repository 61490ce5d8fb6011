"""``data import FILE`` dates a stock's daily bar by the date written in its row's own offset.

Regression tests: a daily file whose times carry a positive UTC offset (a TradingView export
with the chart in Berlin, ``2023-03-09T00:00:00+01:00``; yfinance ``history().to_csv()`` of a
Tokyo stock, ``2023-03-09 00:00:00+09:00``) was dated by the UTC date, the day before: March 9's
close was stored at 16:00 New York on March 8 and an evaluation at 2023-03-09T12:00Z saw it
before March 9's session had opened. The only clue was "sessions missing ... every Friday".
Rows are real: KO (NYSE) and 7203.T (Tokyo) daily bars of 2023-03-06..10 as the exporters
wrote them (the Tokyo ones without yfinance's Dividends and Stock Splits columns); the crypto
rows are BTC/USDT daily candles of 2023-03-01..03 (a TradingView export) with their times
written at midnight in a +02:00 offset.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import invoke

from signalops.adapters.calendar import session_close
from signalops.adapters.snapshots import SnapshotStore

KO_BERLIN = """time,open,high,low,close,Volume
2023-03-06T00:00:00+01:00,59.259998,60.380001,59.220001,60.360001,16277200
2023-03-07T00:00:00+01:00,60.490002,60.57,59.75,60.009998,13800927
2023-03-08T00:00:00+01:00,60.040001,60.330002,59.73,60.040001,10831200
2023-03-09T00:00:00+01:00,60.540001,60.540001,59.279999,59.459999,13887100
2023-03-10T00:00:00+01:00,59.700001,60.139999,58.990002,59.209999,13739000
"""
TOYOTA_HISTORY = """Date,Open,High,Low,Close,Volume
2023-03-06 00:00:00+09:00,2035.8,2044.0,2000.4,2008.5,35722973
2023-03-07 00:00:00+09:00,2001.1,2009.1,1960.6,1968.5,30322420
2023-03-08 00:00:00+09:00,1979.5,1987.5,1947.3,1955.1,37836310
2023-03-09 00:00:00+09:00,1957.5,1965.3,1927.3,1935.1,28387508
2023-03-10 00:00:00+09:00,1928.1,1952.2,1920.4,1944.4,28436625
"""
BTC_PLUS_2 = """time,open,high,low,close,Volume
2023-03-01T00:00:00+02:00,23141.57,24000.0,23020.03,23628.97,315287.41737
2023-03-02T00:00:00+02:00,23629.76,23796.93,23195.9,23465.32,239315.45219
2023-03-03T00:00:00+02:00,23465.32,23476.95,21971.13,22354.34,319954.19785
"""
TOKYO_CONFIG = """venues:
  tse: {exchange: yfinance, quote: JPY}
assets:
  TOYOTA: {venue: tse, symbol: 7203.T}
"""
WRITTEN = [date(2023, 3, d) for d in range(6, 11)]


@pytest.fixture(autouse=True)
def _plain(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def imported(file: Path, out: Path, *options: str):
    return invoke("data", "import", str(file), "--source", "technical", "--to", str(out), *options)


def stored(folder: Path, key: str) -> list[float]:
    series = SnapshotStore(folder).series("technical", key)
    assert series is not None
    return list(series.times)


def test_a_daily_stock_row_at_berlin_midnight_is_the_session_of_its_written_date(tmp_path):
    file = write(tmp_path, "TV_KO_iso_berlin.csv", KO_BERLIN)
    out = tmp_path / "out"

    result = imported(file, out, "--asset", "KO", "--venue", "yfinance")

    assert (result.exit_code, result.stderr) == (0, "")
    assert stored(out, "candles/yfinance/KO/1d") == [session_close(d) for d in WRITTEN]
    # At 2023-03-09T12:00Z, before March 9's session opened, the last close is March 8's.
    series = SnapshotStore(out).series("technical", "candles/yfinance/KO/1d")
    assert series is not None
    noon = datetime(2023, 3, 9, 12, tzinfo=UTC).timestamp()
    t, candle = series.last_at_or_before(noon) or (None, None)
    assert (t, candle[3]) == (session_close(date(2023, 3, 8)), 60.040001)


def test_a_yfinance_history_of_a_tokyo_stock_is_dated_by_its_tokyo_dates(tmp_path):
    file = write(tmp_path, "7203.T_yf_history.csv", TOYOTA_HISTORY)
    config = write(tmp_path, "jp.yaml", TOKYO_CONFIG)
    out = tmp_path / "out"

    result = imported(file, out, "--asset", "TOYOTA", "--config", str(config))

    assert (result.exit_code, result.stderr) == (0, "")
    assert stored(out, "candles/yfinance/7203.T/1d") == [session_close(d) for d in WRITTEN]


def test_a_tz_aware_parquet_column_is_dated_in_its_own_zone(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    tokyo = timezone(timedelta(hours=9))
    rows = [line.split(",") for line in TOYOTA_HISTORY.splitlines()[1:]]
    table = pa.table(
        {
            "date": pa.array(
                [datetime.fromisoformat(r[0]).astimezone(tokyo) for r in rows],
                pa.timestamp("ms", tz="Asia/Tokyo"),
            ),
            **{name: [float(r[i]) for r in rows] for i, name in enumerate(
                ("open", "high", "low", "close", "volume"), start=1)},
        }
    )  # fmt: skip
    file = tmp_path / "7203.T.parquet"
    pq.write_table(table, file)
    config = write(tmp_path, "jp.yaml", TOKYO_CONFIG)
    out = tmp_path / "out"

    result = imported(file, out, "--asset", "TOYOTA", "--config", str(config))

    assert (result.exit_code, result.stderr) == (0, "")
    assert stored(out, "candles/yfinance/7203.T/1d") == [session_close(d) for d in WRITTEN]


def test_a_daily_crypto_candle_in_an_offset_closes_when_its_written_day_ends(tmp_path):
    """Around the clock there is no session to date: the written moment, converted to UTC, is
    the candle's open (22:00 UTC the day before), and it is known a day later, when its own
    day ended (00:00+02:00 the next day), never earlier."""
    file = write(tmp_path, "TV_BTC_1d_plus2.csv", BTC_PLUS_2)
    out = tmp_path / "out"

    result = imported(file, out, "--asset", "BTC")

    assert result.exit_code == 0, result.stderr
    plus_2 = timezone(timedelta(hours=2))
    ends = [datetime(2023, 3, d, tzinfo=plus_2).timestamp() for d in (2, 3, 4)]
    assert stored(out, "candles/binance/BTC/USDT/1d") == ends
