"""Universe backtests: one strategy over many assets in one book (shared cash).

Known answers come from the raw exports (``examples/data/ohlcv``), not from the code under test:
each fill's price is the CSV's open with the slippage applied, each fee is the fill's notional x
10 bps, and the mark at the end is the CSV's close; from them, by hand, each asset's net PnL, and
the portfolio's equity change as their sum. Look-ahead: changing any one asset's data after a
time leaves every decision of every asset before it as it was, record for record.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import DATA, ROOT, STRATEGIES

from signalops.adapters import registry
from signalops.adapters.snapshots import SnapshotStore
from signalops.audit.store import AuditLog
from signalops.backtest.comparison import BUY_AND_HOLD, Study
from signalops.backtest.metrics import period_returns, relative
from signalops.backtest.study import run_study
from signalops.backtest.universe import parse_universe, read_universe
from signalops.canonical import iso
from signalops.config import load_config
from signalops.pipeline import records_of_kind
from signalops.strategy import load, loads

DIP = STRATEGIES / "banking_crisis_dip.yaml"
EQUITIES = ROOT / "examples" / "signalops.equities.yaml"
BPS = Decimal(10_000)
FEE, SLIP = Decimal(10) / BPS, Decimal(5) / BPS  # the defaults


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def raw_daily(asset: str) -> dict[str, dict[str, str]]:
    """The Binance daily export of ``asset``/USDT, by the day its candle opens."""
    with (DATA / "ohlcv" / f"Binance_{asset}USDT_d.csv").open(encoding="utf-8") as handle:
        handle.readline()  # the CryptoDataDownload URL banner
        return {row["Date"][:10]: row for row in csv.DictReader(handle)}


def fills(path: Path) -> list[dict[str, Any]]:
    log = AuditLog(path)
    try:
        return [record["fill"] for record in records_of_kind(log, "fill")]
    finally:
        log.close()


def decision_records(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    log = AuditLog(path)
    try:
        return {(r["as_of"], r["asset"]): r for r in records_of_kind(log, "decision")}
    finally:
        log.close()


@pytest.fixture(scope="module")
def first_half_2022(replay_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Study:
    """Banking_Crisis_Dip over BTC and ETH, January to June 2022: a round trip in each asset
    (January to February), then positions in both still open on 30 June."""
    return run_study(
        load(DIP, registry.catalogue()),
        store=SnapshotStore(replay_dir),
        start=utc("2022-01-01"),
        end=utc("2022-06-30"),
        out_dir=tmp_path_factory.mktemp("universe"),
        universe=read_universe("BTC,ETH"),
        baseline=False,
        report=False,
    )


# --- the known answer: the portfolio is the sum of its parts --------------------------------------


def test_each_assets_net_pnl_is_its_fills_and_end_mark_from_the_raw_csv(first_half_2022: Study):
    study = first_half_2022
    recorded = fills(study.result.audit_path)
    assert {f["asset"] for f in recorded} == {"BTC", "ETH"}
    expected: dict[str, Decimal] = {}
    for asset in ("BTC", "ETH"):
        rows = raw_daily(asset)
        cash, held, fees = Decimal(0), Decimal(0), Decimal(0)
        for fill in (f for f in recorded if f["asset"] == asset):
            day = fill["at"][:10]  # filled at the open of that day's candle
            quantity, price, fee = (Decimal(fill[k]) for k in ("quantity", "price", "fee"))
            side = 1 if fill["side"] == "BUY" else -1
            assert price == Decimal(rows[day]["Open"]) * (1 + side * SLIP), fill
            assert fee == quantity * price * FEE, fill
            cash -= side * quantity * price
            held += side * quantity
            fees += fee
        close = Decimal(rows["2022-06-30"]["Close"])  # marked at 2022-07-01 00:00, its close
        expected[asset] = cash + held * close - fees
        part = next(p for p in study.parts.assets if p.asset == asset)
        assert part.quantity == held > 0
        assert part.mark == close
        assert part.fees == fees
        assert part.net == expected[asset]
        # Beside it, the asset bought alone with all the cash at the first fill, held.
        entry = Decimal(rows["2022-01-01"]["Open"]) * (1 + SLIP) * (1 + FEE)
        assert part.buy_and_hold == pytest.approx(float(close / entry) - 1, rel=1e-12)
    curve = study.result.equity
    # Shared cash: the portfolio's end equity is the starting cash plus the assets' parts.
    assert curve[-1].equity - curve[0].equity == expected["BTC"] + expected["ETH"]
    assert study.parts.net == study.parts.equity_change == expected["BTC"] + expected["ETH"]
    assert expected == {
        "BTC": Decimal("45.0358826265522467"),
        "ETH": Decimal("-241.1340595168607586"),
    }


def test_realised_is_the_closed_round_trips_and_unrealised_the_open_position(
    first_half_2022: Study,
):
    btc, eth = first_half_2022.parts.assets
    closed = [t for t in first_half_2022.result.trades if t.closed]
    shape = [(t.asset, len(t.entries), len(t.exits)) for t in closed]
    assert shape == [("BTC", 2, 1), ("ETH", 1, 1)]
    for part, trade in zip((btc, eth), closed, strict=True):
        assert (part.trades, part.open_trades) == (1, 1)
        assert part.realised == trade.pnl + trade.fees  # the round trip before its fees
        assert part.pnl == part.realised + part.unrealised
        assert part.net == part.pnl - part.fees
    # BTC bought twice in January, the second time lower, and sold above the average; ETH not.
    assert (btc.wins, eth.wins) == (1, 0)
    assert 0 < btc.exposure < 1 and 0 < eth.exposure < 1
    assert 0 < btc.max_weight <= first_half_2022.parts.max_weight < 1


def test_a_universe_run_is_one_book_not_one_per_asset(first_half_2022: Study):
    # The cash is shared: what a BUY may spend depends on the other asset's holding. The first
    # BUYs of both assets came on the same day, each sized on the same equity.
    legs = [leg for leg in first_half_2022.result.legs if leg.decided_at == utc("2022-01-08")]
    assert sorted(leg.asset for leg in legs) == ["BTC", "ETH"]
    point = next(p for p in first_half_2022.result.equity if p.time == utc("2022-01-09"))
    spent = sum((leg.notional + leg.fee for leg in legs), Decimal(0))
    assert point.cash == Decimal(10_000) - spent


def test_the_universes_sectors_reach_the_risk_gates_max_sector(replay_dir: Path, tmp_path: Path):
    # Both assets signal a BUY of 5% on 2022-01-08. Under a 8% sector limit, the second BUY
    # would take the "layer 1" sector to 10%: denied. Without sectors each asset is its own.
    path = tmp_path / "signalops.yaml"
    path.write_text("risk: {max_sector: 0.08}\n", encoding="utf-8")
    runs = {}
    for name, universe in (
        ("sectors", parse_universe("BTC: layer 1\nETH: layer 1\n", "crypto.yaml")),
        ("none", read_universe("BTC,ETH")),
    ):
        runs[name] = run_study(
            load(DIP, registry.catalogue()),
            store=SnapshotStore(replay_dir),
            start=utc("2022-01-01"),
            end=utc("2022-01-31"),
            out_dir=tmp_path / name,
            config=load_config(path),
            universe=universe,
            baseline=False,
            report=False,
        )
    day = utc("2022-01-08")
    with_sectors, alone = runs["sectors"].result, runs["none"].result
    assert dict(runs["sectors"].sectors) == {"BTC": "layer 1", "ETH": "layer 1"}
    assert with_sectors.decision(day, "BTC").status == "FILLED"
    eth = with_sectors.decision(day, "ETH")
    assert (eth.status, eth.denials) == ("NOT_EXECUTED", ("MAX_SECTOR",))
    check = next(
        c
        for c in decision_records(with_sectors.audit_path)[(iso(day), "ETH")]["risk"]["checks"]
        if c["code"] == "MAX_SECTOR"
    )
    assert check["details"]["sector"] == "layer 1"
    assert alone.decision(day, "ETH").status == "FILLED"
    assert runs["sectors"].parts.assets[1].denials["MAX_SECTOR"] >= 1


# --- the extended metrics -----------------------------------------------------------------------


def test_without_a_benchmark_asset_relative_metrics_are_against_buy_and_hold_of_the_universe(
    first_half_2022: Study,
):
    study = first_half_2022
    assert study.relative_to == BUY_AND_HOLD
    curve, held = study.result.equity, study.result.buy_and_hold
    assert [p.time for p in held] == [p.time for p in curve]
    expected = relative(
        period_returns([float(p.equity) for p in curve]),
        period_returns([float(p.equity) for p in held]),
        365.0,
    )
    assert study.extended.relative == expected
    assert expected.beta is not None and 0 < expected.beta < 1


def test_the_extended_and_universe_sections_of_metrics_json(first_half_2022: Study):
    data = json.loads(json.dumps(first_half_2022.to_dict(), allow_nan=False))
    extended = data["extended"]
    assert extended["relative_to"] == "buy_and_hold"
    assert set(extended) >= {"relative", "trades", "calmar", "turnover", "monthly_returns"}
    assert set(extended["monthly_returns"]) == {"2022"}
    universe = data["universe"]
    assert universe["source"] == "--universe"
    assert list(universe["assets"]) == ["BTC", "ETH"]
    assert universe["assets"]["BTC"]["net"] == "45.0358826265522467"
    assert universe["portfolio"]["net"] == universe["portfolio"]["equity_change"]
    assert universe["sectors"] == {}


# --- no look-ahead --------------------------------------------------------------------------------

CUT = utc("2022-06-22")  # between BUYs of both assets (06-21) and of BTC alone (06-23)
CRYPTO = {
    "technical": ("candles/binance/BTC/USDT/1d", "candles/binance/ETH/USDT/1d"),
    "onchain": ("stablecoin_supply/USDC/all",),
}
Points = list[tuple[float, Any]]
Change = Callable[[Points], Points]
JUNK = [1.0, 1e9, 0.5, 7.0, 1.0]  # a candle no market ever printed


def shuffled_after(cut: datetime) -> Change:
    def change(points: Points) -> Points:
        before = [(t, v) for t, v in points if t <= cut.timestamp()]
        after = [v for t, v in points if t > cut.timestamp()]
        random.Random(len(after)).shuffle(after)
        times = [t for t, _ in points[len(before) :]]
        return before + list(zip(times, after, strict=True))

    return change


def garbage_after(cut: datetime) -> Change:
    return lambda points: [(t, v if t <= cut.timestamp() else JUNK) for t, v in points]


def truncated_after(cut: datetime) -> Change:
    return lambda points: [(t, v) for t, v in points if t <= cut.timestamp()]


CHANGES = {"shuffled": shuffled_after, "garbage": garbage_after, "truncated": truncated_after}


def copy_store(
    source: SnapshotStore,
    target: Path,
    keys: dict[str, tuple[str, ...]],
    changes: dict[str, Change] | None = None,
) -> SnapshotStore:
    """The ``keys`` (by source) of ``source`` in a new store, each series named in ``changes``
    passed through its change."""
    new = SnapshotStore(target)
    for name, wanted in keys.items():
        records = []
        for key in wanted:
            series = source.series(name, key)
            assert series is not None, key
            points = list(zip(series.times, series.values, strict=True))
            if changes and key in changes:
                points = changes[key](points)
            records.extend((key, t, v) for t, v in points)
        new.write(name, records)
    return new


def crypto_run(store: SnapshotStore, out: Path) -> Study:
    return run_study(
        load(DIP, registry.catalogue()),
        store=store,
        start=utc("2022-06-01"),
        end=utc("2022-07-31"),
        out_dir=out,
        universe=read_universe("BTC,ETH"),
        baseline=False,
        report=False,
    )


@pytest.fixture(scope="module")
def unchanged_crypto(replay_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The universe run on the data as recorded (its audit log)."""
    store = copy_store(SnapshotStore(replay_dir), tmp_path_factory.mktemp("same"), CRYPTO)
    return crypto_run(store, tmp_path_factory.mktemp("unchanged")).result.audit_path


