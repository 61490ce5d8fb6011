"""``signalops backtest --universe``: the portfolio by asset and sector, the metrics beyond the
side-by-side table, and the sections of ``metrics.json``.

What the command prints below the side-by-side table is a golden file
(``tests/golden/backtest_universe_BTC_ETH.txt``, byte for byte); the side-by-side table above it
is the report's (``tests/test_backtest.py``).
"""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import Result
from conftest import ROOT, STRATEGIES, invoke

from signalops.adapters import registry
from signalops.adapters.snapshots import SnapshotStore
from signalops.backtest.metrics import period_returns, relative
from signalops.backtest.study import run_study
from signalops.backtest.universe import read_universe
from signalops.config import load_config
from signalops.strategy import loads

GOLDEN = ROOT / "tests" / "golden"
DIP = STRATEGIES / "banking_crisis_dip.yaml"
EQUITIES = ROOT / "examples" / "signalops.equities.yaml"
SECTORS = "asset,sector\nBTC,layer 1\nETH,layer 1\n"
PERIOD = ("--from", "2022-01-01", "--to", "2022-06-30")


def below_the_table(stdout: str) -> str:
    """What the command prints after the side-by-side table's block (the report's)."""
    return stdout[stdout.index("portfolio by asset") :]


@pytest.fixture
def universe_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)  # the file is named as given, relative: the same in the golden
    Path("crypto.csv").write_text(SECTORS, encoding="utf-8")
    Path("sectors.yaml").write_text("risk: {max_sector: 0.08}\n", encoding="utf-8")
    return "crypto.csv"


def test_a_universe_backtest_prints_each_asset_its_sector_and_the_months(
    replay_dir: Path, universe_file: str
):
    # BTC and ETH in one sector, at most 8% of equity: after a 5% BUY of one, a 5% BUY of the
    # other is denied MAX_SECTOR.
    result = invoke(
        "backtest", str(DIP), "--universe", universe_file, "--config", "sectors.yaml", *PERIOD,
        "--no-baseline", "--data", str(replay_dir), "--report", "report",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    expected = (GOLDEN / "backtest_universe_BTC_ETH.txt").read_text(encoding="utf-8")
    assert below_the_table(result.stdout) == expected
    data = json.loads(Path("report", "metrics.json").read_text(encoding="utf-8"))
    assert data["assets"] == ["BTC", "ETH"]
    universe = data["universe"]
    assert universe["source"] == "crypto.csv"
    assert universe["sectors"]["layer 1"]["assets"] == ["BTC", "ETH"]
    nets = [Decimal(universe["assets"][a]["net"]) for a in ("BTC", "ETH")]
    assert sum(nets) == Decimal(universe["portfolio"]["equity_change"])
    assert Decimal(universe["portfolio"]["end_equity"]) == Decimal(data["metrics"]["end_equity"])
    assert data["extended"]["relative_to"] == "buy_and_hold"
    assert data["extended"]["trades"]["trades"] == 1
    assert universe["assets"]["BTC"]["denials"] == {"MAX_POSITION": 1, "MAX_SECTOR": 6}


def test_universe_and_asset_together_are_refused(replay_dir: Path, universe_file: str):
    result = invoke(
        "backtest", str(DIP), "--universe", "BTC,ETH", "--asset", "BTC", *PERIOD,
        "--data", str(replay_dir),
    )  # fmt: skip
    assert result.exit_code == 1
    assert result.stderr == (
        "error: --universe and --asset both name the assets: give one of them\n"
    )


def test_a_mistake_in_the_universe_file_is_an_error_line_at_its_place(
    replay_dir: Path, universe_file: str
):
    Path("bad.csv").write_text("asset,sector\nBTC,layer 1\nET H,layer 1\n", encoding="utf-8")
    result = invoke(
        "backtest", str(DIP), "--universe", "bad.csv", *PERIOD, "--data", str(replay_dir)
    )
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        "error: bad.csv:3:1: 'ET H' is not an asset symbol such as BTC or AAPL"
    )
    assert not Path("reports").exists()  # refused before anything ran


