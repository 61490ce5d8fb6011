"""The report's charts date their points as its tables do.

Regression tests: the tables date a daily close by the day it closes (BTC's 2023-02-20 candle
closes at 02-21 00:00; the S&P 500's Friday session is marked at Saturday 00:00), but the charts
drew every close at that 00:00, so each chart point read a day later than the table: the buy &
hold peak the table gave as 2023-02-20 was on the chart's 2023-02-21, a stock curve had points
on Saturdays, and the close beside a fill of 2023-03-14 was 03-13's. Decisions and fills are at
their own times, the day they were made.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import date
from pathlib import Path
from typing import Any

from conftest import ROOT, STRATEGIES
from conftest import invoke as run

EQUITIES = ROOT / "examples" / "signalops.equities.yaml"
DIP = str(STRATEGIES / "banking_crisis_dip.yaml")
DIP_4D = """\
strategy:
  name: "Dip_Buyer_4d"
  assets: ["AAPL"]
  defaults: {max_age: 4d}
  params: {oversold: 30}
  rules:
    - id: dip
      source: technical
      conditions: [{when: "rsi(14) < $oversold"}]
  exit:
    rules:
      - {id: recovered, source: technical, conditions: [{when: "rsi(14) > 60"}]}
  execution: {position_size: 0.1}
"""


def backtest(replay_dir: Path, *args: str) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """The figures (by chart id) and metrics.json of ``signalops backtest ARGS``."""
    result = run("backtest", *args, "--data", str(replay_dir), "--report", "report")
    assert result.exit_code == 0, result.stderr
    charts = json.loads(Path("report", "charts.json").read_text(encoding="utf-8"))
    metrics = json.loads(Path("report", "metrics.json").read_text(encoding="utf-8"))
    return {chart["id"]: chart["figure"] for chart in charts}, metrics


def line(figure: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [t for t in figure["data"] if t["name"] == name]
    return found


def drawdown_days(curve: dict[str, Any]) -> list[str | None]:
    """The chart's days of a curve's deepest fall: its peak (the last point at the running high
    before the trough, where the fall began), its trough and its recovery to the peak, as a
    reader finds them by hovering."""
    xs, ys = curve["x"], curve["y"]
    highs = [max(ys[: i + 1]) for i in range(len(ys))]
    trough = min(range(len(ys)), key=lambda i: ys[i] / highs[i])
    peak = max(i for i in range(trough) if ys[i] == highs[i])
    recovered = next((xs[i] for i in range(trough + 1, len(ys)) if ys[i] >= ys[peak]), None)
    return [xs[peak], xs[trough], recovered]


def table_days(metrics: dict[str, Any]) -> list[str | None]:
    drawdown = metrics["max_drawdown"]
    return [drawdown["peak"], drawdown["trough"], drawdown["recovered"]]


def test_a_crypto_charts_closes_fall_on_the_days_the_table_gives_them(
    replay_dir: Path, in_tmp: Path
):
    figures, metrics = backtest(
        replay_dir, DIP, "--from", "2023-01-01", "--to", "2023-06-30", "--no-baseline"
    )
    hold = line(figures["equity"], "buy & hold")
    # The table: BTC peaked at the 2023-02-20 close, fell to 03-10's, recovered by 03-16's.
    assert table_days(metrics["buy_and_hold"]) == ["2023-02-20", "2023-03-10", "2023-03-16"]
    assert drawdown_days(hold) == ["2023-02-20", "2023-03-10", "2023-03-16"]
    # The strategy held its cash until 03-09's close and fell the next day: its peak is there
    # on the chart as in the table, not at the start (the high it had held since).
    assert table_days(metrics["metrics"]) == ["2023-03-09", "2023-03-10", "2023-03-11"]
    assert drawdown_days(line(figures["equity"], "Banking_Crisis_Dip")) == table_days(
        metrics["metrics"]
    )
    # The starting cash is on the day of the first decision (2023-01-01 00:00) it is valued at,
    # as the table dates a fall from it; then one point a day, the day's close, the first on the
    # first day too (the starting cash is that day's start, the close its end).
    assert hold["x"][:3] == ["2023-01-01", "2023-01-01", "2023-01-02"]
    assert hold["x"][-1] == "2023-06-30" and len(set(hold["x"][1:])) == len(hold["x"]) - 1

    price = figures["price-0"]
    closes = dict(zip(line(price, "close")["x"], line(price, "close")["y"], strict=True))
    assert closes["2023-02-20"] == 24842.2  # the 02-20 candle's close, on 02-20
    assert closes["2023-03-10"] == 20150.69
    assert price["layout"]["xaxis"]["range"] == ["2022-12-31", "2023-06-30"]
    # A fill is on the day the trades table gives it, beside that day's close.
    with Path("report", "trades.csv").open(encoding="utf-8") as rows:
        entered = [row["entry_time"] for row in csv.DictReader(rows)]
    buys = line(price, "buy (fill)")["x"]
    assert entered and buys[0][:10] == entered[0][:10] and buys[0].endswith(" 00:00:00")


def test_a_stock_charts_sessions_are_weekdays_and_the_benchmarks_drawdown_the_tables(
    replay_dir: Path, in_tmp: Path
):
    Path("dip4d.yaml").write_text(DIP_4D, encoding="utf-8")
    figures, metrics = backtest(
        replay_dir, "dip4d.yaml", "--config", str(EQUITIES), "--from", "2019-01-01",
        "--to", "2023-12-31", "--benchmark", "GSPC", "--no-baseline",
    )  # fmt: skip
    gspc = line(figures["equity"], "buy & hold GSPC")
    # GSPC closed at 3,386.15 on 2020-02-19 (its peak), 2,237.40 on 03-23 (the trough), and
    # first above the peak again on 08-18.
    assert table_days(metrics["benchmark"]["metrics"]) == ["2020-02-19", "2020-03-23", "2020-08-18"]
    assert drawdown_days(gspc) == ["2020-02-19", "2020-03-23", "2020-08-18"]
    # Every session's mark on its weekday (the first point, the starting cash, is on the day of
    # the first decision, before 2019-01-02's session, as that session's close).
    assert gspc["x"][:2] == ["2019-01-02", "2019-01-02"]
    weekdays = {date.fromisoformat(x).weekday() for x in gspc["x"][1:]}
    assert weekdays == {0, 1, 2, 3, 4}
    # A stock's closes are at the session's close, on its day, as before.
    assert line(figures["price-0"], "close")["x"][0] == "2019-01-02 21:00:00"


def test_a_stock_runs_equity_and_fees_are_in_its_accounts_currency(replay_dir: Path, in_tmp: Path):
    """The charts wrote USDT under a stock run's equity and beside its fills' fees, whose
    account and table are in USD."""
    Path("dip4d.yaml").write_text(DIP_4D, encoding="utf-8")
    figures, _ = backtest(
        replay_dir, "dip4d.yaml", "--config", str(EQUITIES), "--from", "2022-01-01",
        "--to", "2022-12-31", "--no-baseline",
    )  # fmt: skip
    equity = figures["equity"]
    assert equity["layout"]["yaxis"]["title"]["text"] == "USD"
    assert line(equity, "Dip_Buyer_4d")["hovertemplate"] == "%{y:,.2f} USD"
    (buys,) = [t for t in figures["price-0"]["data"] if t["name"] == "buy (fill)"]
    assert all(text.endswith(" USD)") for text in buys["text"]), buys["text"]


def html_rows(page: str, *names: str) -> list[list[str]]:
    """The cells of report.html's table rows named ``names``."""
    found = []
    for name in names:
        (row,) = re.findall(rf"<tr><td>{name}</td>(.*?)</tr>", page)
        found.append(re.findall(r"<td>(.*?)</td>", row))
    return found


