"""Figures at one precision each: ``trades.csv``'s prices and money, ``why``'s sector value.

Regression tests: ``trades.csv`` wrote each figure at whatever precision its arithmetic left
(an average of two fills' prices ``20266.05719579567107215771264``, a PnL
``187.03964780220075720``, a return ``0.18681504533280482`` beside a price ``24100.213865``);
``why`` showed MAX_SECTOR's ``sector value 1000.2243...`` where every other value of equity
reads as money (``equity 9,999.50``).
"""

from __future__ import annotations

from pathlib import Path

from conftest import STRATEGIES
from conftest import invoke as run

DIP = str(STRATEGIES / "banking_crisis_dip.yaml")


def test_trades_csv_writes_prices_to_six_places_and_money_to_four(replay_dir: Path, in_tmp: Path):
    # The README's banking-crisis round trip: BTC bought on 03-10 and 03-11 (the entry price is
    # their quantity-weighted average), sold on 03-14.
    made = run(
        "backtest", DIP, "--data", str(replay_dir), "--from", "2023-01-01", "--to",
        "2023-06-30", "--no-baseline", "--report", "report",
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    assert Path("report", "trades.csv").read_text(encoding="utf-8").splitlines() == [
        "asset,status,entry_time,entry_price,exit_time,exit_price,quantity,pnl,return,fees,"
        "entry_decisions,exit_decisions",
        "BTC,closed,2023-03-10T00:00:00Z,20266.057196,2023-03-14T00:00:00Z,24100.213865,"
        "0.04935356,187.0396,0.186815,2.1896,"
        "dec-4a2a50ec8216e1d7ba161921 dec-12fd46dc60e7caf5086e5af2,dec-c55785400f42c44fc69b4213",
    ]


def test_why_says_the_sector_value_of_a_max_sector_denial_as_money(replay_dir: Path, in_tmp: Path):
    # BTC and ETH in one sector, at most 8% of equity: after a 5% BUY of BTC on 2022-01-08,
    # the same day's 5% BUY of ETH would take the sector to 10%.
    Path("crypto.csv").write_text("asset,sector\nBTC,layer 1\nETH,layer 1\n", encoding="utf-8")
    Path("sectors.yaml").write_text("risk: {max_sector: 0.08}\n", encoding="utf-8")
    made = run(
        "backtest", DIP, "--universe", "crypto.csv", "--config", "sectors.yaml", "--data",
        str(replay_dir), "--from", "2022-01-01", "--to", "2022-06-30", "--no-baseline",
        "--report", "report",
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    result = run("why", "ETH", "--at", "2022-01-08", "--audit", "report/backtest.db")
    assert result.exit_code == 0, result.stderr
    figures = (
        "actual 10.0004%, equity 9,999.25, limit 8%, sector layer 1, sector value 999.96, "
        "unit fraction of equity"
    )
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"ETH at 2022-01-08T00:00:00Z: DENIED by the risk gate: MAX_SECTOR ({figures})"
    )
    assert f"  FAIL    MAX_SECTOR: {figures}" in lines
