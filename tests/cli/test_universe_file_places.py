"""A universe file's assets are checked against the data before a backtest runs, each problem at
its ``file:line:column``; a ``;``- or tab-separated universe CSV reads as ``data import`` reads
such files, and a header that names its columns otherwise is told how to separate them.

Regression tests: an unknown asset on line 3 was ``error: no recorded 1d candles for DOGEX ...``
with no place in the file; ``asset;sector`` was ``the header names no asset column`` with no
word of the separator.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT, STRATEGIES
from conftest import invoke as run

from signalops.backtest.universe import parse_universe
from signalops.errors import StrategyError

DIP = str(STRATEGIES / "banking_crisis_dip.yaml")
GOLDEN = ROOT / "tests" / "golden" / "backtest_universe_BTC_ETH.txt"
PERIOD = ("--from", "2022-01-01", "--to", "2022-06-30")


def backtest(replay_dir: Path, universe: str, *extra: str):
    return run(
        "backtest", DIP, "--universe", universe, *PERIOD, "--no-baseline",
        "--data", str(replay_dir), "--report", "report", *extra,
    )  # fmt: skip


def test_an_asset_without_candles_is_an_error_at_its_line(replay_dir: Path, in_tmp: Path):
    Path("unknown.csv").write_text("asset,sector\nBTC,layer 1\nDOGEX,memes\n", encoding="utf-8")

    result = backtest(replay_dir, "unknown.csv")

    assert result.exit_code == 1
    options = f"--venue binance --timeframe 1d --to {replay_dir}"
    assert result.stderr == (
        f"error: unknown.csv:3:1: no recorded 1d candles for DOGEX in {replay_dir} (series "
        "candles/binance/DOGEX/USDT/1d): download it with 'signalops data download --source "
        f"technical --asset DOGEX/USDT {options}' or import a file with 'signalops data import "
        f"FILE --source technical --asset DOGEX/USDT {options}'\n"
        "  DOGEX,memes\n"
        "  ^\n"
    )
    assert not Path("report").exists()  # refused before anything ran


def test_every_asset_problem_of_a_file_is_told_at_once_at_its_place(replay_dir: Path, in_tmp: Path):
    Path("u.yaml").write_text("- btc\n- ETH\n- eth\n- Eth2\n", encoding="utf-8")

    result = backtest(replay_dir, "u.yaml")

    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert lines[0] == "error: u.yaml:3:3: ETH (line 2) and eth are both ETH: listed twice"
    assert lines[1].startswith(
        f"error: u.yaml:4:3: no recorded 1d candles for Eth2 in {replay_dir} (series "
        "candles/binance/Eth2/USDT/1d): did you mean ETH? "
    )
    assert len(lines) == 2


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("semicolons.csv", "asset;sector\nBTC;layer 1\nETH;layer 1\n"),
        ("tabs.csv", "asset\tsector\nBTC\tlayer 1\nETH\tlayer 1\n"),
        ("lower.csv", "asset,sector\nbtc,layer 1\neth,layer 1\n"),
    ],
)
def test_a_universe_csv_separated_by_semicolons_or_tabs_or_in_lower_case_runs_as_the_golden(
    replay_dir: Path, in_tmp: Path, name: str, text: str
):
    Path(name).write_text(text, encoding="utf-8")
    Path("sectors.yaml").write_text("risk: {max_sector: 0.08}\n", encoding="utf-8")

    result = backtest(replay_dir, name, "--config", "sectors.yaml")

    assert result.exit_code == 0, result.stderr
    below = result.stdout[result.stdout.index("portfolio by asset") :]
    assert below == GOLDEN.read_text(encoding="utf-8").replace("crypto.csv", name)
    data = json.loads(Path("report", "metrics.json").read_text(encoding="utf-8"))
    assert data["universe"]["sectors"]["layer 1"]["assets"] == ["BTC", "ETH"]


def test_a_semicolon_file_keeps_its_sectors_and_its_places():
    universe = parse_universe("Name;Symbol;Sector\nApple;AAPL;tech\n\nJPMorgan;JPM;\n", "u.csv")
    assert (universe.assets, dict(universe.sectors)) == (("AAPL", "JPM"), {"AAPL": "tech"})
    with pytest.raises(StrategyError) as caught:
        parse_universe("asset;sector\nAAPL;tech\nMS FT;tech\n", "u.csv")
    assert str(caught.value) == "u.csv:3:1: 'MS FT' is not an asset symbol such as BTC or AAPL"


def test_a_header_with_another_separator_is_told_which_ones_are_read(
    replay_dir: Path, in_tmp: Path
):
    Path("pipes.csv").write_text("asset|sector\nBTC|layer 1\n", encoding="utf-8")

    result = backtest(replay_dir, "pipes.csv")

    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        "error: pipes.csv:1:1: the header names no asset column (one of: asset, ticker, symbol) "
        "(separate the columns with ',', ';' or a tab, e.g. asset,sector)"
    )
