"""The bundled US-equity universe (examples/data/equities) in the replay snapshot.

``signalops data import`` adds its daily prices to the technical source's file and its SEC company
facts and splits to the fundamental source's, through the same readers as ``data import FILE``;
the fundamental replay adapter then answers point-in-time figures from them. Known answers are
the ones of tests/adapters/test_edgar.py (by hand from the 10-K filings).
"""

from __future__ import annotations

import gzip
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import DATA

from signalops.adapters import edgar
from signalops.adapters._facts import EASTERN
from signalops.adapters.bundled import EQUITY_VENUES, import_bundled
from signalops.adapters.fundamental import FundamentalAdapter
from signalops.adapters.importing import import_file
from signalops.adapters.snapshots import SnapshotStore
from signalops.cli import cli
from signalops.observation import Observation, Request

EQUITIES = DATA / "equities"


def close_of(day: str) -> datetime:
    """16:00 New York on ``day``: the moment a daily close is known."""
    return datetime.fromisoformat(f"{day}T16:00").replace(tzinfo=EASTERN).astimezone(UTC)


def value(replay_store: SnapshotStore, metric: str, symbol: str, day: str) -> float:
    request = Request("fundamental", metric, (), symbol)
    answer = FundamentalAdapter.replay(replay_store).fetch([request], close_of(day))[request]
    assert isinstance(answer, Observation), answer
    return answer.value


@pytest.mark.parametrize(
    ("day", "book", "ncav"),
    [
        # 10-K FY2019 filed 2019-10-31: equity 90,488M, current assets 162,819M, liabilities
        # 248,028M, 4,443,265,000 shares (2019-10-18, before the 4:1 split of 2020-08-31): as
        # filed 20.3652 and -19.1771 per share; in the shares of the split-adjusted close
        # (4 x 4,443,265,000) 5.0913 and -4.79428.
        ("2019-12-31", 90_488e6 / 4_443_265_000 / 4, (162_819e6 - 248_028e6) / 4_443_265_000 / 4),
        # 10-K FY2023 filed 2023-11-03: equity 62,146M, current assets 143,566M, liabilities
        # 290,437M, 15,552,752,000 shares (2023-10-20), after the split: as filed.
        ("2023-12-29", 62_146e6 / 15_552_752_000, (143_566e6 - 290_437e6) / 15_552_752_000),
    ],
)
def test_bundled_import_answers_aapl_book_value_and_ncav_per_share_in_the_closes_shares(
    replay_store: SnapshotStore, day: str, book: float, ncav: float
) -> None:
    assert value(replay_store, "book_value_per_share", "AAPL", day) == pytest.approx(book)
    assert value(replay_store, "ncav_per_share", "AAPL", day) == pytest.approx(ncav)


def test_bundled_close_over_book_value_per_share_is_price_to_book_before_the_split(
    replay_store: SnapshotStore,
) -> None:
    """2019-12-31: the bundled close 73.41 is split-adjusted (293.65 as traded); over 5.0913 per
    share in the same shares it is the P/B of the filing's figures, 293.65 / 20.3652 = 14.42."""
    series = replay_store.series("technical", "candles/yfinance/AAPL/1d")
    assert series is not None
    point = series.last_at_or_before(close_of("2019-12-31").timestamp())
    assert point is not None and point[1][3] == 73.41
    book = value(replay_store, "book_value_per_share", "AAPL", "2019-12-31")
    assert round(point[1][3] / book, 2) == 14.42
    assert round(value(replay_store, "price_to_book", "AAPL", "2019-12-31"), 2) == 14.42


def test_bundled_import_joins_the_bundled_close_for_aapl_price_to_book(
    replay_store: SnapshotStore,
) -> None:
    """The data README's worked example: 192.53 / (62,146M / 15,552.752M shares) = 48.2."""
    assert round(value(replay_store, "price_to_book", "AAPL", "2023-12-29"), 1) == 48.2


def test_bundled_import_puts_the_pre_split_filing_in_todays_shares_with_the_bundled_split(
    replay_store: SnapshotStore,
) -> None:
    """After AAPL's 4:1 split of 2020-08-31 the FY2019 share count is read as 4x as many."""
    assert edgar.stored_splits(replay_store, "AAPL") == [edgar.Split(date(2020, 8, 31), 4.0)]
    shares = value(replay_store, "shares_outstanding", "AAPL", "2020-09-15")
    assert shares > 4 * 4_000_000_000


def test_bundled_import_has_the_sp500_benchmark_at_the_exchange_close(
    replay_store: SnapshotStore,
) -> None:
    series = replay_store.series("technical", "candles/yfinance/^GSPC/1d")
    assert series is not None
    assert len(series) == 1761  # NYSE sessions 2018-01-02 .. 2024-12-31
    closes = {t: candle[3] for t, candle in zip(series.times, series.values, strict=True)}
    assert closes[close_of("2019-01-02").timestamp()] == 2510.03
    assert closes[close_of("2023-12-29").timestamp()] == 4769.83


def test_bundled_candles_and_facts_are_exactly_what_importing_the_files_gives(
    replay_store: SnapshotStore, tmp_path: Path
) -> None:
    import_file(
        EQUITIES / "prices" / "daily" / "MSFT.csv",
        source="technical",
        asset="MSFT",
        out_dir=tmp_path,
        venues=EQUITY_VENUES,
    )
    facts = tmp_path / "CIK0000789019.json"
    facts.write_bytes(
        gzip.decompress((EQUITIES / "edgar/companyfacts/CIK0000789019.json.gz").read_bytes())
    )
    import_file(facts, source="fundamental", asset="MSFT", out_dir=tmp_path)
    imported = SnapshotStore(tmp_path)
    for source, key in (
        ("technical", "candles/yfinance/MSFT/1d"),
        ("fundamental", "edgar/CIK0000789019"),
        ("fundamental", "edgar/CIK0000789019/fetched"),
        ("fundamental", "edgar/ticker/MSFT"),
    ):
        assert replay_store.series(source, key) == imported.series(source, key), key


def test_data_import_reports_the_equities_on_lines_of_their_own(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["data", "import", "--from", str(DATA), "--to", str(tmp_path), "--source", "technical"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0
    assert result.stdout == (
        f"technical      50,064 points in    3 series  {tmp_path}/technical.jsonl\n"
        f"equities       12,327 points in    7 series  {tmp_path}/technical.jsonl\n"
    )


def test_bundled_data_without_an_equities_folder_imports_as_before(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "rss").mkdir(parents=True)
    (data / "rss" / "feed.xml").write_bytes((DATA / "rss" / "coindesk_2026-09-25.xml").read_bytes())
    results = import_bundled(data, tmp_path / "out", sources=["fundamental", "news"])
    assert [(r.source, r.records) for r in results] == [("fundamental", 0), ("news", 3)]
