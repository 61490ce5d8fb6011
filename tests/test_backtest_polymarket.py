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
from itertools import pairwise
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import DATA, ROOT

from signalops.adapters.snapshots import SnapshotStore
from signalops.backtest import run_backtest
from signalops.backtest.bars import Bars
from signalops.backtest.report import method_lines
from signalops.backtest.runner import BacktestResult
from signalops.backtest.study import run_study
from signalops.cli import cli
from signalops.config import Config, loads_config
from signalops.errors import DataNotFound
from signalops.strategy import load, loads
from signalops.stress.scenario import Gap
from signalops.stress.scenario_backtests import not_applicable

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


def backtest_command(
    replay_dir: Path,
    folder: Path,
    period: str,
    *options: str,
    strategy: Path = STRATEGY,
    config: str = CONFIG_TEXT,
) -> Result:
    """``signalops backtest`` of ``strategy`` with ``config`` written to ``folder`` over
    ``period`` (``FROM..TO``), its report in ``folder/out``."""
    (folder / "signalops.yaml").write_text(config, encoding="utf-8")
    start, end = period.split("..")
    args = [
        "backtest", str(strategy), "--data", str(replay_dir), "--config",
        str(folder / "signalops.yaml"), "--from", start, "--to", end,
        "--report", str(folder / "out"), *options,
    ]  # fmt: skip
    return CliRunner().invoke(cli, args, prog_name="signalops")


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


def test_every_fill_is_the_last_recorded_price_at_or_before_its_decision(result: BacktestResult):
    prices = recorded_yes()
    first = min(prices)  # 0.575: below 80%, bought there and again a day later (5% each)
    rich = min(t for t, price in prices.items() if price > Decimal("0.95"))
    assert [(leg.side.value, leg.decided_at) for leg in result.legs] == [
        ("BUY", first),
        ("BUY", first + timedelta(days=1)),
        ("SELL", rich),
    ]
    for leg in result.legs:
        at = max(t for t in prices if t <= leg.decided_at)
        assert leg.filled_at == at
        assert leg.price == prices[at] * (SLIP if leg.side.value == "BUY" else 2 - SLIP)


def test_decisions_before_the_first_recorded_price_hold_and_buy_and_hold_waits_for_it(
    result: BacktestResult,
):
    first = min(recorded_yes())
    before = [d for d in result.decisions if d.as_of < first]
    assert before and {d.verdict for d in before} == {"HOLD"}
    waiting = [p for p in result.buy_and_hold if p.time < first]
    assert {(p.equity, p.held) for p in waiting} == {(Decimal(10_000), False)}
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
    result = backtest_command(replay_dir, tmp_path, "2024-09-01..2025-01-31")
    output = result.stdout
    assert "Trump_Yes_Dip · TRUMP_YES · 2024-09-01 → 2025-01-31 · 153 periods of 1d" in output
    assert (
        "fills at the last recorded price at or before each decision (outcome prices); fee 10 "
        "bps, slippage 5 bps; starting cash 10,000.00 USDC\n"
    ) in output
    assert "trades                              1" in output
    # The first recorded price (2024-11-02's, known at its day's end) comes 63 days in.
    audit = tmp_path / "out" / "backtest.db"
    assert result.stderr == (
        "note: the recorded TRUMP_YES prices start at 2024-11-03T00:00:00Z, after the first "
        "decision (2024-09-01T00:00:00Z): 63 decisions before could price no order, and the "
        "metrics count that time as cash\n"
        # Those decisions read no odds; from 2025-01-22 the recorded odds are too old.
        "note: polymarket('511754').yes (polymarket) was UNKNOWN at 63 of 153 decisions of "
        "TRUMP_YES: NO_DATA: no recorded price of market '511754' yes at or before "
        "2024-09-01T00:00:00Z (the first is from 2024-11-03T00:00:00Z) (the first: signalops "
        f"why dec-52dff81a8cdaac2d581c26e5 --audit {audit})\n"
        "note: polymarket('511754').yes (polymarket) was UNKNOWN at 10 of 153 decisions of "
        "TRUMP_YES: STALE: the data is from 2025-01-21T00:00:00Z (1d old, max 1h) (the first: "
        f"signalops why dec-cd2c78692c77993eb0d5f4b6 --audit {audit})\n"
    )


def test_an_outcome_token_no_recorded_market_lists_is_one_line_saying_what_to_download(
    replay_dir: Path, tmp_path: Path
):
    config = CONFIG_TEXT.replace(YES, "12345")
    result = backtest_command(replay_dir, tmp_path, "2024-11-01..2024-11-30", config=config)
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
        "no recorded TRUMP_YES prices between 2024-08-31T00:00:00Z (1d before "
        "2024-09-01T00:00:00Z) and 2024-10-01T00:00:00Z: "
        "the recorded data covers 2024-11-03T00:00:00Z to 2025-01-21T00:00:00Z"
    )
    assert not list(tmp_path.iterdir())


