"""Stress scenarios: shocks with known answers, no look-ahead, and the same pipeline as backtests.

Every scenario runs ``run_backtest`` on the bundled data (the session's import) with its shocks
applied to what the run reads. The tests hold each shock to its definition:

- a gap of X% at t: every candle opening at or after t is (1 + X/100) times the recorded one, one
  that opens before t and closes after it keeps its open, and the backtest's fills and marks use
  those candles;
- an outage of N hours: exactly the decisions taken in that span fail closed, their leaves
  UNKNOWN with CONNECTION_ERROR;
- a venue rejecting orders: every order placed in the span is rejected (ORDER_REJECTED), none
  filled, where the unshocked run filled them;
- a prediction-market jump: the market reads the new price from t on, the other outcome its
  complement;

and to no look-ahead: a shock at t leaves every record before t as the unshocked run wrote it,
hash for hash. The fast engine and the pipeline engine write the same log under shocks too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, STRATEGIES
from log_contents import log_contents

from signalops.adapters import registry
from signalops.adapters.snapshots import SnapshotStore
from signalops.audit.expand import expanded
from signalops.audit.queries import records_of_kind
from signalops.audit.store import AuditLog
from signalops.backtest.runner import run_backtest
from signalops.config import Config, load_config, loads_config
from signalops.errors import InputError, StrategyError
from signalops.strategy import load, loads
from signalops.stress import (
    Gap,
    Outage,
    PredictionJump,
    Scenario,
    VenueRejects,
    bundled_scenarios,
    loads_scenario,
    run_scenario,
    run_stress,
    select,
)
from signalops.stress.scenario_backtests import NOT_APPLICABLE, NOT_COVERED, skip_reason
from signalops.stress.shocks import shocked_store

BANKING = STRATEGIES / "banking_crisis_dip.yaml"
ELECTION = STRATEGIES / "election_odds_gate.yaml"
MARCH_2023 = (datetime(2023, 3, 1, tzinfo=UTC), datetime(2023, 3, 31, tzinfo=UTC))
CRISIS = datetime(2023, 3, 10, tzinfo=UTC)  # the day the crisis dip strategy first buys
HOURLY_RSI = """
strategy:
  name: "Hourly_RSI"
  assets: ["BTC"]
  defaults:
    params:
      timeframe: 1h
  rules:
    - id: oversold
      source: technical
      conditions:
        - when: "rsi(14) < 30"
  execution:
    position_size: 0.05
    action_mode: paper
"""


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def banking() -> Any:
    return load(BANKING, registry.catalogue())


def march(name: str, *shocks: Any, every: timedelta | None = None) -> Scenario:
    return Scenario(name, *MARCH_2023, shocks=tuple(shocks), every=every)


def decision_records(path: Path) -> list[dict[str, Any]]:
    log = AuditLog.open_readonly(path)
    try:
        return [expanded(r, log) for r in records_of_kind(log, "decision")]
    finally:
        log.close()


def chain(path: Path) -> list[tuple[datetime, dict[str, Any]]]:
    """Every decision and fill record in chain order, with the decision time it belongs to."""
    log = AuditLog.open_readonly(path)
    try:
        records = records_of_kind(log, "decision", "fill")
    finally:
        log.close()
    decided: dict[str, datetime] = {}
    found = []
    for record in records:
        if record["kind"] == "decision":
            decided[record["decision_id"]] = utc(record["as_of"].rstrip("Z"))
        found.append((decided[record["decision_id"]], dict(record)))
    return found


def before(path: Path, moment: datetime) -> list[dict[str, Any]]:
    return [record for at, record in chain(path) if at < moment]


@pytest.fixture(scope="module")
def unshocked(replay_store: SnapshotStore, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The crisis dip strategy over March 2023 as recorded (the base of the synthetic shocks)."""
    out = tmp_path_factory.mktemp("unshocked")
    return run_scenario(banking(), march("as_recorded"), store=replay_store, out_dir=out)


# --- scenario files ----------------------------------------------------------------------------


