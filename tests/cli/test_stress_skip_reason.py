"""A prediction-market shock is skipped for a strategy that reads no Polymarket data with that
reason, worded as an outage of a source it does not read is.

Regression test: ``stress`` on a technical-only strategy skipped ``election_odds_collapse`` with
``no recorded market '511754'``, as if recording the market would make the scenario apply.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import DATA
from conftest import invoke as run

TECHNICAL = """\
strategy:
  name: Trend
  assets: [BTC]
  rules:
    - id: up
      source: technical
      conditions:
        - when: "close > sma(20)"
"""
# The same, gated by another market than the scenario's.
OTHER_MARKET = (
    TECHNICAL
    + """\
  vetoes:
    - id: odds
      source: polymarket
      conditions:
        - market: "123456"
          operator: "<"
          threshold: 0.5
"""
)


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("SIGNALOPS_CONFIG", "SIGNALOPS_AUDIT", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def skipped(strategy: str, data: Path) -> list[str]:
    Path("s.yaml").write_text(strategy, encoding="utf-8")
    result = run("stress", "s.yaml", "--scenario", "election_odds_collapse", "--data", str(data))
    assert result.exit_code == 1, result.output  # the one scenario chosen did not run
    return [line for line in result.stderr.splitlines() if line.startswith("skipped")]


def test_a_strategy_without_polymarket_data_is_told_so_where_the_market_is_not_recorded(
    in_tmp: Path,
):
    candles = str(DATA / "ohlcv" / "Binance_BTCUSDT_d.csv")
    imported = run("data", "import", candles, "--source", "technical", "--asset", "BTC",
                   "--to", "btc")  # fmt: skip
    assert imported.exit_code == 0, imported.output

    assert skipped(TECHNICAL, in_tmp / "btc") == [
        "skipped election_odds_collapse: not applicable: Trend reads no polymarket data"
    ]


def test_and_where_the_market_is_recorded(in_tmp: Path, replay_dir: Path):
    assert skipped(TECHNICAL, replay_dir) == [
        "skipped election_odds_collapse: not applicable: Trend reads no polymarket data"
    ]


def test_a_strategy_on_another_market_is_told_it_reads_no_market_of_the_shock(
    in_tmp: Path, replay_dir: Path
):
    assert skipped(OTHER_MARKET, replay_dir) == [
        "skipped election_odds_collapse: not applicable: Trend reads no market '511754'"
    ]