def embedded(page: str, chart_id: str) -> list[dict[str, Any]]:
    """The traces report.html draws in its chart ``chart_id``."""
    (data,) = re.findall(rf'Plotly\.newPlot\("{chart_id}", (\[.*?\]), \{{', page)
    return list(json.loads(data))


def fall_begins(drawdown: dict[str, Any]) -> str:
    """Where a drawdown line shows its deepest fall beginning: its last point at 0 (at the
    running peak) before its lowest."""
    ys = drawdown["y"]
    trough = ys.index(min(ys))
    return str(drawdown["x"][max(i for i in range(trough) if ys[i] == 0)])


def test_a_fall_from_the_starting_cash_begins_on_one_day_in_every_output(
    replay_dir: Path, in_tmp: Path
):
    """Regression test: bought at the first decision (2023-03-10 00:00) and below its starting
    cash at that day's close, the strategy's drawdown peaks at the start. The table,
    metrics.json and report.html's table dated the peak 2023-03-10, the run's first day (the
    day of the first decision, as ``metrics`` defines the starting cash's date), but the chart
    drew the starting cash on 2023-03-09, so its fall began a day before the table's."""
    result = run("backtest", DIP, "--from", "2023-03-10", "--to", "2023-06-30", "--no-baseline",
                 "--data", str(replay_dir), "--report", "report")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    table = [line.split()[2] for line in result.stdout.splitlines() if line.startswith("drawdown")]
    metrics = json.loads(Path("report", "metrics.json").read_text(encoding="utf-8"))
    charts = json.loads(Path("report", "charts.json").read_text(encoding="utf-8"))
    (chart,) = [c for c in charts if c["id"] == "equity"]
    page = Path("report", "report.html").read_text(encoding="utf-8")
    name = "Banking_Crisis_Dip"

    assert table == ["2023-03-10", "2023-03-10"]  # the peak and the trough: the first day's fall
    assert table_days(metrics["metrics"])[:2] == table
    assert [cells[0] for cells in html_rows(page, "drawdown peak", "drawdown trough")] == table
    for traces in (chart["figure"]["data"], embedded(page, "equity")):
        assert fall_begins(line({"data": traces}, f"{name} drawdown")) == "2023-03-10"
        assert drawdown_days(line({"data": traces}, name))[:2] == table