def test_a_universe_asset_without_data_fails_before_the_backtest(
    replay_dir: Path, universe_file: str
):
    result = invoke(
        "backtest", str(DIP), "--universe", "BTC,DOGE", *PERIOD, "--data", str(replay_dir)
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("error: no recorded 1d candles for DOGE")


STOCK_TREND = (ROOT / "tests" / "fixtures" / "aapl_trend.yaml").read_text(encoding="utf-8")


def test_with_a_benchmark_asset_alpha_and_beta_are_against_its_buy_and_hold(
    replay_dir: Path, tmp_path: Path
):
    study = run_study(
        loads(STOCK_TREND, "stock_trend.yaml", registry.catalogue()),
        store=SnapshotStore(replay_dir),
        start=datetime(2023, 1, 1, tzinfo=UTC),
        end=datetime(2023, 12, 31, tzinfo=UTC),
        out_dir=tmp_path,
        config=load_config(EQUITIES),
        universe=read_universe("AAPL,MSFT,NVDA"),
        benchmark="GSPC",
        baseline=False,
        report=False,
    )
    assert study.relative_to == "GSPC"
    assert study.benchmark is not None
    index = [float(p.equity) for p in study.benchmark.equity]
    curve = [float(p.equity) for p in study.result.equity]
    expected = relative(period_returns(curve), period_returns(index), 252.0)  # per session
    assert study.extended.relative == expected
    assert expected.beta is not None and expected.beta > 0  # long stocks move with the index
    assert study.quote == "USD"
    assert study.parts.net == study.parts.equity_change
    assert sum(p.trades for p in study.parts.assets) == study.result.metrics.trades > 0


def test_the_readmes_universe_example_runs_on_the_bundled_files_as_shown(
    replay_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # The README named a crypto.csv and a max_sector config that were nowhere to be found.
    monkeypatch.chdir(ROOT)
    result = invoke(
        "backtest", "strategies/banking_crisis_dip.yaml", "--universe",
        "examples/universes/crypto.csv", "--config", "examples/signalops.sectors.yaml", *PERIOD,
        "--data", str(replay_dir), "--report", str(tmp_path / "report"),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = readme[readme.index("portfolio by asset · 2 assets") :]
    printed = below_the_table(result.stdout)
    lines = printed.splitlines()
    assert lines and shown.startswith("\n".join(lines[:12]))


EQUAL_QUARTERS = ROOT / "tests" / "fixtures" / "equal_quarters.yaml"
# The equities' config with room for all-in: a quarter of equity per stock, all of it in all.
ALL_IN_LIMITS = "  max_position: 0.25\n  max_exposure: 1\n  max_notional: 1000000\n"


def equal_quarters(replay_dir: Path, tmp_path: Path, capital: str, report: str = "r") -> Result:
    """``signalops backtest`` of Equal_Quarters over 2019's first quarter into ``report``, in
    one account or with ``capital`` (its config's ``strategies:`` line)."""
    config = tmp_path / "signalops.yaml"
    equities = EQUITIES.read_text(encoding="utf-8")
    config.write_text(
        equities.replace("  max_data_age: 4d\n", "  max_data_age: 4d\n" + ALL_IN_LIMITS) + capital,
        encoding="utf-8",
    )
    return invoke(
        "backtest", str(EQUAL_QUARTERS), "--config", str(config), "--from", "2019-01-01",
        "--to", "2019-03-31", "--no-baseline", "--data", str(replay_dir), "--report",
        str(tmp_path / report),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("capital", "asked", "ordered", "check"),
    [
        (
            "",
            "58.90461784",
            "56.4061759",
            "asked cost 2,520.18, asked quantity 58.90461784, cash 2,413.29, cost 2,413.29",
        ),
        (
            "strategies: {Equal_Quarters: {capital: 5000}}\n",
            "29.45230892",
            "28.20308797",
            "asked cost 1,260.09, asked quantity 29.45230892, cash 1,206.64, cost 1,206.64",
        ),
    ],
    ids=["account", "own-capital"],
)
def test_the_last_equal_share_of_an_all_in_book_buys_what_the_cash_pays_and_says_so(
    replay_dir: Path, tmp_path: Path, capital: str, asked: str, ordered: str, check: str
):
    """Four stocks at a quarter of equity each: the first three quarters' fees (and their
    moves) leave the last one, AAPL's, short of its cash. Every AAPL entry was refused until
    one was sold: on the account denied MAX_EXPOSURE at 100% (31 of 35 entries), on its own
    capital refused INSUFFICIENT_FUNDS by the paper broker (31 orders failed). It buys what
    the cash pays, the note says so, and the record says what was asked."""
    result = equal_quarters(replay_dir, tmp_path, capital)
    assert result.exit_code == 0, result.stderr
    log = tmp_path / "r" / "backtest.db"
    why = f"signalops why dec-3c554e6d1de5f4f3370ad8f1 --audit {log}"
    assert result.stderr.splitlines()[0] == (
        "note: 1 BUY asked for more than the cash left and bought what it paid, slippage and "
        f"fee included (the first, AAPL at 2019-02-13T00:00:00Z: {ordered} of {asked}; {why})"
    )
    assert "failed at the paper broker" not in result.stderr
    assert "the risk gate denied" not in result.stderr
    told = invoke(*why.split()[1:]).stdout.splitlines()
    assert [line for line in told if "CASH_SIZE" in line] == [
        f"  PASS    CASH_SIZE: {check}, fee bps 10, slippage bps 5"
    ]
    assert f"ORDER: BUY {ordered} AAPL at 42.72 USD" in "\n".join(told)
    assert "EXECUTION: FILLED: " in "\n".join(told)


def test_the_report_page_carries_the_notes_of_its_own_run(replay_dir: Path, tmp_path: Path):
    """The page's notes read the audit log at the path it is published to, before it was
    there: a first run's page had none of the notes that read the log (BUYs cut, the limits of
    entries denied), and a run into the folder of another read that one's log."""
    for capital in ("", "strategies: {Equal_Quarters: {capital: 5000}}\n"):
        result = equal_quarters(replay_dir, tmp_path, capital)
        assert result.exit_code == 0, result.stderr
        page = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
        told = re.findall(r"<p class=note>(note: .*?)</p>", page)
        assert told == [html.escape(line) for line in result.stderr.splitlines()]
        assert len(told) == 2  # the cash cut, then the price's rise
