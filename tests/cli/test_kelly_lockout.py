"""A backtest says when Kelly sizing shut the strategy out for the rest of the run.

Regression test: with ``kelly_from_trades`` in the risk limits, a strategy whose closed trades
showed no edge (Kelly at the win rate's lower bound below 0) had every later BUY denied
ZERO_SIZE to the end of the run: it could close no more trades, so the estimate could never
change. The output said only ``ZERO_SIZE 10`` among the denials.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import invoke as run

DIP = """\
strategy:
  name: "Dip_Buyer"
  assets: ["AAPL"]
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
CONFIG = """\
venues:
  stocks: {exchange: yfinance, quote: USD}
assets:
  AAPL: {venue: stocks}
  MSFT: {venue: stocks}
  JPM: {venue: stocks}
default_venue: null
risk: {max_data_age: 4d, kelly_from_trades: {fraction: 0.5, min_trades: 5, cap: 0.2}}
"""
SAID = (
    "Kelly sizing found no edge from 2022-09-07 on: no BUY filled after it (10 denied "
    "ZERO_SIZE); full Kelly at the win rate's lower bound -19.81% after 5 closed trades (3 won)"
)


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("SIGNALOPS_AUDIT", "SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    Path("dip.yaml").write_text(DIP, encoding="utf-8")
    Path("uni.csv").write_text(
        "ticker,sector\nAAPL,Technology\nMSFT,Technology\nJPM,Financials\n", encoding="utf-8"
    )
    return tmp_path


def backtest(replay_dir: Path) -> list[str]:
    Path("risk.yaml").write_text(CONFIG, encoding="utf-8")
    made = run(
        "backtest", "dip.yaml", "--config", "risk.yaml", "--universe", "uni.csv", "--data",
        str(replay_dir), "--from", "2019-01-01", "--to", "2023-12-31", "--report", "report",
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    return made.stdout.splitlines()


def test_a_backtest_says_from_when_kelly_sizing_stopped_every_buy(replay_dir: Path, in_tmp: Path):
    lines = backtest(replay_dir)
    at = lines.index("audit log: report/backtest.db")
    assert lines[at + 1] == SAID
    denials = "ZERO_SIZE 10 (AAPL 4, MSFT 5, JPM 1); MAX_POSITION 2 (JPM 2)"
    assert (
        f"risk gate denials of BUYs, by check (a denied BUY may fail several): {denials}" in lines
    )
    page = Path("report", "report.html").read_text(encoding="utf-8")
    assert "<p>" + SAID.replace("'", "&#x27;") + "</p>" in page
    # The first of those denials recorded the estimate the line quotes.
    why = run("why", "MSFT", "--at", "2022-09-07", "--audit", "report/backtest.db")
    assert why.stdout.splitlines()[0] == (
        "MSFT at 2022-09-07T00:00:00Z: DENIED by the risk gate: ZERO_SIZE (asset MSFT, equity "
        "10,221.94, kelly (cap 20%, capped no, fraction 0%, interval wilson, kelly lower "
        "-19.8104%, kelly point 37.7026%, losses 2, mean loss 65.63, mean win 117.73, min "
        "trades 5, multiplier 0.5, payoff 1.79, reason none, trades 5, win rate 60%, win rate "
        "lower 23.072%, wins 3, z 1.96))"
    )
