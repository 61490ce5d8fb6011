"""The backtest report's page and charts: one self-contained HTML file, the same bytes for the
same backtest, and charts that show what the backtest did and what its decisions saw.

The study is the banking-crisis fixture over March 2023 on the bundled real data (a BUY that
fills, a BUY blocked by the USDC veto, a SELL), so every kind of marker is on the chart. The
indicator lines are checked against the values the decisions recorded in the audit log, not
against a second computation of the same thing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import pytest
from conftest import ROOT, invoke

from signalops.adapters import registry
from signalops.adapters.snapshots import SnapshotStore
from signalops.adapters.technical import TechnicalAdapter
from signalops.audit.store import AuditLog
from signalops.backtest.charts import PALETTE, Chart, charts, plotly_js
from signalops.backtest.html_tables import extended_section
from signalops.backtest.indicators import (
    ENTRY,
    EXIT,
    PRICE,
    VETO,
    bars_candles,
    layout,
    store_candles,
)
from signalops.backtest.metrics import extended_metrics
from signalops.backtest.report import write_report
from signalops.backtest.study import Study, run_study
from signalops.pipeline import records_of_kind
from signalops.strategy import load, loads

FIXTURE = ROOT / "tests" / "fixtures" / "banking_crisis_pipeline.yaml"
START, END = datetime(2023, 3, 1, tzinfo=UTC), datetime(2023, 3, 31, tzinfo=UTC)

# Every kind of technical leaf: a band, candle highs/lows/volumes, an expression over a moving
# average, two moving averages compared, a constant on the left, and a leaf on another source.
EVERY_KIND = """
strategy:
  name: "Every_Kind"
  assets: ["BTC"]
  defaults:
    params:
      timeframe: 1d
  rules:
    - id: calm
      source: technical
      conditions:
        - when: "rsi(14) between 40 and 70"
        - when: "atr(14) > 500"
        - when: "volume_z(20) > 1.5"
    - id: dip
      source: technical
      conditions:
        - when: "close < sma(20) * 0.95"
        - when: "sma(20) > sma(50)"
  exit:
    rules:
      - id: hot
        source: technical
        conditions:
          - when: "75 < rsi(14)"
  vetoes:
    - id: outflow
      source: onchain
      conditions:
        - when: "stablecoin_net_flow('USDC', 2d) < -1B"
  execution:
    position_size: 0.05
    action_mode: paper