def test_the_bundled_scenarios_are_the_four_crises_then_the_synthetic_shocks():
    found = bundled_scenarios()
    historical = [s for s in found if not s.shocks]
    assert [(s.name, s.start.date().isoformat(), s.end.date().isoformat()) for s in historical] == [
        ("covid_crash_2020-03", "2020-03-01", "2020-03-31"),
        ("terra_luna_2022-05", "2022-05-01", "2022-05-31"),
        ("ftx_collapse_2022-11", "2022-11-01", "2022-11-30"),
        ("banking_crisis_2023-03", "2023-03-01", "2023-03-31"),
    ]
    assert found[: len(historical)] == historical
    kinds = {type(shock) for s in found for shock in s.shocks}
    assert kinds == {Gap, Outage, PredictionJump, VenueRejects}


def test_a_scenario_file_reads_into_its_shocks():
    scenario = loads_scenario(
        "name: mixed\nfrom: 2023-03-01\nto: 2023-03-31T12:00:00Z\nevery: 12h\nshocks:\n"
        "  - gap: {asset: BTC, at: 2023-03-11, pct: -20}\n"
        "  - prediction_jump: {market: 511754, at: '2023-03-12T06:00:00+02:00', to: 0.9}\n"
        "  - outage: {source: onchain, from: 2023-03-10, hours: 36}\n"
        "  - venue_rejects: {from: 2023-03-13, hours: 1.5}\n",
        "mixed.yaml",
    )
    assert scenario.end == datetime(2023, 3, 31, 12, tzinfo=UTC)
    assert scenario.every == timedelta(hours=12)
    assert scenario.shocks == (
        Gap("BTC", datetime(2023, 3, 11, tzinfo=UTC), -20.0),
        PredictionJump("511754", datetime(2023, 3, 12, 4, tzinfo=UTC), 0.9, "yes"),
        Outage("onchain", datetime(2023, 3, 10, tzinfo=UTC), 36.0),
        VenueRejects(datetime(2023, 3, 13, tzinfo=UTC), 1.5),
    )
    assert scenario.shocks[2].end == datetime(2023, 3, 11, 12, tzinfo=UTC)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            "name: x\nfrom: 2023-03-01\nto: 2023-03-31\nshoks: []\n",
            "bad.yaml:4:1: unknown key 'shoks' (did you mean 'shocks'?)",
        ),
        (
            "name: x\nfrom: 2023-03-01\nto: 2023-03-31\nshocks:\n  - gap: {asset: BTC, at: "
            "2023-04-02, pct: -20}\n",
            "bad.yaml:5:27: shocks[0].gap.at: 2023-04-02T00:00:00Z is outside the scenario's "
            "window (2023-03-01T00:00:00Z to 2023-03-31T00:00:00Z)",
        ),
        (
            "name: x\nfrom: 2023-03-01\nto: 2023-03-31\nshocks:\n  - gap: {asset: BTC, at: "
            "2023-03-02, pct: -120}\n",
            "bad.yaml:5:44: shocks[0].gap.pct: must be > -100, got -120",
        ),
        (
            "name: x\nfrom: 2023-03-01\nto: 2023-03-31\nshocks:\n  - outage: {source: onchian, "
            "from: 2023-03-02, hours: 4}\n",
            "bad.yaml:5:22: shocks[0].outage.source: no data source 'onchian' (did you mean "
            "'onchain'?)",
        ),
        (
            "name: x\nfrom: 2023-03-01\nto: 2023-02-30\n",
            "bad.yaml:3:5: to: '2023-02-30' is not a real date or time",
        ),
        (
            "name: x\nfrom: 2023-03-31\nto: 2023-03-01\n",
            "bad.yaml:3:5: to: the window ends (2023-03-01T00:00:00Z) before it starts "
            "(2023-03-31T00:00:00Z)",
        ),
        (
            "name: x\nfrom: 2023-03-01\nto: 2023-03-31\nshocks:\n  - gap: {asset: BTC, at: "
            "2023-03-02, pct: -20}\n    venue_rejects: {from: 2023-03-02, hours: 4}\n",
            "bad.yaml:6:5: shocks[0].venue_rejects: a shock is one of gap, prediction_jump, "
            "outage, venue_rejects: 'gap' and 'venue_rejects' here (give each its own list item)",
        ),
        ("from: 2023-03-01\nto: 2023-03-31\n", "bad.yaml:1:1: missing required key 'name'"),
    ],
)
def test_a_bad_scenario_file_is_an_error_at_its_line_and_column(text: str, error: str):
    with pytest.raises(StrategyError) as raised:
        loads_scenario(text, "bad.yaml")
    assert str(raised.value.errors[0]) == error


