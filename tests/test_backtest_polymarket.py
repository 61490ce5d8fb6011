"""Backtests of an asset on a Polymarket venue: its bars are its outcome token's recorded prices.

Known answers come from the bundled price history of market 511754 ("Will Donald Trump be
inaugurated?": ``examples/data/polymarket/election_top20_daily_price_history_*.json``, one YES
price a day for 2024-11-02 .. 2025-01-20, each known at the end of its day), not from the code
under test. The fixture buys YES below 80% and sells above 95%.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import DATA, ROOT

from signalops.adapters.snapshots import SnapshotStore
from signalops.backtest import run_backtest
from signalops.backtest.bars import Bars
from signalops.backtest.runner import BacktestResult
from signalops.cli import cli
from signalops.config import Config, loads_config
from signalops.errors import DataNotFound
from signalops.strategy import load

YES = "45714870634090908403813747458214625542376052548606303175331201110938821302832"
CONFIG_TEXT = f"""\
venues:
  pm: {{exchange: polymarket, sandbox: false}}
assets:
  TRUMP_YES: {{venue: pm, symbol: "{YES}"}}
risk:
  max_data_age: 2d
"""
STRATEGY = ROOT / "tests" / "fixtures" / "trump_yes_dip.yaml"
HISTORY = DATA / "polymarket" / "election_top20_daily_price_history_2024-08_2025-06.json"
SLIP = Decimal("1.0005")  # 5 bps against the order


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def recorded_yes() -> dict[datetime, Decimal]:
    """The YES token's daily prices from the bundled file, each known at the end of its UTC
    day (as ``signalops data import`` stamps them: the date's price is its close)."""
    rows = json.loads(HISTORY.read_text(encoding="utf-8"))["511754"]
    return {
        utc(row["date"]) + timedelta(days=1): Decimal(str(row["price"]))
        for row in rows
        if row["token_id"] == YES
    }


@pytest.fixture(scope="module")
def config() -> Config:
    return loads_config(CONFIG_TEXT, "signalops.yaml")


@pytest.fixture(scope="module")
def result(
    replay_store: SnapshotStore, config: Config, tmp_path_factory: pytest.TempPathFactory
) -> BacktestResult:
    return run_backtest(
        load(STRATEGY), store=replay_store, start=utc("2024-09-01"), end=utc("2025-01-31"),
        out_dir=tmp_path_factory.mktemp("pm"), config=config,
    )  # fmt: skip


def test_an_outcome_assets_bars_are_its_recorded_prices_opening_and_closing_when_recorded(
    replay_store: SnapshotStore, config: Config
):
    bars = Bars.load(replay_store, "TRUMP_YES", 86_400, config.venues)
    prices = recorded_yes()
    assert bars.points
    assert [datetime.fromtimestamp(t, UTC) for t in bars.close_time.tolist()] == list(prices)
    assert bars.open_time.tolist() == bars.close_time.tolist()
    assert [Decimal(repr(p)) for p in bars.close.tolist()] == list(prices.values())
    assert bars.label == "recorded TRUMP_YES prices"


def test_every_fill_is_the_first_recorded_price_at_or_after_its_decision(result: BacktestResult):
    prices = recorded_yes()
    first = min(prices)  # 0.575: below 80%, bought there and again a day later (5% each)
    rich = min(t for t, price in prices.items() if price > Decimal("0.95"))
    assert [(leg.side.value, leg.decided_at) for leg in result.legs] == [
        ("BUY", first),
        ("BUY", first + timedelta(days=1)),
        ("SELL", rich),
    ]
    for leg in result.legs:
        at = min(t for t in prices if t >= leg.decided_at)
        assert leg.filled_at == at
        assert leg.price == prices[at] * (SLIP if leg.side.value == "BUY" else 2 - SLIP)


def test_decisions_before_the_first_recorded_price_hold_and_buy_and_hold_waits_for_it(
    result: BacktestResult,
):
    first = min(recorded_yes())
    before = [d for d in result.decisions if d.as_of < first]
    assert before and {d.verdict for d in before} == {"HOLD"}
    waiting = [p for p in result.buy_and_hold if p.time < first]
    assert {p.equity for p in waiting} == {Decimal(10_000)}
    assert result.buy_and_hold[-1].equity > Decimal(10_000)


def test_the_equity_curve_marks_the_position_at_the_last_recorded_price(result: BacktestResult):
    prices = recorded_yes()
    held = [p for p in result.equity if p.held]
    assert len(held) == 5
    for point in held:
        # A point marks the end of a decision's day: the buys decided before it are held.
        bought = [leg for leg in result.legs if leg.side.value == "BUY"]
        quantity = sum(leg.quantity for leg in bought if leg.decided_at < point.time)
        last = max(t for t in prices if t <= point.time)
        assert point.equity == point.cash + quantity * prices[last]


def test_backtest_command_names_the_fills_and_the_venues_quote(replay_dir: Path, tmp_path: Path):
    (tmp_path / "signalops.yaml").write_text(CONFIG_TEXT, encoding="utf-8")
    args = [
        "backtest", str(STRATEGY), "--data", str(replay_dir), "--config",
        str(tmp_path / "signalops.yaml"), "--from", "2024-09-01", "--to", "2025-01-31",
        "--report", str(tmp_path / "out"),
    ]  # fmt: skip
    result = CliRunner().invoke(cli, args, prog_name="signalops")
    output = result.stdout
    assert "Trump_Yes_Dip · TRUMP_YES · 2024-09-01 → 2025-01-31 · 153 periods of 1d" in output
    assert (
        "fills at the first recorded price at or after each decision (outcome prices); fee 10 "
        "bps, slippage 5 bps; starting cash 10,000.00 USDC\n"
    ) in output
    assert "trades                               1" in output
    # The first recorded price (2024-11-02's, known at its day's end) comes 63 days in.
    assert result.stderr == (
        "note: the recorded TRUMP_YES prices start at 2024-11-03T00:00:00Z, after the first "
        "decision (2024-09-01T00:00:00Z): 63 decisions before could price no order, and the "
        "metrics count that time as cash\n"
    )


def test_an_outcome_token_no_recorded_market_lists_is_one_line_saying_what_to_download(
    replay_dir: Path, tmp_path: Path
):
    (tmp_path / "signalops.yaml").write_text(CONFIG_TEXT.replace(YES, "12345"), encoding="utf-8")
    args = [
        "backtest", str(STRATEGY), "--data", str(replay_dir), "--config",
        str(tmp_path / "signalops.yaml"), "--from", "2024-11-01", "--to", "2024-11-30",
    ]  # fmt: skip
    result = CliRunner().invoke(cli, args, prog_name="signalops")
    assert result.exit_code == 1
    assert result.output == (
        "error: TRUMP_YES (Polymarket): no recorded Polymarket market lists CLOB token 12345: "
        "download the market that trades it with 'signalops data download --source polymarket "
        f"--asset MARKET --to {replay_dir}' (MARKET: its slug or id, as in its URL), which "
        "records its tokens and the price history of each outcome\n"
    )


def test_a_period_without_a_recorded_price_is_refused_before_anything_runs(
    replay_store: SnapshotStore, config: Config, tmp_path: Path
):
    with pytest.raises(DataNotFound) as info:
        run_backtest(
            load(STRATEGY), store=replay_store, start=utc("2024-09-01"),
            end=utc("2024-10-01"), out_dir=tmp_path, config=config,
        )  # fmt: skip
    assert str(info.value) == (
        "no recorded TRUMP_YES prices between 2024-09-01T00:00:00Z and 2024-10-01T00:00:00Z: "
        "the recorded data covers 2024-11-03T00:00:00Z to 2025-01-21T00:00:00Z"
    )
    assert not list(tmp_path.iterdir())


def test_an_hourly_backtest_of_an_outcome_fills_at_the_next_days_price(
    replay_store: SnapshotStore, config: Config, tmp_path: Path
):
    result = run_backtest(
        load(STRATEGY), store=replay_store, start=utc("2024-11-02"), end=utc("2024-11-04"),
        every=timedelta(hours=6), out_dir=tmp_path, config=config,
    )  # fmt: skip
    prices = recorded_yes()
    for leg in result.legs:
        at = min(t for t in prices if t >= leg.decided_at)
        assert (leg.filled_at, leg.price) == (at, prices[at] * SLIP)


def test_each_asset_footer_names_the_outcome_fills_and_the_venues_quote(
    replay_dir: Path, tmp_path: Path
):
    (tmp_path / "signalops.yaml").write_text(CONFIG_TEXT, encoding="utf-8")
    args = [
        "backtest", str(STRATEGY), "--data", str(replay_dir), "--config",
        str(tmp_path / "signalops.yaml"), "--from", "2024-10-01", "--to", "2025-01-31",
        "--report", str(tmp_path / "out"), "--each-asset",
    ]  # fmt: skip
    result = CliRunner().invoke(cli, args, prog_name="signalops")
    assert result.exit_code == 0, result.output
    assert (
        "each asset alone: starting cash 10,000.00 USDC; fills at the first recorded price at "
        "or after each decision, fee 10 bps, slippage 5 bps\n"
    ) in result.output
