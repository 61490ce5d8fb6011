"""An asset typed on the command line in another case than the data's: ``backtest --asset eth``,
``backtest --universe btc,eth``, ``sweep --asset eth`` and ``walkforward --asset eth`` run on
the recorded ETH, as ETH; where a backtest is asked for candles of a name the data has only in
another case (the library, ``stress``), the error says which name and suggests no download.

Regression tests: each command failed with ``error: no recorded 1d candles for eth in ...:
download it with 'signalops data download --source technical --asset eth/USDT ...'`` while the
data holds ETH's, and that download would not have helped.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import STRATEGIES
from conftest import invoke as run

from signalops.adapters.snapshots import SnapshotStore
from signalops.backtest.bars import Bars
from signalops.errors import DataNotFound

BASELINE = str(STRATEGIES / "technical_baseline.yaml")
DIP = str(STRATEGIES / "banking_crisis_dip.yaml")
DAY = 86400


def test_sweep_of_an_asset_in_lower_case_screens_the_recorded_one(replay_dir: Path):
    def sweep(asset: str) -> str:
        result = run(
            "sweep", BASELINE, "--grid", "oversold=25,30", "--from", "2022-01-01",
            "--to", "2022-12-31", "--asset", asset, "--data", str(replay_dir),
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        return result.stdout

    lower, upper = sweep("eth"), sweep("ETH")

    assert lower == upper
    assert "Technical_Baseline · ETH · " in lower


def test_walkforward_of_an_asset_in_lower_case_walks_the_recorded_one(replay_dir: Path):
    def walk(asset: str) -> str:
        result = run(
            "walkforward", BASELINE, "--grid", "oversold=25,30", "--from", "2022-01-01",
            "--to", "2023-06-30", "--train", "180d", "--test", "90d", "--asset", asset,
            "--data", str(replay_dir),
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        return result.stdout

    assert walk("eth") == walk("ETH")


def test_backtest_of_an_asset_in_lower_case_decides_on_the_recorded_one(
    replay_dir: Path, in_tmp: Path
):
    def backtest(asset: str, report: str) -> str:
        result = run(
            "backtest", BASELINE, "--asset", asset, "--from", "2023-03-01", "--to", "2023-03-20",
            "--data", str(replay_dir), "--report", report,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        return result.stdout.replace(report, "REPORT")

    assert backtest("eth", "lower") == backtest("ETH", "upper")
    listed = run("decisions", "--limit", "1", "--audit", "lower/backtest.db")
    assert listed.stdout.split()[:2] == ["2023-03-20T00:00:00Z", "ETH"]
    assert json.loads(Path("lower", "metrics.json").read_text())["assets"] == ["ETH"]


def test_a_universe_list_in_lower_case_is_the_recorded_assets(replay_dir: Path, in_tmp: Path):
    def backtest(universe: str, report: str) -> str:
        result = run(
            "backtest", DIP, "--universe", universe, "--from", "2022-01-01", "--to", "2022-03-31",
            "--no-baseline", "--data", str(replay_dir), "--report", report,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        return result.stdout.replace(report, "REPORT")

    assert backtest("btc,Eth", "lower") == backtest("BTC,ETH", "upper")
    assert json.loads(Path("lower", "metrics.json").read_text())["assets"] == ["BTC", "ETH"]


def test_a_benchmark_in_lower_case_is_the_recorded_one(replay_dir: Path, in_tmp: Path):
    def backtest(benchmark: str, report: str) -> str:
        result = run(
            "backtest", BASELINE, "--benchmark", benchmark, "--from", "2023-03-01",
            "--to", "2023-03-20", "--data", str(replay_dir), "--report", report,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        return result.stdout.replace(report, "REPORT")

    assert backtest("eth", "lower") == backtest("ETH", "upper")


def test_two_spellings_of_one_asset_in_a_universe_list_are_refused(replay_dir: Path, in_tmp: Path):
    result = run(
        "backtest", DIP, "--universe", "eth,BTC,ETH", "--from", "2022-01-01",
        "--to", "2022-03-31", "--data", str(replay_dir),
    )  # fmt: skip

    assert result.exit_code == 1
    assert result.stderr == "error: --universe: eth and ETH are both ETH: listed twice\n"


def test_an_asset_in_no_case_recorded_still_says_what_to_download(replay_dir: Path):
    result = run(
        "sweep", BASELINE, "--grid", "oversold=25,30", "--from", "2022-01-01",
        "--to", "2022-12-31", "--asset", "doge", "--data", str(replay_dir),
    )  # fmt: skip

    assert result.exit_code == 1
    options = f"--venue binance --timeframe 1d --to {replay_dir}"
    assert result.stderr == (
        f"error: no recorded 1d candles for doge in {replay_dir} (series "
        "candles/binance/doge/USDT/1d): download it with 'signalops data download --source "
        f"technical --asset doge/USDT {options}' or import a file with 'signalops data import "
        f"FILE --source technical --asset doge/USDT {options}'\n"
    )


def test_candles_asked_for_in_another_case_name_the_recorded_asset_and_no_download(
    replay_store: SnapshotStore, replay_dir: Path
):
    with pytest.raises(DataNotFound) as caught:
        Bars.load(replay_store, "eth", DAY)

    assert str(caught.value) == (
        f"no recorded 1d candles for eth in {replay_dir}: did you mean ETH? "
        "(its candles are series candles/binance/ETH/USDT/1d)"
    )


def test_candles_of_a_near_name_suggest_it_and_still_the_download(
    replay_store: SnapshotStore, replay_dir: Path
):
    with pytest.raises(DataNotFound) as caught:
        Bars.load(replay_store, "BTCC", DAY)

    assert str(caught.value).startswith(
        f"no recorded 1d candles for BTCC in {replay_dir} (series candles/binance/BTCC/USDT/1d): "
        "did you mean BTC? (its candles are series candles/binance/BTC/USDT/1d); if not, "
        "download it with 'signalops data download --source technical --asset BTCC/USDT "
    )


def test_names_are_taken_as_recorded_only_when_one_name_differs_but_for_case(
    replay_store: SnapshotStore,
):
    from signalops.backtest.bars import as_recorded

    assert as_recorded(["eth", "Btc", "BTC", "doge", "BTC/USDT"], replay_store) == (
        "ETH", "BTC", "BTC", "doge", "BTC/USDT",
    )  # fmt: skip