def test_a_scenario_is_chosen_by_name_or_file_and_a_wrong_name_gets_a_hint(tmp_path: Path):
    own = tmp_path / "own.yaml"
    own.write_text("name: own\nfrom: 2023-03-01\nto: 2023-03-02\n", encoding="utf-8")
    assert [s.name for s in select(["venue_rejects_48h", str(own)])] == [
        "venue_rejects_48h",
        "own",
    ]
    assert len(select([])) == len(bundled_scenarios())
    with pytest.raises(InputError, match=r"did you mean 'venue_rejects_48h'\?"):
        select(["venue_reject_48h"])
    with pytest.raises(InputError, match="chosen twice"):
        select(["venue_rejects_48h", "venue_rejects_48h"])


# --- skipped scenarios -------------------------------------------------------------------------


def test_a_window_the_data_does_not_cover_is_skipped_with_the_reason(
    replay_store: SnapshotStore, tmp_path: Path
):
    hourly = loads(HOURLY_RSI, "hourly.yaml", registry.catalogue())
    covid, banking_crisis = select(["covid_crash_2020-03", "banking_crisis_2023-03"])
    report = run_stress(hourly, [covid], store=replay_store, out_dir=tmp_path)
    (run,) = report.runs
    assert run.result is None
    assert run.skipped == (
        f"{NOT_COVERED}: the 1h BTC candles run from 2020-10-07 19:00 to 2025-10-06 18:00, the "
        "window is 2020-03-01 to 2020-03-31"
    )
    assert not (tmp_path / covid.name).exists()
    # The daily candles go back to 2017: the same window runs for a daily strategy.
    daily = run_stress(banking(), [covid], store=replay_store, out_dir=tmp_path).runs[0]
    assert daily.skipped is None and daily.result is not None
    assert banking_crisis.start == MARCH_2023[0]


def test_shocks_that_touch_nothing_the_strategy_reads_are_not_applicable(
    replay_store: SnapshotStore, tmp_path: Path
):
    scenario = march(
        "elsewhere",
        Gap("ETH", CRISIS, -20),
        Outage("news", CRISIS, 4),
        PredictionJump("511754", CRISIS, 0.9),
    )
    (run,) = run_stress(banking(), [scenario], store=replay_store, out_dir=tmp_path).runs
    assert run.skipped == (
        f"{NOT_APPLICABLE}: Banking_Crisis_Dip does not trade ETH (it trades BTC); "
        "Banking_Crisis_Dip reads no news data; Banking_Crisis_Dip reads no polymarket data"
    )


# --- known answers -----------------------------------------------------------------------------


def test_a_gap_scales_every_candle_closing_after_it_exactly(replay_store: SnapshotStore):
    at = datetime(2023, 3, 11, tzinfo=UTC)
    shocked = shocked_store(replay_store, [Gap("BTC", at, -20)], Config().venues)
    for timeframe in ("1d", "1h"):
        key = f"candles/binance/BTC/USDT/{timeframe}"
        recorded, gapped = replay_store.series("technical", key), shocked.series("technical", key)
        assert recorded is not None and gapped is not None
        assert gapped.times == recorded.times
        first = recorded.end(at.timestamp())  # the first candle closing after the gap
        assert gapped.values[:first] == recorded.values[:first]
        for old, new in zip(recorded.values[first:], gapped.values[first:], strict=True):
            assert new[:4] == [price * (1 - 0.20) for price in old[:4]]
            assert new[4] == old[4]  # volume
    eth = "candles/binance/ETH/USDT/1d"
    assert shocked.series("technical", eth) is replay_store.series("technical", eth)


