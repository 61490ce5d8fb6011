"""The price and indicator chart of a decision (``signalops.dashboard.charts`` and ``figures``),
on records of real runs and the candles of the bundled replay data.

The indicator lines must be the engine's own numbers: at the decision's candle, the line holds
exactly the value the record holds, and the candles up to a decision do not depend on the
dashboard's clock (nothing after the decision leaks into what is drawn before it).
"""

# Fixtures come from dashboard_fixtures (see test_app.py for why not a conftest.py).
# ruff: noqa: F811

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import invoke
from dashboard_fixtures import (  # noqa: F401 - fixtures
    NOW,
    ROOT,
    audit_db,
    pending,
    prepared_template,
)

from signalops.adapters.snapshots import SnapshotStore
from signalops.adapters.technical import TechnicalAdapter
from signalops.audit.expand import expanded
from signalops.audit.store import AuditLog
from signalops.dashboard import charts, figures
from signalops.dashboard.api import parse_time

CLOCK = parse_time(NOW)  # five minutes after the pending ETH decision


@pytest.fixture(scope="module")
def source(replay_dir: Path) -> charts.CandleSource:
    """The replayed candles, through the technical adapter's own feeds."""
    feeds = TechnicalAdapter.replay(SnapshotStore(replay_dir)).feeds

    def candles(asset: str, timeframe: int, until: float, bars: int) -> Any:
        return feeds.feed_for(asset).candles(asset, timeframe, until, bars)

    return candles


def stored(db: Path, decision_id: str) -> dict[str, Any]:
    with AuditLog(db) as log:
        record = log.get(decision_id)
        assert record is not None
        return expanded(record, log)


def chart_of(record: dict[str, Any], source: charts.CandleSource, clock=CLOCK):
    plan = charts.plan(record)
    return charts.build(plan, charts.fetch(plan, source, clock), clock)


@pytest.fixture
def eth_buy(audit_db: Path, pending: tuple[str, str]) -> dict[str, Any]:
    """The ETH BUY waiting for approval: rsi(14) < 35 passed at 32.09, 2023-03-10 00:00."""
    return stored(audit_db, pending[1])


def test_the_rsi_line_meets_the_value_the_record_holds_at_the_decision(eth_buy, source):
    chart = chart_of(eth_buy, source)

    (pane,) = chart.panes
    (line,) = pane.lines
    decided = parse_time("2023-03-10T00:00:00Z")
    assert (pane.title, line.label) == ("rsi(14)", "rsi(14)")
    assert (line.recorded, line.recorded_at) == (32.08692224714193, decided)
    assert charts.values_at(line, decided) == line.recorded  # the same float, not a look-alike
    assert all(v is not None and 0 < v < 100 for v in line.values)


def test_the_thresholds_are_levels_with_the_status_each_condition_had(eth_buy, source):
    (pane,) = chart_of(eth_buy, source).panes

    assert [(lv.value, lv.condition, lv.status) for lv in pane.levels] == [
        (35.0, "rsi(14) < 35", "PASS"),
        (55.0, "rsi(14) > 55", "FAIL"),
    ]


def test_the_candles_end_with_the_one_the_decision_saw_at_its_price(eth_buy, source):
    chart = chart_of(eth_buy, source)

    assert len(chart.bars) == charts.SHOW_BARS
    assert chart.bars.close_time[-1] == chart.decided_at == parse_time("2023-03-10T00:00:00Z")
    assert chart.bars.close[-1] == chart.price == 1437.32  # the order's reference price
    assert (chart.asset, chart.action) == ("ETH", "BUY")
    assert chart.overlays == () and chart.problems == ()