@pytest.mark.parametrize("asset", ["BTC", "ETH"])
@pytest.mark.parametrize("change", sorted(CHANGES))
def test_changing_one_assets_future_never_changes_a_past_decision_of_any_asset(
    replay_dir: Path, tmp_path: Path, unchanged_crypto: Path, asset: str, change: str
):
    key = f"candles/binance/{asset}/USDT/1d"
    changes = {key: CHANGES[change](CUT)}
    store = copy_store(SnapshotStore(replay_dir), tmp_path / "future", CRYPTO, changes)
    original = decision_records(unchanged_crypto)
    changed = decision_records(crypto_run(store, tmp_path / "run").result.audit_path)
    decided = ("verdict", "action", "blocked_by", "trace", "observations", "risk", "order")
    cut = "2022-06-22T00:00:00Z"
    assert {name for _, name in original} == {"BTC", "ETH"}
    for (as_of, name), record in original.items():
        if as_of < cut:  # filled at opens before the cut: the whole record, hash included
            assert changed[(as_of, name)] == record, (as_of, name)
        elif as_of == cut:  # decided on data up to the cut; its fill is the next open
            now = changed[(as_of, name)]
            assert {k: now[k] for k in decided} == {k: record[k] for k in decided}
    # ... while the future did change what the strategy saw later (the test has teeth).
    later = [k for k in original if k[0] > cut and k[1] == asset]
    assert any(k not in changed or changed[k]["trace"] != original[k]["trace"] for k in later)