"""


@pytest.fixture(scope="module")
def march(replay_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Study:
    strategy = load(FIXTURE, registry.catalogue())
    return run_study(
        strategy,
        store=SnapshotStore(replay_dir),
        start=START,
        end=END,
        out_dir=tmp_path_factory.mktemp("march"),
        report=False,
    )


@pytest.fixture(scope="module")
def page(march: Study, replay_dir: Path) -> str:
    files = write_report(march, store=SnapshotStore(replay_dir))
    return files.html.read_text(encoding="utf-8")


def figure(march: Study, chart_id: str, **kwargs: Any) -> dict[str, Any]:
    found = {chart.id: chart for chart in charts(march, **kwargs)}
    return found[chart_id].figure


def trace(fig: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [t for t in fig["data"] if t["name"] == name]
    return found


# --- one page that stands alone ------------------------------------------------------------------


def test_the_page_carries_plotly_js_itself_and_loads_nothing_from_elsewhere(page: str):
    library = f"<script>{plotly_js()}</script>"
    assert page.count(library) == 1  # inlined once, not linked
    ours = page.replace(library, "")
    assert "plotly.js v" not in ours
    assert "<script src" not in ours and "http" not in ours
    assert "<img" not in ours and "<link" not in ours
    assert page.count("Plotly.newPlot(") == 2  # equity and drawdown; BTC with its indicators
    assert '<div id="equity" class="chart">' in page
    assert '<div id="price-0" class="chart">' in page


def test_the_page_keeps_the_tables_and_the_filter_accounting(page: str):
    assert "<th>vetoes removed</th>" in page
    assert "<td>total return</td>" in page
    assert "Filter accounting" in page
    assert "filter (usdc_outflow): 1 decision blocked" in page
    assert "<h2>Trades (1)</h2>" in page
    assert "<td>Calmar</td><td>— (under a year)</td>" in page  # March 2023: no figure, and why
    assert "signalops why DECISION_ID --audit" in page


def test_the_report_folder_holds_the_charts_as_json_too(march: Study, page: str):
    stored = json.loads((march.out_dir / "charts.json").read_text(encoding="utf-8"))
    assert [chart["id"] for chart in stored] == ["equity", "price-0"]
    for chart in stored:
        for part in ("data", "layout"):
            text = json.dumps(chart["figure"][part], separators=(",", ":"), ensure_ascii=False)
            assert text in page.replace("<\\/", "</")


def test_the_same_backtest_writes_the_same_bytes_in_another_process(
    march: Study, page: str, replay_dir: Path
):
    again = write_report(march, store=SnapshotStore(replay_dir))
    assert again.html.read_text(encoding="utf-8") == page
    # A fresh interpreter with another hash seed: no set order, id or clock reaches the page.
    script = (
        "import sys; from pathlib import Path; from datetime import datetime, UTC\n"
        "from signalops.adapters import registry\n"
        "from signalops.adapters.snapshots import SnapshotStore\n"
        "from signalops.backtest.report import write_report\n"
        "from signalops.backtest.study import run_study\n"
        "from signalops.strategy import load\n"
        "store = SnapshotStore(sys.argv[2])\n"
        "study = run_study(load(sys.argv[1], registry.catalogue()), store=store,\n"
        "    start=datetime(2023, 3, 1, tzinfo=UTC), end=datetime(2023, 3, 31, tzinfo=UTC),\n"
        "    out_dir=Path(sys.argv[3]), report=False)\n"
        "write_report(study, store=store)\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run(
        [sys.executable, "-c", script, str(FIXTURE), str(replay_dir), str(march.out_dir)],
        check=True,
        cwd=ROOT,
        env=env,
    )
    assert (march.out_dir / "report.html").read_text(encoding="utf-8") == page


def test_every_figure_is_one_plotly_accepts(march: Study, replay_dir: Path):
    kinds = loads(EVERY_KIND, "every_kind.yaml", registry.catalogue())
    study = run_study(
        kinds,
        store=SnapshotStore(replay_dir),
        start=START,
        end=END,
        out_dir=march.out_dir.parent / "every_kind",
        report=False,
    )
    drawn: list[Chart] = [*charts(march), *charts(study, store_candles(SnapshotStore(replay_dir)))]
    for chart in drawn:
        go.Figure(chart.figure)  # raises on a property plotly does not know


# --- equity and drawdown -------------------------------------------------------------------------


def test_equity_chart_has_the_strategy_its_baseline_buy_and_hold_and_the_benchmark(
    replay_dir: Path, tmp_path: Path
):
    study = run_study(
        load(FIXTURE, registry.catalogue()),
        store=SnapshotStore(replay_dir),
        start=START,
        end=END,
        out_dir=tmp_path,
        report=False,
        benchmark="ETH",
    )
    fig = figure(study, "equity")
    shown = [t["name"] for t in fig["data"] if t.get("showlegend", True)]
    assert shown == ["Banking_Crisis_Pipeline", "vetoes removed", "buy & hold", "buy & hold ETH"]
    held = trace(fig, "buy & hold ETH")
    assert held["y"][0] == 10000.0
    assert held["y"][-1] == round(float(study.benchmark.equity[-1].equity), 2)  # type: ignore[union-attr]


def test_drawdown_is_the_fall_below_the_running_peak_of_each_curve(march: Study):
    fig = figure(march, "equity")
    hold = trace(fig, "buy & hold drawdown")
    values = [float(p.equity) for p in march.result.buy_and_hold]
    peaks = [max(values[: i + 1]) for i in range(len(values))]
    assert hold["y"] == [round(v / p - 1, 6) for v, p in zip(values, peaks, strict=True)]
    assert hold["yaxis"] == "y2" and max(hold["y"]) == 0.0
    assert min(hold["y"]) == pytest.approx(march.result.benchmark.drawdown.depth, abs=1e-6)  # type: ignore[union-attr]


# --- price, fills and blocked signals ------------------------------------------------------------


def test_fill_markers_sit_at_the_fill_prices_and_carry_their_decision_ids(march: Study):
    fig = figure(march, "price-0")
    for side in ("BUY", "SELL"):
        legs = [leg for leg in march.result.legs if leg.side.value == side]
        marks = trace(fig, f"{side.lower()} (fill)")
        assert marks["customdata"] == [leg.decision_id for leg in legs]
        assert marks["y"] == [float(leg.price) for leg in legs]
        assert marks["x"] == [leg.filled_at.strftime("%Y-%m-%d %H:%M:%S") for leg in legs]
        assert "decision %{customdata}" in marks["hovertemplate"]


def test_the_blocked_signal_is_marked_at_its_decision_with_the_veto_and_the_outcome(
    march: Study,
):
    (blocked,) = march.result.blocked.items
    marks = trace(figure(march, "price-0"), "blocked BUY signal")
    assert marks["customdata"] == [blocked.decision_id]
    assert marks["x"] == ["2023-03-12 00:00:00"]
    close = march.result.prices["BTC"].close_at(blocked.as_of)
    assert close is not None and marks["y"] == [float(close[0])]
    assert marks["text"] == [
        "BUY blocked by usdc_outflow (veto held) on 2023-03-12: profit missed (+20.24% over 3d)"
    ]


def test_a_click_on_a_decision_marker_fills_the_why_command_box(march: Study, page: str):
    audit = str(march.result.audit_path)
    assert f'<input id="price-0-why" class="why" readonly data-audit="{audit}"' in page
    assert 'box.value = "signalops why " + id + " --audit " + box.dataset.audit;' in page


# --- the strategy's indicators -------------------------------------------------------------------


def candle_day(moment: datetime) -> str:
    """Where the chart draws a daily candle's value: on the day whose close it is (the candle
    closing at 2023-03-12 00:00 is 03-11's)."""
    return (moment - timedelta(days=1)).strftime("%Y-%m-%d")


