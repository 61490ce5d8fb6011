"""A backtest of one stock session runs: its decision reads the previous session's close.

Regression tests: ``backtest --from 2022-06-15 --to 2022-06-15`` of an AAPL strategy failed
with ``error: no 1d AAPL candles between 2022-06-15T00:00:00Z and 2022-06-15T00:00:00Z: the
recorded data covers ...``, although 2022-06-15 was a Wednesday (the same on BTC ran). The
coverage check counted the bars closing inside the period, and a stock's daily bar closes at
16:00 New York (20:00 UTC then): the one decision, at 00:00, reads June 14's close, as any
other day's decision does. It now asks whether the decisions have a bar to read: one closing
by the period's end and no earlier than the last session's close before its start (one
timeframe before it around the clock).

Known answers from the bundled prices (``examples/data/equities/prices/daily/AAPL.csv``):
June 13 closed at 131.88, June 14 at 132.76, June 15 opened at 134.29 and closed at 135.43.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import invoke as run

from signalops.adapters.snapshots import SnapshotStore
from signalops.backtest import run_backtest
from signalops.backtest.runner import FAST, PIPELINE
from signalops.config import load_config
from signalops.strategy import loads

CONFIG = """\
venues:
  stocks: {exchange: yfinance, quote: USD}
assets:
  AAPL: {venue: stocks}
  GSPC: {venue: stocks, symbol: "^GSPC"}
risk: {max_data_age: 4d}
"""
# PASSes on June 14's close only: not June 13's (131.88), not June 15's (135.43, to come).
STRATEGY = """\
strategy:
  name: one_session
  assets: [ASSET]
  defaults: {max_age: 4d}
  rules:
    - id: known_close
      source: technical
      conditions: [{when: "close between 132.5 and 133"}]
  execution: {position_size: 0.1}
"""
JUNE_15 = datetime(2022, 6, 15, tzinfo=UTC)
HEADLINE = "one_session · AAPL · 2022-06-15 → 2022-06-15 · 1 session"


@pytest.fixture
def in_tmp(in_tmp: Path) -> Path:
    """The root conftest's empty folder, with the config and a strategy per asset."""
    tmp_path = in_tmp
    (tmp_path / "signalops.yaml").write_text(CONFIG, encoding="utf-8")
    for asset in ("AAPL", "BTC"):
        text = STRATEGY.replace("ASSET", asset)
        (tmp_path / f"{asset.lower()}.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def backtest(replay_dir: Path, strategy: str, start: str, end: str, *more: str):
    return run(
        "backtest", strategy, "--from", start, "--to", end, "--data", str(replay_dir),
        "--report", "r", "--no-baseline", *more,
    )  # fmt: skip


@pytest.mark.parametrize("engine", [FAST, PIPELINE])
def test_one_session_decides_on_the_previous_close_and_fills_at_its_open(
    replay_store: SnapshotStore, tmp_path: Path, engine: str
):
    (tmp_path / "signalops.yaml").write_text(CONFIG, encoding="utf-8")
    result = run_backtest(
        loads(STRATEGY.replace("ASSET", "AAPL")),
        store=replay_store,
        start=JUNE_15,
        end=JUNE_15,
        out_dir=tmp_path / engine,
        config=load_config(tmp_path / "signalops.yaml"),
        engine=engine,
    )

    assert [(d.as_of, d.asset, d.verdict, d.status) for d in result.decisions] == [
        (JUNE_15, "AAPL", "BUY", "FILLED")
    ]
    assert [(leg.side.value, leg.price, leg.filled_at) for leg in result.legs] == [
        # 134.29 and 5 bps of slippage, at 09:30 New York
        ("BUY", Decimal("134.357145"), datetime(2022, 6, 15, 13, 30, tzinfo=UTC))
    ]


def test_backtest_command_runs_one_stock_session(in_tmp: Path, replay_dir: Path):
    result = backtest(replay_dir, "aapl.yaml", "2022-06-15", "2022-06-15")

    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout.splitlines()[0] == HEADLINE


def test_one_session_with_a_stock_benchmark_runs_too(in_tmp: Path, replay_dir: Path):
    result = backtest(replay_dir, "aapl.yaml", "2022-06-15", "2022-06-15", "--benchmark", "GSPC")

    assert (result.exit_code, result.stderr) == (0, "")
    headline, columns = result.stdout.splitlines()[:2]
    assert (headline, columns.split("   ")[-1].strip()) == (HEADLINE, "buy & hold GSPC")


@pytest.mark.parametrize(
    ("strategy", "start", "end", "message"),
    [
        (
            "aapl.yaml", "2030-01-01", "2030-01-05",
            "error: no 1d AAPL candles between 2029-12-31T21:00:00Z (the last session's close by "
            "2030-01-01T00:00:00Z) and 2030-01-05T00:00:00Z: the recorded data covers "
            "2018-01-02T21:00:00Z to 2024-12-31T21:00:00Z\n",
        ),
        (
            "aapl.yaml", "2017-06-05", "2017-06-05",
            "error: no 1d AAPL candles between 2017-06-02T20:00:00Z (the last session's close by "
            "2017-06-05T00:00:00Z) and 2017-06-05T00:00:00Z: the recorded data covers "
            "2018-01-02T21:00:00Z to 2024-12-31T21:00:00Z\n",
        ),
        (
            "btc.yaml", "2010-01-01", "2010-01-31",
            "error: no 1d BTC candles between 2009-12-31T00:00:00Z (1d before "
            "2010-01-01T00:00:00Z) and 2010-01-31T00:00:00Z: the recorded data covers "
            "2017-08-18T00:00:00Z to 2026-03-31T00:00:00Z\n",
        ),
        (
            "aapl.yaml", "2022-06-18", "2022-06-19",  # a weekend: a close to read, no session
            "error: no US equity session opens from 2022-06-18T00:00:00Z to "
            "2022-06-20T00:00:00Z: AAPL cannot be traded in that period\n",
        ),
    ],
)  # fmt: skip
def test_a_period_without_bars_to_read_is_refused_with_what_it_lacks(
    in_tmp: Path, replay_dir: Path, strategy: str, start: str, end: str, message: str
):
    result = backtest(replay_dir, strategy, start, end)

    assert (result.exit_code, result.stdout, result.stderr) == (1, "", message)
    assert not (in_tmp / "r").exists()