def test_a_later_clock_adds_the_candles_after_the_decision_and_changes_none_before(eth_buy, source):
    now = chart_of(eth_buy, source)
    week = chart_of(eth_buy, source, clock=CLOCK + timedelta(days=7))
    month = chart_of(eth_buy, source, clock=CLOCK + timedelta(days=30))

    after = [t for t in week.bars.close_time if t > week.decided_at]
    assert len(after) == 7
    assert len([t for t in month.bars.close_time if t > month.decided_at]) == charts.AFTER_BARS
    before = len(now.bars)
    assert week.bars.close_time[-before - 7 : -7] == now.bars.close_time[-before:]
    assert week.bars.close[-before - 7 : -7] == now.bars.close[-before:]
    (line_now,), (line_week,) = (c.panes[0].lines for c in (now, week))
    assert line_week.values[-before - 7 : -7] == line_now.values[-before:]


def test_an_asset_without_recorded_candles_says_why(eth_buy, source):
    record = {**eth_buy, "asset": "DOGE"}
    plan = charts.plan(record)

    assert plan.indicators == ()  # the ETH observations are not DOGE's
    with pytest.raises(LookupError, match="no recorded 1d candles for DOGE/USDT on binance"):
        charts.build(plan, charts.fetch(plan, source, CLOCK), CLOCK)


@pytest.fixture(scope="module")
def event_filter_btc(replay_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A paper run of strategies/event_filter.yaml on 2023-03-09: rsi between 40 and 70,
    macd_hist > 0, volume_z(20) > 1.5 and close < bb_lower(20, 2), on BTC and ETH. Its
    Polymarket vetoes have no data that day: the run says so (exit 1) and records both HOLDs."""
    db = tmp_path_factory.mktemp("event-filter") / "audit.db"
    result = invoke(
        "run", str(ROOT / "strategies" / "event_filter.yaml"), "--mode", "paper",
        "--replay", str(replay_dir), "--from", "2023-03-09", "--audit", str(db),
    )  # fmt: skip
    assert "2 decisions: 2 HOLD" in result.stdout, result.output
    with AuditLog(db) as log:
        (record,) = log.decisions(asset="BTC")
        return expanded(record, log)


def test_averages_and_bands_go_over_the_price_and_the_rest_in_panes(event_filter_btc, source):
    chart = chart_of(event_filter_btc, source, clock=parse_time("2023-03-09T00:05:00Z"))

    assert [line.label for line in chart.overlays] == ["bb_lower(20, 2)"]
    panes = {pane.title: pane for pane in chart.panes}
    assert list(panes) == ["rsi(14)", "MACD", "volume_z(20)"]
    assert [lv.value for lv in panes["rsi(14)"].levels] == [40.0, 70.0]  # both bounds
    assert [lv.value for lv in panes["MACD"].levels] == [0.0]
    assert [lv.value for lv in panes["volume_z(20)"].levels] == [1.5]
    # close < bb_lower(20, 2) moves with the band: no constant level for it.
    assert chart.price_levels == ()
    for line in [*chart.overlays, *(ln for pane in chart.panes for ln in pane.lines)]:
        assert line.recorded is not None
        assert charts.values_at(line, chart.decided_at) == line.recorded, line.label


def test_the_figure_has_candles_the_lines_the_levels_and_the_decision(eth_buy, source):
    if not figures.available():
        pytest.skip("plotly is not installed")
    fig = figures.figure(chart_of(eth_buy, source), "USDT")

    traces = [(trace.type, trace.name) for trace in fig.data]
    assert traces == [
        ("candlestick", "ETH"),
        ("scatter", "BUY at 1,437.32 USDT"),
        ("scatter", "rsi(14)"),
        ("scatter", "rsi(14) = 32.09 in the record"),
    ]
    levels = [s.y0 for s in fig.layout.shapes if s.type == "line" and s.y0 == s.y1]
    assert sorted(levels) == [35.0, 55.0]
    decision = [s for s in fig.layout.shapes if s.type == "line" and s.x0 == s.x1]
    assert decision and str(decision[0].x0).startswith("2023-03-10")
    texts = [a.text for a in fig.layout.annotations]
    assert "decision 2023-03-10 00:00 UTC" in texts
    assert "rsi(14) < 35: PASS (35)" in texts
