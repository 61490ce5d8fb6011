"""Strategies from strategies/ evaluated through the replay adapters on the bundled real data.

Expected values are computed here straight from the raw bundled files (TA-Lib on the CSV closes,
differences of the CSV supply column), independently of the adapters under test.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import talib
from conftest import DATA, STRATEGIES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signalops.adapters import gather as engine
from signalops.evaluation.nodes import Status
from signalops.evaluation.tree import Verdict
from signalops.observation import Observation
from signalops.strategy import load


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def btc_daily_closes_through(day: str) -> np.ndarray:
    """Closes of the daily candles up to and including ``day``, oldest first, from the raw CSV."""
    with (DATA / "ohlcv" / "Binance_BTCUSDT_d.csv").open() as handle:
        next(handle)  # URL banner
        rows = [r for r in csv.DictReader(handle) if r["Date"] <= day]
    return np.array([float(r["Close"]) for r in reversed(rows)])


def usdc_supply(day: str) -> float:
    with (DATA / "defillama" / "stablecoin_supply_daily_by_coin_2017-11_2025-08.csv").open() as f:
        for row in csv.DictReader(f):
            if row["Date"] == day:
                return float(row["USDC"])
    raise LookupError(day)


def leaf(evaluation, text: str) -> dict:
    leaves = [x for x in evaluation.to_dict()["leaves"] if x["text"] == text]
    assert leaves, f"no leaf {text!r}"
    return leaves[0]


def test_banking_crisis_on_2023_03_10_shows_real_rsi_and_usdc_flow(replay_adapters):
    strategy = load(STRATEGIES / "banking_crisis_dip.yaml")
    # Decide at the end of 2023-03-10: the daily candle of the 10th has just closed.
    evaluation = engine.evaluate(strategy, "BTC", at("2023-03-11T00:00:00"), replay_adapters)

    rsi = leaf(evaluation, "rsi(14) < 30")
    expected_rsi = talib.RSI(btc_daily_closes_through("2023-03-10"), timeperiod=14)[-1]
    assert rsi["value"] == pytest.approx(expected_rsi, abs=1e-6)
    assert rsi["value"] == pytest.approx(28.242, abs=1e-3)
    assert rsi["data_timestamp"] == "2023-03-11T00:00:00Z"
    assert rsi["status"] == "PASS"

    flow = leaf(evaluation, "stablecoin_net_flow('USDC', 2d) < -1B")
    assert flow["value"] == pytest.approx(usdc_supply("2023-03-10") - usdc_supply("2023-03-08"))
    assert flow["data_timestamp"] == "2023-03-11T00:00:00Z"
    assert flow["status"] == "FAIL"  # the run on USDC shows in the data only from the 11th
    assert evaluation.verdict is Verdict.BUY


def test_banking_crisis_veto_sees_the_usdc_depeg_by_2023_03_13(replay_adapters):
    strategy = load(STRATEGIES / "banking_crisis_dip.yaml")
    evaluation = engine.evaluate(strategy, "BTC", at("2023-03-13T00:00:00"), replay_adapters)

    flow = leaf(evaluation, "stablecoin_net_flow('USDC', 2d) < -1B")
    # USDC 43.18B on 03-10 -> 39.08B on 03-12: about -4.1B in two days.
    assert flow["value"] == pytest.approx(usdc_supply("2023-03-12") - usdc_supply("2023-03-10"))
    assert flow["value"] == pytest.approx(-4.098e9, rel=1e-3)
    assert flow["status"] == "PASS"
    assert evaluation.trace.status(strategy.tree.vetoes[0].node) is Status.PASS
    # By then RSI has recovered above 30, so there is no BUY to block: HOLD.
    assert leaf(evaluation, "rsi(14) < 30")["status"] == "FAIL"
    assert evaluation.verdict is Verdict.HOLD


def test_technical_baseline_buys_the_same_dip_without_a_veto(replay_adapters):
    strategy = load(STRATEGIES / "technical_baseline.yaml")
    evaluation = engine.evaluate(strategy, "BTC", at("2023-03-11T00:00:00"), replay_adapters)
    assert evaluation.verdict is Verdict.BUY
    assert evaluation.to_dict()["triggers_met"][0]["metric"] == "rsi"


def test_election_gate_reads_the_inauguration_market_after_election_day(replay_adapters):
    strategy = load(STRATEGIES / "election_odds_gate.yaml")
    before = engine.evaluate(strategy, "BTC", at("2024-11-05T00:00:00"), replay_adapters)
    after = engine.evaluate(strategy, "BTC", at("2024-11-08T00:00:00"), replay_adapters)

    odds_before = leaf(before, "polymarket('511754').yes < 0.5")
    odds_after = leaf(after, "polymarket('511754').yes < 0.5")
    assert odds_before["market"] == "511754"
    assert 0 < odds_before["value"] < 1
    assert odds_after["value"] == pytest.approx(0.9595)
    assert odds_after["status"] == "FAIL"  # the market no longer doubts it: the veto is clear


def test_election_veto_blocks_before_the_market_has_any_price(replay_adapters):
    strategy = load(STRATEGIES / "election_odds_gate.yaml")
    # Market 511754 opened on 2024-11-01; its first recorded price is dated 2024-11-03.
    evaluation = engine.evaluate(strategy, "BTC", at("2024-11-01T00:00:00"), replay_adapters)
    odds = leaf(evaluation, "polymarket('511754').yes < 0.5")
    assert odds["status"] == "UNKNOWN"
    assert odds["readings"][0]["error"].startswith("NO_DATA: ")
    veto = evaluation.trace.status(strategy.tree.vetoes[0].node)
    assert veto is Status.UNKNOWN  # fail closed: an unknown veto would block a BUY
    assert evaluation.verdict is not Verdict.BUY


def test_value_screen_reads_the_recorded_yahoo_snapshot_and_fails_closed_before_it(
    replay_adapters,
):
    # AMZN has only the Yahoo snapshot (no SEC facts bundled), so replay answers from it.
    strategy = load(STRATEGIES / "value_screen.yaml")
    recorded = engine.evaluate(strategy, "AMZN", at("2025-02-25T00:00:00"), replay_adapters)
    earlier = engine.evaluate(strategy, "AMZN", at("2024-06-01T00:00:00"), replay_adapters)

    assert leaf(recorded, "price_to_book < 3")["value"] == pytest.approx(8.02267, abs=1e-5)
    assert leaf(recorded, "price_to_book < 3")["data_timestamp"] == "2025-02-24T09:35:00Z"
    # Nothing was recorded before 2025-02-24: no guess, the leaves are UNKNOWN and nothing trades.
    assert all(x["status"] == "UNKNOWN" for x in earlier.to_dict()["leaves"])
    assert earlier.verdict is Verdict.HOLD


def test_value_screen_of_a_company_with_sec_facts_answers_point_in_time_not_from_yahoo(
    replay_adapters,
):
    strategy = load(STRATEGIES / "value_screen.yaml")
    evaluation = engine.evaluate(strategy, "AAPL", at("2025-02-25T00:00:00"), replay_adapters)

    # The last bundled AAPL close (2024-12-31) over the latest filed book value per share, not
    # Yahoo's 55.33 of 2025-02-24.
    assert leaf(evaluation, "price_to_book < 3")["value"] == pytest.approx(56.35, abs=0.01)


def test_crypto_asset_in_a_fundamental_rule_is_unknown_not_applicable(replay_adapters):
    strategy = load(DATA.parents[1] / "tests" / "fixtures" / "original_readme.yaml")
    evaluation = engine.evaluate(strategy, "BTC", at("2025-02-25T00:00:00"), replay_adapters)
    screen = leaf(evaluation, "price_to_sales < 3")
    assert screen["status"] == "UNKNOWN"
    assert "NOT_APPLICABLE" in screen["readings"][0]["error"]
    assert evaluation.verdict is Verdict.HOLD


STRATEGY_FILES = sorted(STRATEGIES.glob("*.yaml"))
START, END = at("2017-09-01T00:00:00"), at("2026-10-01T00:00:00")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from(STRATEGY_FILES),
    seconds=st.integers(0, int((END - START).total_seconds())),
)
def test_no_replayed_observation_is_ever_dated_after_as_of(replay_adapters, path, seconds):
    strategy = load(path)
    as_of = START + timedelta(seconds=seconds)
    for asset in strategy.assets:
        evaluation = engine.evaluate(strategy, asset, as_of, replay_adapters)
        for observation in evaluation.observations:
            if isinstance(observation, Observation):
                assert observation.as_of <= as_of, (path.name, asset, observation)
