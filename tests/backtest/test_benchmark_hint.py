"""A stock backtest's ``--benchmark`` the config does not route is named with how to route it.

Regression test: ``backtest ... --benchmark GSPC`` of a MRVL strategy, GSPC in no ``assets:``
entry, said to import it as ``GSPC/USDT --venue binance``, a coin around the clock on a crypto
exchange, where the README routes the S&P 500 to a yfinance venue (``GSPC: {venue: stocks,
symbol: "^GSPC"}``, ``examples/signalops.equities.yaml``) and imports it as GSPC. A crypto
backtest's benchmark keeps the coin's commands.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import invoke as run

STRATEGY = """\
strategy:
  name: hint
  assets: [ASSET]
  defaults: {max_age: 4d}
  rules:
    - id: any_close
      source: technical
      conditions: [{when: "close > 0"}]
  execution: {position_size: 0.1}
"""


@pytest.fixture
def in_tmp(in_tmp: Path) -> Path:
    for asset in ("AAPL", "BTC"):
        text = STRATEGY.replace("ASSET", asset)
        (in_tmp / f"{asset.lower()}.yaml").write_text(text, encoding="utf-8")
    return in_tmp


def backtest(replay_dir: Path, strategy: str, benchmark: str):
    return run(
        "backtest", strategy, "--from", "2022-06-13", "--to", "2022-06-17", "--data",
        str(replay_dir), "--report", "r", "--no-baseline", "--benchmark", benchmark,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("config", "venue"),
    [
        ("venues:\n  stocks: {exchange: yfinance, quote: USD}\nassets:\n  AAPL: {venue: stocks}\n",
         "stocks"),
        ("venues:\n  yahoo: {exchange: yfinance, quote: USD}\nassets:\n  AAPL: {venue: yahoo}\n",
         "yahoo"),
    ],
    ids=["stocks", "another-name"],
)  # fmt: skip
def test_an_unrouted_benchmark_of_a_stock_backtest_is_taught_its_route_to_yahoo(
    in_tmp: Path, replay_dir: Path, config: str, venue: str
):
    (in_tmp / "signalops.yaml").write_text(config, encoding="utf-8")

    result = backtest(replay_dir, "aapl.yaml", "SPX")

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: no recorded 1d candles for SPX in {replay_dir} (series "
        "candles/binance/SPX/USDT/1d): an index's or a stock's candles come from Yahoo: route "
        f"SPX to a yfinance venue in the config (assets: {{SPX: {{venue: {venue}}}}}, with "
        "symbol: its Yahoo ticker when another, as ^GSPC for the S&P 500), then download it "
        "with 'signalops data download --source technical --asset SPX --timeframe 1d "
        f"--to {replay_dir}' or import a file with 'signalops data import FILE --source "
        f"technical --asset SPX --timeframe 1d --to {replay_dir}'\n"
    )


def test_a_crypto_backtests_unrouted_benchmark_keeps_the_coins_commands(
    in_tmp: Path, replay_dir: Path
):
    result = backtest(replay_dir, "btc.yaml", "SPX")

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: no recorded 1d candles for SPX in {replay_dir} (series "
        "candles/binance/SPX/USDT/1d): download it with 'signalops data download --source "
        f"technical --asset SPX/USDT --venue binance --timeframe 1d --to {replay_dir}' or import "
        "a file with 'signalops data import FILE --source technical --asset SPX/USDT --venue "
        f"binance --timeframe 1d --to {replay_dir}'\n"
    )