def test_a_gap_is_what_the_backtest_fills_and_marks_at(
    replay_store: SnapshotStore, unshocked: Any, tmp_path: Path
):
    at = datetime(2023, 3, 11, tzinfo=UTC)
    run = run_scenario(
        banking(), march("gap", Gap("BTC", at, -20)), store=replay_store, out_dir=tmp_path
    )
    base, shocked = unshocked.result.prices["BTC"], run.result.prices["BTC"]
    after = base.close_time > at.timestamp()
    assert (shocked.close[after] == base.close[after] * 0.8).all()
    assert (shocked.close[~after] == base.close[~after]).all()
    # The order decided at the gap fills at the open of the next bar: the gapped one.
    filled = {leg.decided_at: leg for leg in run.result.legs}
    was = {leg.decided_at: leg for leg in unshocked.result.legs}
    assert filled[at].filled_at == was[at].filled_at == at
    open_after = shocked.next_open(at)[0]
    assert open_after == Decimal(str(float(base.open[after][0]) * 0.8))
    assert filled[at].price == open_after * (1 + run.result.paper.slippage_bps / Decimal(10_000))


def test_a_gap_inside_a_candle_keeps_its_open_and_scales_what_trades_after_it(
    replay_store: SnapshotStore,
):
    at = utc("2023-03-11T23:00")  # inside the daily candle of 03-11, at an hourly one's open
    shocked = shocked_store(replay_store, [Gap("BTC", at, -20)], Config().venues)
    daily = shocked.series("technical", "candles/binance/BTC/USDT/1d")
    hourly = shocked.series("technical", "candles/binance/BTC/USDT/1h")
    assert daily is not None and hourly is not None
    day = daily.times.index(utc("2023-03-12").timestamp())  # the candle the gap falls in
    assert daily.values[day - 1][:4] == [20_362.21, 20_367.78, 19_549.09, 20_150.69]  # as recorded
    # Its open traded before the gap and stays; its close is the gapped one; its range holds
    # the recorded one (the hourly candles before 23:00 reach 20,686.51) and the gapped one.
    assert daily.values[day][:4] == [20_150.69, 20_686.51, 19_765.03 * 0.8, 20_455.73 * 0.8]
    assert daily.values[day + 1][:4] == [
        p * 0.8 for p in (20_455.73, 22_150.0, 20_270.6, 21_997.11)
    ]
    hour = hourly.times.index(at.timestamp())  # the hourly candle closing at the gap: recorded
    assert hourly.values[hour][:4] == [20_353.91, 20_450.0, 20_300.0, 20_333.55]
    assert hourly.values[hour + 1][:4] == [
        p * 0.8 for p in (20_332.53, 20_529.91, 20_330.41, 20_455.73)
    ]


def test_a_stock_gap_before_a_session_opens_gaps_that_session_s_open(replay_store: SnapshotStore):
    config = load_config(ROOT / "examples" / "signalops.equities.yaml")
    key = "candles/yfinance/AAPL/1d"  # Monday 2022-01-10's bar: 14:30 to 21:00 UTC
    monday = [169.08, 172.5, 168.17, 172.19]
    recorded = replay_store.series("technical", key)
    assert recorded is not None
    day = recorded.times.index(utc("2022-01-10T21:00").timestamp())
    assert recorded.values[day][:4] == monday
    overnight = shocked_store(replay_store, [Gap("AAPL", utc("2022-01-10"), -20)], config.venues)
    gapped = overnight.series("technical", key)
    assert gapped is not None and gapped.values[day][:4] == [p * 0.8 for p in monday]
    midday = shocked_store(replay_store, [Gap("AAPL", utc("2022-01-10T16:00"), -20)], config.venues)
    gapped = midday.series("technical", key)
    assert gapped is not None and gapped.values[day][:4] == [
        169.08,
        172.5,  # the recorded high: it may have traded before 16:00
        168.17 * 0.8,
        172.19 * 0.8,
    ]