VALUE_DIP = """
strategy:
  name: value_dip
  assets: [AAPL]
  defaults:
    max_age: 7d
    params: {timeframe: 1d}
  rules:
    - id: cheap
      source: fundamental
      conditions:
        - when: "trailing_pe < 40"
    - id: oversold
      source: technical
      conditions:
        - when: "rsi(14) < 40"
  exit:
    rules:
      - id: recovered
        source: technical
        conditions:
          - when: "rsi(14) > 60"
  execution: {position_size: 0.05, action_mode: paper}
"""
STOCKS = ("AAPL", "MSFT", "JPM")
AAPL_FACTS = "edgar/CIK0000320193"


def stock_run(
    store: SnapshotStore, out: Path, strategy: str = VALUE_DIP, end: str = "2022-04-30"
) -> Study:
    return run_study(
        loads(strategy, "value_dip.yaml", registry.catalogue()),
        store=store,
        start=utc("2022-02-01"),
        end=utc(end),
        out_dir=out,
        config=load_config(EQUITIES),
        universe=read_universe(",".join(STOCKS)),
        baseline=False,
        report=False,
    )


def test_a_stock_universe_with_point_in_time_fundamentals_has_no_look_ahead(
    replay_dir: Path, tmp_path: Path
):
    # AAPL's filings after the cut are removed and its candles after it are garbage: no
    # decision of any of the three stocks before the cut changes.
    cut = utc("2022-03-15")
    source = SnapshotStore(replay_dir)
    keys = {
        "technical": tuple(f"candles/yfinance/{a}/1d" for a in STOCKS),
        # The filings, and the split histories that put them in the closes' units.
        "fundamental": tuple(
            k for k in source.keys("fundamental") if k.startswith(("edgar/", "splits/"))
        ),
    }
    changes = {
        "candles/yfinance/AAPL/1d": garbage_after(cut),
        AAPL_FACTS: truncated_after(cut),
    }
    original = decision_records(
        stock_run(copy_store(source, tmp_path / "same", keys), tmp_path / "a").result.audit_path
    )
    future = copy_store(source, tmp_path / "future", keys, changes)
    changed = decision_records(stock_run(future, tmp_path / "b").result.audit_path)
    assert {name for _, name in original} == set(STOCKS)
    assert any(r["verdict"] == "BUY" for r in original.values())
    for (as_of, name), record in original.items():
        if as_of < "2022-03-15":
            assert changed[(as_of, name)] == record, (as_of, name)
    later = [k for k in original if k[1] == "AAPL" and k[0] > "2022-03-16"]
    assert any(changed[k]["observations"] != original[k]["observations"] for k in later)


