"""A drawdown's peak, trough and recovery are dated as the closes that made them.

Regression tests: the equity curve is marked at the end of each decision's period, 00:00 UTC
after a day's close, and those marks were shown as they are: every date a day late, and a
stock's Friday session shown as Saturday (the S&P 500 peaked at the 2020-02-19 close, 3,386.15,
and the table said 2020-02-20; a trough said 2022-10-15, a Saturday). The rule
(``signalops.backtest.metrics``): a curve marked at 00:00 UTC dates each mark by the day that
ended there, the starting cash by the day of the first decision; marks at other times (hourly
periods) are their own time, shown with it even at midnight.
"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import ROOT, STRATEGIES
from conftest import invoke as run

EQUITIES = ROOT / "examples" / "signalops.equities.yaml"
HOURLY = str(ROOT / "tests" / "fixtures" / "hourly_rsi.yaml")
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
      - {id: stop, source: technical, conditions: [{when: "return(10d) < -10%"}]}
  execution: {position_size: 0.1}
"""
ROWS = ("drawdown peak", "drawdown trough", "recovered")


def backtest(replay_dir: Path, *args: str) -> tuple[list[str], dict]:
    """The table's drawdown rows and metrics.json of ``signalops backtest ARGS``."""
    result = run("backtest", *args, "--data", str(replay_dir), "--report", "report")
    assert result.exit_code == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith(ROWS)]
    data = json.loads(Path("report", "metrics.json").read_text(encoding="utf-8"))
    return rows, data


def dates(metrics: dict) -> list[str | None]:
    drawdown = metrics["max_drawdown"]
    return [drawdown["peak"], drawdown["trough"], drawdown["recovered"]]


def test_stock_drawdowns_are_dated_by_the_sessions_whose_closes_made_them(
    replay_dir: Path, in_tmp: Path
):
    Path("dip4d.yaml").write_text(DIP_4D, encoding="utf-8")
    rows, data = backtest(
        replay_dir, "dip4d.yaml", "--config", str(EQUITIES), "--from", "2019-01-01",
        "--to", "2023-12-31", "--benchmark", "GSPC", "--no-baseline",
    )  # fmt: skip
    # GSPC closed at 3,386.15 on 2020-02-19 (its peak), 2,237.40 on 03-23 (the trough) and
    # first above the peak again on 08-18 (3,389.78); AAPL's 81.80 on 02-12, 56.09 on 03-23,
    # 82.88 on 06-05. Every date is a session (a weekday), none the day after.
    assert rows == [
        "drawdown peak              2021-03-01   2020-02-12        2020-02-19",
        "drawdown trough            2021-03-08   2020-03-23        2020-03-23",
        "recovered                  2021-04-07   2020-06-05        2020-08-18",
    ]
    assert dates(data["metrics"]) == ["2021-03-01", "2021-03-08", "2021-04-07"]
    assert dates(data["buy_and_hold"]) == ["2020-02-12", "2020-03-23", "2020-06-05"]
    assert dates(data["benchmark"]["metrics"]) == ["2020-02-19", "2020-03-23", "2020-08-18"]


def test_crypto_daily_drawdowns_are_dated_by_the_candles_and_the_start_by_its_day(
    replay_dir: Path, in_tmp: Path
):
    rows, data = backtest(replay_dir, DIP, "--from", "2023-01-01", "--to", "2023-06-30",
                          "--no-baseline")  # fmt: skip
    # BTC's daily candles close at 00:00 UTC: the 2023-02-20 candle (close 24,842.20, the peak)
    # closes at 02-21 00:00. The trough is 03-10's close (20,150.69), recovered by 03-16's
    # (24,998.78). The strategy held its starting cash until 03-09's close and fell in a day:
    # its peak is where the fall began, 03-09, not the run's first day (it had been at that
    # high since).
    assert rows == [
        "drawdown peak              2023-03-09   2023-02-20",
        "drawdown trough            2023-03-10   2023-03-10",
        "recovered                  2023-03-11   2023-03-16",
    ]
    assert dates(data["metrics"]) == ["2023-03-09", "2023-03-10", "2023-03-11"]
    assert dates(data["buy_and_hold"]) == ["2023-02-20", "2023-03-10", "2023-03-16"]
    # Bought at the first decision, the strategy is below its starting cash at the first close:
    # the peak is the starting cash, dated by the first decision's day (03-10 00:00), the day
    # whose close is the trough.
    rows, data = backtest(replay_dir, DIP, "--from", "2023-03-10", "--to", "2023-06-30",
                          "--no-baseline")  # fmt: skip
    assert dates(data["metrics"]) == ["2023-03-10", "2023-03-10", "2023-03-11"]


def test_hourly_drawdowns_keep_their_time_even_at_midnight(replay_dir: Path, in_tmp: Path):
    rows, data = backtest(
        replay_dir, HOURLY, "--from", "2023-03-07", "--to", "2023-03-08T23:00:00Z",
        "--every", "1h", "--no-baseline",
    )  # fmt: skip
    # The trough is the close of 2023-03-08's last hour, at 03-09 00:00: a time, not the day
    # 03-09 (a daily curve's 2023-03-09 is the day whose close it holds).
    assert rows == [
        "drawdown peak        2023-03-08 01:00   2023-03-07 03:00",
        "drawdown trough      2023-03-09 00:00   2023-03-09 00:00",
        "recovered                     not yet            not yet",
    ]
    assert dates(data["metrics"]) == ["2023-03-08T01:00:00Z", "2023-03-09T00:00:00Z", None]
    assert dates(data["buy_and_hold"]) == ["2023-03-07T03:00:00Z", "2023-03-09T00:00:00Z", None]