def test_an_order_decided_before_a_gap_inside_its_bar_fills_at_the_recorded_open(
    replay_store: SnapshotStore, unshocked: Any, tmp_path: Path
):
    at = utc("2023-03-11T23:00")
    run = run_scenario(
        banking(), march("late_gap", Gap("BTC", at, -20)), store=replay_store, out_dir=tmp_path
    )
    # The BUY decided at 03-11 00:00 fills at that day's open, 23 hours before the gap, as the
    # unshocked run's did; the SELL comes later and lower, at 03-20's gapped open.
    legs = [(leg.decided_at, leg.side.value, leg.price) for leg in run.result.legs]
    assert legs == [
        (utc("2023-03-10"), "BUY", Decimal("20372.391105")),
        (utc("2023-03-11"), "BUY", Decimal("20160.765345")),
        (utc("2023-03-20"), "SELL", Decimal("22367.1068520000019990")),
    ]
    assert [leg.price for leg in unshocked.result.legs[:2]] == [price for _, _, price in legs[:2]]
    assert round(run.pnl, 2) == Decimal("101.59")  # 187.04 unshocked
    assert before(run.result.audit_path, at) == before(unshocked.result.audit_path, at)


def test_an_outage_makes_exactly_the_decisions_in_its_span_fail_closed(
    replay_store: SnapshotStore, tmp_path: Path
):
    outage = Outage("technical", CRISIS, 36)  # decided every 12h: 03-10 00:00, 12:00, 03-11 00:00
    every = timedelta(hours=12)
    base = run_scenario(banking(), march("base", every=every), store=replay_store, out_dir=tmp_path)
    run = run_scenario(
        banking(), march("outage", outage, every=every), store=replay_store, out_dir=tmp_path
    )
    assert base.outcomes is not None and run.outcomes is not None
    assert base.outcomes.failed_closed == ()
    records = decision_records(run.result.audit_path)
    inside = [r for r in records if outage.covers(utc(r["as_of"].rstrip("Z")))]
    assert [r["as_of"] for r in inside] == [
        "2023-03-10T00:00:00Z",
        "2023-03-10T12:00:00Z",
        "2023-03-11T00:00:00Z",
    ]
    assert run.outcomes.failed_closed == tuple(r["decision_id"] for r in inside)
    for record in inside:
        assert record["verdict"] == "HOLD"
        leaves = record["trace"]["leaves"]
        technical = [leaf for leaf in leaves if leaf["source"] == "technical"]
        assert technical and all(leaf["status"] == "UNKNOWN" for leaf in technical)
        assert all(
            reading["error"].startswith("CONNECTION_ERROR: technical could not be reached")
            for leaf in technical
            for reading in leaf["readings"]
        )
    assert run.outcomes.unknown_leaves == {"CONNECTION_ERROR": 3 * len(inside)}


def test_an_onchain_outage_blocks_the_buys_in_its_span_fail_closed(
    replay_store: SnapshotStore, unshocked: Any, tmp_path: Path
):
    outage = Outage("onchain", CRISIS, 48)
    run = run_scenario(banking(), march("onchain", outage), store=replay_store, out_dir=tmp_path)
    bought = [d for d in unshocked.result.decisions if d.verdict == "BUY"]
    assert [d.as_of for d in bought] == [CRISIS, CRISIS + timedelta(days=1)]  # both in the span
    blocked = [d for d in run.result.decisions if d.verdict == "BLOCKED"]
    assert [(d.as_of, d.blocked_by) for d in blocked] == [
        (d.as_of, ("usdc_outflow",)) for d in bought
    ]
    assert run.outcomes.failed_closed == tuple(d.decision_id for d in blocked)
    assert run.outcomes.filled == 0