SALES_VALUE = (ROOT / "tests" / "fixtures" / "sales_value.yaml").read_text(encoding="utf-8")


def test_point_in_time_price_to_sales_and_market_cap_have_no_look_ahead(
    replay_dir: Path, tmp_path: Path
):
    # Both read the close and the filings known at the decision: with AAPL's filings after the
    # cut removed (its 10-Q of 2022-04-29) and its candles after it garbage, no decision of any
    # of the three stocks before the cut changes, a BUY among them. The cut is in the middle of
    # a session (10:00 New York), so a decision of that morning reading the day's own close
    # (16:00, after the cut) would change.
    cut = utc("2022-03-31T14:00")
    source = SnapshotStore(replay_dir)
    keys = {
        "technical": tuple(f"candles/yfinance/{a}/1d" for a in STOCKS),
        # The filings, and the split histories that put them in the closes' units.
        "fundamental": tuple(
            k for k in source.keys("fundamental") if k.startswith(("edgar/", "splits/"))
        ),
    }
    changes = {
        "candles/yfinance/AAPL/1d": garbage_after(cut),
        AAPL_FACTS: truncated_after(cut),
    }

    def run(store: SnapshotStore, out: Path) -> dict[tuple[str, str], dict[str, Any]]:
        study = stock_run(store, out, SALES_VALUE, end="2022-05-31")
        return decision_records(study.result.audit_path)

    original = run(copy_store(source, tmp_path / "same", keys), tmp_path / "a")
    changed = run(copy_store(source, tmp_path / "future", keys, changes), tmp_path / "b")
    assert {name for _, name in original} == set(STOCKS)
    before = {k: r for k, r in original.items() if k[0] < "2022-03-31T14"}
    assert ("2022-03-31T00:00:00Z", "AAPL") in before  # the morning of the cut's session
    assert any(r["verdict"] == "BUY" for r in before.values())
    for key, record in before.items():
        assert changed[key] == record, key
    later = [k for k in original if k[1] == "AAPL" and k[0] > "2022-04-02"]
    assert any(changed[k]["observations"] != original[k]["observations"] for k in later)
