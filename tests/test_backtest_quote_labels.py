"""The backtest's money is labelled in the run's quote currency, the footer's starting cash too.

A stock (a yfinance venue quoted in USD, ``examples/signalops.equities.yaml``) is a USD run; a
coin on the default Binance venue is a USDT run. The footer line under the table, and the same
line in report.html, say so.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import ROOT, STRATEGIES, invoke

EQUITIES = ROOT / "examples" / "signalops.equities.yaml"

AAPL_TREND = """
strategy:
  name: aapl_trend
  assets: [AAPL]
  defaults:
    params: {timeframe: 1d}
  rules:
    - id: uptrend
      source: technical
      conditions:
        - when: "sma(20) > sma(50)"
  execution: {position_size: 0.1, action_mode: paper}
"""


def backtest(strategy: Path, replay_dir: Path, out: Path, *more: str) -> str:
    result = invoke(
        "backtest", str(strategy), "--data", str(replay_dir), "--from", "2023-03-01",
        "--to", "2023-03-10", "--report", str(out), *more,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_stock_backtest_says_its_starting_cash_in_usd(replay_dir: Path, tmp_path: Path):
    strategy = tmp_path / "aapl_trend.yaml"
    strategy.write_text(AAPL_TREND, encoding="utf-8")

    out = backtest(strategy, replay_dir, tmp_path / "r", "--config", str(EQUITIES))

    footer = (
        "fills at the next bar's open (1d candles); fee 10 bps, slippage 5 bps; starting cash "
        "10,000.00 USD"
    )
    assert f"{footer}\n" in out
    assert "USDT" not in out
    html = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert "; starting cash 10,000.00 USD<" in html  # the end of the line: not USDT
    # The extended measures' money too (they were always labelled USDT).
    assert "USDT" not in html.split("<h2>More measures</h2>")[1].split("</table>")[0]
    assert re.search(r"traded notional</td><td>[\d,.]+ USD<", html)


def test_a_coin_backtest_on_binance_says_its_starting_cash_in_usdt(
    replay_dir: Path, tmp_path: Path
):
    strategy = STRATEGIES / "technical_baseline.yaml"

    out = backtest(strategy, replay_dir, tmp_path / "r")

    assert (
        "fills at the next bar's open (1d candles); fee 10 bps, slippage 5 bps; starting cash "
        "10,000.00 USDT\n"
    ) in out


def test_a_coin_in_usdt_and_a_stock_in_usd_share_one_usd_book_at_par_and_say_so(
    replay_dir: Path, tmp_path: Path
):
    # BTC is quoted in USDT on Binance, AAPL in USD on yfinance: their money was added up and
    # left unlabelled. Dollars and a dollar stablecoin are one currency, at par, and said.
    fixture = (ROOT / "tests" / "fixtures" / "aapl_trend.yaml").read_text(encoding="utf-8")
    strategy = tmp_path / "mixed.yaml"
    strategy.write_text(fixture.replace("assets: [AAPL]", "assets: [BTC, AAPL]"), encoding="utf-8")

    result = invoke(
        "backtest", str(strategy), "--data", str(replay_dir), "--from", "2023-03-01",
        "--to", "2023-03-10", "--report", str(tmp_path / "r"), "--config", str(EQUITIES),
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith(
        "warning: BTC in USDT (venue binance) and AAPL in USD (venue stocks) are added at par "
        "in one USD account (1 USD = 1 USDT)"
    )
    assert "starting cash 10,000.00 USD\n" in result.stdout


def test_each_asset_alone_names_each_ones_currency_not_one_for_all(
    replay_dir: Path, tmp_path: Path
):
    """Regression: ``--each-asset`` over BTC (USDT on Binance) and AAPL (USD) said "starting
    cash 10,000.00 USD" for both, the currency of one account holding them at par, though each
    is backtested alone in its own: BTC's metrics.json says USDT."""
    fixture = (ROOT / "tests" / "fixtures" / "aapl_trend.yaml").read_text(encoding="utf-8")
    strategy = tmp_path / "mixed.yaml"
    strategy.write_text(fixture.replace("assets: [AAPL]", "assets: [BTC, AAPL]"), encoding="utf-8")

    out = backtest(strategy, replay_dir, tmp_path / "r", "--config", str(EQUITIES), "--each-asset")

    assert (
        "each asset alone: starting cash 10,000.00 in its own currency (USDT: BTC; USD: AAPL); "
    ) in out
    metrics = json.loads((tmp_path / "r" / "BTC" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["quote"] == "USDT"