def test_a_venue_rejecting_orders_rejects_every_order_in_its_span_and_fills_none(
    replay_store: SnapshotStore, unshocked: Any, tmp_path: Path
):
    span = VenueRejects(CRISIS, 48)
    run = run_scenario(banking(), march("rejects", span), store=replay_store, out_dir=tmp_path)
    ordered = [
        d for d in unshocked.result.decisions if d.status == "FILLED" and span.covers(d.as_of)
    ]
    assert len(ordered) == 2  # the unshocked run filled two orders in the span
    records = decision_records(run.result.audit_path)
    placed = [r for r in records if r.get("order") and span.covers(utc(r["as_of"].rstrip("Z")))]
    assert [r["decision_id"] for r in placed] == [d.decision_id for d in ordered]
    for record in placed:
        assert record["execution"]["status"] == "FAILED"
        assert record["execution"]["details"]["reason"] == "ORDER_REJECTED"
    assert not [leg for leg in run.result.legs if span.covers(leg.decided_at)]
    assert run.outcomes.rejected == 2 and run.outcomes.rejections == {"ORDER_REJECTED": 2}
    # Outside the span the venue takes orders as before (nothing left to sell: NO_POSITION).
    assert all(
        r["execution"]["status"] != "FAILED"
        for r in records
        if not span.covers(utc(r["as_of"].rstrip("Z")))
    )


def test_a_prediction_market_jump_is_the_price_the_strategy_reads_from_then_on(
    replay_store: SnapshotStore, tmp_path: Path
):
    jump = PredictionJump("511754", datetime(2024, 11, 8, tzinfo=UTC), 0.2)
    shocked = shocked_store(replay_store, [jump], Config().venues)
    recorded = replay_store.series("polymarket", "prices/511754/yes")
    moved, other = (shocked.series("polymarket", f"prices/511754/{o}") for o in ("yes", "no"))
    assert recorded is not None and moved is not None and other is not None
    at = jump.at.timestamp()
    first = recorded.end(at - 1)
    assert moved.values[:first] == recorded.values[:first]
    assert moved.times[first] == at
    assert set(moved.values[first:]) == {0.2} and set(other.values[other.end(at - 1) :]) == {0.8}
    strategy = load(ELECTION, registry.catalogue())
    window = (utc("2024-11-01"), utc("2024-11-30"))
    base = run_scenario(strategy, Scenario("base", *window), store=replay_store, out_dir=tmp_path)
    run = run_scenario(
        strategy, Scenario("odds", *window, (jump,)), store=replay_store, out_dir=tmp_path
    )
    after = [r for r in decision_records(run.result.audit_path) if r["as_of"] >= "2024-11-08"]
    assert len(after) == 23
    for record in after:
        (market,) = [o for o in record["observations"] if o["source"] == "polymarket"]
        assert market["value"] == 0.2
    # The election veto (odds below 0.5) now blocks what the recorded odds let through.
    bought = [d for d in base.result.decisions if d.as_of >= jump.at and d.verdict == "BUY"]
    assert bought
    shocked = {d.as_of: d for d in run.result.decisions}
    for decision in bought:
        assert shocked[decision.as_of].verdict == "BLOCKED"
        assert shocked[decision.as_of].blocked_by == ("election_odds",)
    assert run.example() == shocked[min(d.as_of for d in bought)].decision_id


def test_breakers_are_not_run_but_say_where_they_would_have_tripped(
    replay_store: SnapshotStore, tmp_path: Path
):
    config = loads_config("breakers: {max_consecutive_rejects: 2}\n")
    scenario = march("rejects", VenueRejects(CRISIS, 48))
    run = run_scenario(banking(), scenario, store=replay_store, out_dir=tmp_path, config=config)
    assert run.breakers.configured and run.breakers.tripped
    assert (run.breakers.trigger, run.breakers.at) == (
        "max_consecutive_rejects",
        "2023-03-11T00:00:00Z",
    )
    # Not enforced: the run went on, and later decisions were not denied TRADING_STATE.
    assert "TRADING_STATE" not in run.outcomes.denials
    plain = run_scenario(banking(), scenario, store=replay_store, out_dir=tmp_path / "none")
    assert not plain.breakers.configured