def test_decisions_between_recorded_prices_fill_at_the_price_then_and_mark_no_later_one(
    replay_store: SnapshotStore, config: Config, tmp_path: Path
):
    """Every 6h with leaves that accept a price two days old, 2% a buy: three of four decisions
    fall between two daily prices. Each fills at the last price recorded by then (the one the gate
    sized it at), and no point of the curve moves before a new price is recorded: a fill at
    the next day's price, booked at the decision, moved the curve with a price to come."""
    text = (
        STRATEGY.read_text(encoding="utf-8")
        .replace("yes < 80%'", "yes < 80%'\n          max_age: 2d")
        .replace("yes > 95%'", "yes > 95%'\n            max_age: 2d")
        .replace("position_size: 0.05", "position_size: 0.02")  # five buys to MAX_POSITION
    )
    result = run_backtest(
        loads(text), store=replay_store, start=utc("2024-11-02"), end=utc("2024-11-10"),
        every=timedelta(hours=6), out_dir=tmp_path, config=config,
    )  # fmt: skip
    prices = recorded_yes()
    between = [leg for leg in result.legs if leg.decided_at not in prices]
    assert len(between) >= 2 and len(result.legs) >= 4
    for leg in result.legs:
        at = max(t for t in prices if t <= leg.decided_at)
        slip = SLIP if leg.side.value == "BUY" else 2 - SLIP
        assert (leg.filled_at, leg.price) == (at, prices[at] * slip)
    # Between two recorded prices the equity stays put unless an order's fee is paid.
    fees = {leg.decided_at + timedelta(hours=6) for leg in result.legs}
    curve = result.equity
    for before, after in pairwise(curve):
        if after.time in fees or any(before.time < t <= after.time for t in prices):
            continue
        assert after.equity == before.equity, after.time


def test_each_asset_footer_names_the_outcome_fills_and_the_venues_quote(
    replay_dir: Path, tmp_path: Path
):
    result = backtest_command(replay_dir, tmp_path, "2024-10-01..2025-01-31", "--each-asset")
    assert result.exit_code == 0, result.output
    assert (
        "each asset alone: starting cash 10,000.00 USDC; fills at the last recorded price at "
        "or before each decision, fee 10 bps, slippage 5 bps\n"
    ) in result.output


def test_an_outcome_asset_without_a_symbol_is_told_to_set_its_token_id(
    replay_store: SnapshotStore,
):
    config = loads_config("venues: {pm: {exchange: polymarket}}\nassets: {TRUMP_YES: {venue: pm}}")
    with pytest.raises(DataNotFound) as info:
        Bars.load(replay_store, "TRUMP_YES", 86_400, config.venues)
    assert str(info.value) == (
        "TRUMP_YES trades on a Polymarket venue without a symbol: set its outcome's CLOB token "
        "id (Gamma's clobTokenIds) in the config: assets: TRUMP_YES: {venue: ..., symbol: "
        '"TOKEN_ID"}'
    )


def test_an_outcome_as_the_benchmark_is_named_by_its_asset_not_its_token(
    replay_store: SnapshotStore, config: Config, tmp_path: Path
):
    study = run_study(
        load(STRATEGY), store=replay_store, start=utc("2024-11-01"), end=utc("2024-12-31"),
        out_dir=tmp_path, config=config, benchmark="TRUMP_YES",
    )  # fmt: skip
    assert study.benchmark is not None and study.benchmark.symbol == "TRUMP_YES"
    assert YES not in " ".join(method_lines(study))


def test_a_gap_shock_on_an_outcome_says_a_prediction_jump_moves_it(
    replay_store: SnapshotStore, config: Config
):
    shock = Gap("TRUMP_YES", utc("2024-11-10"), -20)
    assert not_applicable(load(STRATEGY), shock, replay_store, config) == (
        "TRUMP_YES is a Polymarket outcome, without candles to gap (a prediction_jump shock "
        "moves its prices)"
    )


def test_each_asset_footer_of_a_coin_beside_an_outcome_names_both_fills_and_currencies(
    replay_dir: Path, tmp_path: Path
):
    mixed = tmp_path / "mixed.yaml"
    text = STRATEGY.read_text(encoding="utf-8").replace('["TRUMP_YES"]', '["BTC", "TRUMP_YES"]')
    mixed.write_text(text, encoding="utf-8")
    period = "2024-11-03..2025-01-20"
    result = backtest_command(replay_dir, tmp_path, period, "--each-asset", strategy=mixed)
    assert result.exit_code == 0, result.output
    # BTC's account is in USDT, TRUMP_YES's in USDC: no one currency for both, each its own.
    assert (
        "each asset alone: starting cash 10,000.00 in its own currency (USDT: BTC; USDC: "
        "TRUMP_YES); fills at the next bar's open (TRUMP_YES: at the last recorded price at or "
        "before each decision), fee 10 bps, slippage 5 bps\n"
    ) in result.output


def test_a_prediction_jump_on_the_traded_outcome_moves_its_fills_and_the_footer_says_so(
    replay_dir: Path, tmp_path: Path
):
    (tmp_path / "signalops.yaml").write_text(CONFIG_TEXT, encoding="utf-8")
    scenario = tmp_path / "collapse.yaml"
    scenario.write_text(
        "name: collapse\nfrom: 2024-11-05\nto: 2024-11-30\nshocks:\n"
        '  - prediction_jump: {market: "511754", at: 2024-11-08, to: 0.20}\n',
        encoding="utf-8",
    )
    args = [
        "stress", str(STRATEGY), "--data", str(replay_dir), "--config",
        str(tmp_path / "signalops.yaml"), "--scenario", str(scenario), "--report", str(tmp_path),
    ]  # fmt: skip
    result = CliRunner().invoke(cli, args, prog_name="signalops")
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if line.startswith("collapse "))
    assert "-3.18%" in row  # held YES bought at ~0.54 through the jump to 0.20
    assert "PnL: end equity (positions marked at the last close or recorded price) minus" in (
        result.stdout
    )