def recorded(audit: Path, slot: int) -> dict[str, float]:
    """The value of the tree's metric ``slot`` each decision saw, by its candle's day."""
    seen: dict[str, float] = {}
    with AuditLog(audit) as log:
        for record in records_of_kind(log, "decision"):
            entry = record["observations"][slot]
            if entry.get("value") is not None:
                moment = datetime.fromisoformat(entry["data_time"].replace("Z", "+00:00"))
                seen[candle_day(moment)] = entry["value"]
    return seen


@pytest.mark.parametrize("source", ["bars", "store"])
def test_the_rsi_line_is_the_value_every_decision_saw(march: Study, replay_dir: Path, source: str):
    candles = store_candles(SnapshotStore(replay_dir)) if source == "store" else None
    line = trace(figure(march, "price-0", candles=candles), "rsi(14)")
    drawn = dict(zip(line["x"], line["y"], strict=True))
    seen = recorded(march.result.audit_path, 0)
    assert len(seen) == 31
    assert {moment: drawn[moment] for moment in seen} == seen  # equal, not approximately


def test_thresholds_are_the_leaves_own_levels_labelled_with_their_rules(march: Study):
    fig = figure(march, "price-0")
    assert trace(fig, "rsi(14)")["yaxis"] == "y2"
    lines = [(s["yref"], s["y0"], s["y1"], s["line"]["color"]) for s in fig["layout"]["shapes"]]
    assert lines == [("y2", 35.0, 35.0, "#2ca02c"), ("y2", 55.0, 55.0, "#d62728")]
    labels = [a["text"] for a in fig["layout"]["annotations"]]
    assert labels == ["rsi_oversold: rsi(14) &lt; 35", "rsi_recovered: rsi(14) &gt; 55"]
    assert fig["layout"]["yaxis2"]["title"]["text"] == "rsi(14)"