# --- look-ahead and parity ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "shock",
    [
        Gap("BTC", CRISIS, -20),
        Outage("technical", CRISIS, 24),
        Outage("onchain", CRISIS, 48),
        VenueRejects(CRISIS, 48),
    ],
    ids=["gap", "technical_outage", "onchain_outage", "venue_rejects"],
)
def test_a_shock_at_t_changes_no_record_before_t(
    shock: Any, replay_store: SnapshotStore, unshocked: Any, tmp_path: Path
):
    run = run_scenario(banking(), march("shocked", shock), store=replay_store, out_dir=tmp_path)
    earlier = before(unshocked.result.audit_path, CRISIS)
    assert len(earlier) == 9  # the decisions of 03-01 .. 03-09
    assert before(run.result.audit_path, CRISIS) == earlier  # hashes included
    assert [d for d in run.result.decisions if d.as_of < CRISIS] == [
        d for d in unshocked.result.decisions if d.as_of < CRISIS
    ]
    assert chain(run.result.audit_path) != chain(unshocked.result.audit_path)  # it did act


def test_a_prediction_jump_changes_no_record_before_it(replay_store: SnapshotStore, tmp_path: Path):
    strategy = load(ELECTION, registry.catalogue())
    jump = PredictionJump("511754", datetime(2024, 11, 8, tzinfo=UTC), 0.2)
    window = (utc("2024-11-01"), utc("2024-11-30"))
    base = run_scenario(strategy, Scenario("base", *window), store=replay_store, out_dir=tmp_path)
    run = run_scenario(
        strategy, Scenario("odds", *window, (jump,)), store=replay_store, out_dir=tmp_path
    )
    earlier = before(base.result.audit_path, jump.at)
    assert earlier and before(run.result.audit_path, jump.at) == earlier
    assert chain(run.result.audit_path) != chain(base.result.audit_path)


@pytest.mark.parametrize(
    "shocks",
    [
        (VenueRejects(CRISIS, 48),),
        (Outage("technical", CRISIS, 24), Gap("BTC", CRISIS + timedelta(days=2), -20)),
        (Gap("BTC", CRISIS + timedelta(hours=23), -20),),
    ],
    ids=["venue_rejects", "outage_and_gap", "gap_inside_a_candle"],
)
def test_the_fast_and_pipeline_engines_write_the_same_log_under_shocks(
    shocks: tuple[Any, ...], replay_store: SnapshotStore, tmp_path: Path
):
    scenario = march("parity", *shocks)
    fast = run_scenario(banking(), scenario, store=replay_store, out_dir=tmp_path / "fast")
    slow = run_scenario(
        banking(), scenario, store=replay_store, out_dir=tmp_path / "slow", engine="pipeline"
    )
    assert log_contents(fast.result.audit_path) == log_contents(slow.result.audit_path)
    assert fast.outcomes == slow.outcomes
    assert fast.result.equity == slow.result.equity


def test_without_shocks_a_scenario_is_the_plain_backtest(
    replay_store: SnapshotStore, unshocked: Any, tmp_path: Path
):
    plain = run_backtest(banking(), store=replay_store, start=MARCH_2023[0], end=MARCH_2023[1],
                         out_dir=tmp_path)  # fmt: skip
    assert log_contents(plain.audit_path) == log_contents(unshocked.result.audit_path)
    assert plain.decisions == unshocked.result.decisions
    assert plain.equity == unshocked.result.equity
    assert unshocked.pnl == plain.metrics.end_equity - plain.paper.starting_cash


def test_a_stock_window_in_which_no_session_opens_is_skipped_as_not_covered(
    replay_store: SnapshotStore, tmp_path: Path
):
    strategy = load(ROOT / "tests" / "fixtures" / "aapl_trend.yaml", registry.catalogue())
    config = load_config(ROOT / "examples" / "signalops.equities.yaml")
    friday_evening = datetime(2022, 1, 7, 22, tzinfo=UTC)  # after the close, before a weekend
    weekend = Scenario("weekend", friday_evening, friday_evening + timedelta(days=1))
    why = skip_reason(strategy, weekend, replay_store, config)
    assert why == (
        f"{NOT_COVERED}: no US equity session opens from 2022-01-07 22:00 to 2022-01-09 22:00: "
        "AAPL cannot be traded in it"
    )
    week = Scenario("week", friday_evening, friday_evening + timedelta(days=3))
    assert skip_reason(strategy, week, replay_store, config) is None