def test_panes_come_from_the_compiled_tree_by_the_scale_each_indicator_lives_on():
    tree = loads(EVERY_KIND, "every_kind.yaml", registry.catalogue()).tree
    found = layout(tree, 86400)
    assert [pane.key for pane in found.panes] == [PRICE, "rsi", "atr", "volume_z"]
    price = found.pane(PRICE)
    assert price is not None and [line.label for line in price.lines] == [
        "close", "sma(20) * 0.95", "sma(20)", "sma(50)",
    ]  # fmt: skip
    assert price.thresholds == ()  # every comparison there is between two moving lines
    rsi = found.pane("rsi")
    assert rsi is not None
    assert [(t.low, t.high, t.role) for t in rsi.thresholds] == [(40, 70, ENTRY), (75, 75, EXIT)]
    assert found.left_out == ("stablecoin_net_flow('USDC', 2d) < -1B",)
    assert VETO not in {t.role for pane in found.panes for t in pane.thresholds}


def many_rsi(periods: range) -> str:
    """A small strategy that draws one rsi line per period (any of them may trigger)."""
    whens = "".join(f'              - when: "rsi({n}) < 30"\n' for n in periods)
    return (
        'strategy:\n  name: "Many_Rsi"\n  assets: ["BTC"]\n  rules:\n    - id: any_rsi\n'
        "      source: technical\n      conditions:\n        - at_least:\n            n: 1\n"
        f"            of:\n{whens}  execution:\n    position_size: 0.01\n"
        "    action_mode: paper\n"
    )


def test_a_strategy_drawing_more_lines_than_the_palette_has_colours_backtests_and_draws_all(
    replay_dir: Path, tmp_path: Path
):
    # 40 lines: the colours used to run out after 24 and the backtest crashed.
    periods = range(2, 42)
    strategy = tmp_path / "many_rsi.yaml"
    strategy.write_text(many_rsi(periods), encoding="utf-8")
    assert strategy.stat().st_size < 2500
    result = invoke(
        "backtest", str(strategy), "--from", "2023-03-01", "--to", "2023-03-31",
        "--data", str(replay_dir), "--report", str(tmp_path / "report"), "--no-baseline",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "report: " in result.stdout
    written = json.loads((tmp_path / "report" / "charts.json").read_text(encoding="utf-8"))
    (price,) = [chart["figure"] for chart in written if chart["id"] == "price-0"]
    lines = [t for t in price["data"] if t["name"].startswith("rsi(")]
    assert [t["name"] for t in lines] == [f"rsi({n})" for n in periods]
    colours = [t["line"]["color"] for t in lines]
    assert colours[:6] == list(PALETTE) and colours[36:] == list(PALETTE[:4])
    page = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert '"name":"rsi(41)"' in page.replace(" ", "")


def test_indicators_of_highs_lows_and_volumes_come_from_the_store_and_match_the_adapter(
    march: Study, replay_dir: Path
):
    store = SnapshotStore(replay_dir)
    kinds = loads(EVERY_KIND, "every_kind.yaml", registry.catalogue())
    study = run_study(
        kinds, store=store, start=START, end=END, out_dir=march.out_dir.parent / "kinds",
        report=False, baseline=False,
    )  # fmt: skip
    without = {chart.id: chart for chart in charts(study)}["price-0"]
    assert "atr(14): not drawn (it needs the candles' highs, lows or volumes)" in without.notes
    fig = figure(study, "price-0", candles=store_candles(store))
    adapter = TechnicalAdapter.replay(store)
    for metric in kinds.tree.metrics:
        if metric.source != "technical" or metric.name == "close":
            continue
        line = trace(fig, metric.render())
        drawn = dict(zip(line["x"], line["y"], strict=True))
        for moment in (datetime(2023, 3, 12, tzinfo=UTC), datetime(2023, 3, 31, tzinfo=UTC)):
            seen = adapter.observe(metric.request("BTC"), moment, {})
            assert drawn[candle_day(moment)] == seen.value, metric.render()


def test_an_expression_line_is_computed_as_the_evaluator_computes_it(
    march: Study, replay_dir: Path
):
    store = SnapshotStore(replay_dir)
    kinds = loads(EVERY_KIND, "every_kind.yaml", registry.catalogue())
    study = run_study(
        kinds, store=store, start=START, end=END, out_dir=march.out_dir.parent / "expr",
        report=False, baseline=False,
    )  # fmt: skip
    fig = figure(study, "price-0", candles=bars_candles(study.result.prices))
    scaled = dict(zip(*(trace(fig, "sma(20) * 0.95")[k] for k in ("x", "y")), strict=True))
    sma = dict(zip(*(trace(fig, "sma(20)")[k] for k in ("x", "y")), strict=True))
    assert scaled and all(scaled[t] == sma[t] * 0.95 for t in scaled)


# --- the extended measures -----------------------------------------------------------------------


def test_extended_measures_read_as_percentages_ratios_and_money(march: Study):
    r = march.result
    found = extended_metrics(r.metrics, r.equity, r.trades, benchmark=None).to_dict()
    found["relative"] = {"alpha": 0.0204526, "beta": 0.0126518, "tracking_error": 0.488286,
                         "information_ratio": -2.68867, "periods": 31}  # fmt: skip
    found["relative_to"] = "GSPC"
    text = extended_section(found)
    for row in (
        "<tr><td>alpha vs buy &amp; hold GSPC (a year)</td><td>+2.05%</td></tr>",
        "<tr><td>beta vs buy &amp; hold GSPC</td><td>0.01</td></tr>",
        "<tr><td>tracking error vs buy &amp; hold GSPC (a year)</td><td>48.83%</td></tr>",
        "<tr><td>information ratio vs buy &amp; hold GSPC</td><td>-2.69</td></tr>",
        f"<tr><td>traded notional</td><td>{sum(leg.notional for leg in r.legs):,.2f} USDT</td>",
    ):
        assert row in text
    march_return = r.equity[-1].equity / r.equity[0].equity - 1
    assert f'<td class="up">{march_return:+.1%}</td>' in text  # March 2023, and the year
    assert "<th>Jan</th>" in text and "<tr><td>2023</td><td>—</td><td>—</td>" in text
    assert "<td>historical 95%</td>" in text


def test_a_month_out_of_the_market_reads_without_a_sign_and_a_loss_in_red():
    months = [0.0, -0.0213, *([None] * 10)]
    text = extended_section({"monthly_returns": {"2023": {"months": months, "year": -0.0213}}})
    assert (
        '<tr><td>2023</td><td class="flat">0.0%</td><td class="down">-2.1%</td><td>—</td>'
    ) in text
    assert text.count("<table") == 2  # measures without a figure still get their table


def test_a_small_months_or_years_return_reads_with_the_digits_the_terminal_shows():
    # The year's +0.01% was +0.0% on the page (and a month's -0.03% was -0.0%), like a flat one.
    months = [0.0, 0.0, 0.00012, -0.00027, -1e-6, *([None] * 7)]
    text = extended_section({"monthly_returns": {"2023": {"months": months, "year": 0.00012}}})
    assert (
        '<tr><td>2023</td><td class="flat">0.0%</td><td class="flat">0.0%</td>'
        '<td class="up">+0.01%</td><td class="down">-0.03%</td><td class="down">-&lt;0.01%</td>'
    ) in text
    assert '<td class="up">+0.01%</td></tr>' in text  # the year's total


def test_a_study_without_extended_measures_has_no_such_section():
    assert extended_section(None) == ""
