"""``signalops backtest A.yaml B.yaml``: several strategies backtested together, as ``signalops
run`` runs them (one paper account, each strategy's own book, the config's allocations, one
audit log), with the account's table and a table by strategy.

Regression: ``backtest`` took one strategy, so the combination a trader runs live could not be
backtested (two files: ``Got unexpected extra argument``).
"""

from __future__ import annotations

import json
import re
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import ROOT, STRATEGIES, invoke

from signalops.audit.store import AuditLog
from signalops.pipeline import records_of_kind

BANKING = str(STRATEGIES / "banking_crisis_dip.yaml")
BASELINE = str(STRATEGIES / "technical_baseline.yaml")
PERIOD = ("--from", "2023-01-01", "--to", "2023-06-30")
NAMES = ("Banking_Crisis_Dip", "Technical_Baseline")
# Banking_Crisis_Dip has 2,000 of its own; the account's exposure is capped at 6%.
ALLOCATED = "strategies:\n  Banking_Crisis_Dip: {capital: 2000}\nrisk: {max_exposure: 0.06}\n"


@pytest.fixture
def folder(in_tmp: Path) -> Path:
    Path("signalops.yaml").write_text("risk: {}\n", encoding="utf-8")
    return in_tmp


def backtest(replay_dir: Path, *args: str) -> tuple[list[str], str]:
    result = invoke("backtest", *args, *PERIOD, "--data", str(replay_dir), "--report", "report")
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines(), result.stderr


def by_strategy(lines: list[str]) -> list[str]:
    """The table by strategy and the lines under it, to the blank line that ends them."""
    first = next(i for i, line in enumerate(lines) if line.startswith("account by strategy"))
    last = lines.index("", first)
    return lines[first:last]


def test_two_strategies_run_in_one_account_each_in_its_own_book(replay_dir: Path, folder: Path):
    lines, _ = backtest(replay_dir, BANKING, BASELINE)
    assert lines[0] == (
        "Banking_Crisis_Dip + Technical_Baseline · BTC · 2023-01-01 → 2023-06-30 · 181 periods "
        "of 1d"
    )
    assert lines[1] == "metric                        account   buy & hold"
    assert lines[16] == "end equity (USDT)           10,373.95    18,393.65"
    assert lines[21:23] == [
        "filter (Banking_Crisis_Dip: usdc_outflow): 0 decisions blocked",
        "no vetoes-removed baseline for strategies run together (removing one's vetoes changes "
        "what the others can do in the account): backtest a file alone for its baseline",
    ]
    assert by_strategy(lines) == [
        "account by strategy · 2 strategies in one account, sharing 10,000.00 USDT of starting "
        "cash",
        "strategy               capital   assets   realised   unrealised   fees   net PnL   "
        "of start   trades   win rate   exposure   BUYs denied",
        "─" * 136,
        "account              10,000.00      BTC    +378.33        +0.00   4.38   +373.95     "
        "+3.74%        2       100%       2.2%             0",
        "Banking_Crisis_Dip      shared      BTC    +189.17        +0.00   2.19   +186.98     "
        "+1.87%        1       100%       2.2%             0",
        "Technical_Baseline      shared      BTC    +189.16        +0.00   2.19   +186.97     "
        "+1.87%        1       100%       2.2%             0",
        "the strategies' net PnL adds up to the equity change: +373.95 = 10,373.95 - 10,000.00",
        "at each time they decide in the order named (Banking_Crisis_Dip then Technical_Baseline): "
        "the first takes the cash and the limits' room first; another order may trade otherwise",
        "shared: no capital of its own in the config (strategies: {NAME: {capital: ...}}), the "
        "book spends the account's cash; of start: the net PnL over the book's capital, else "
        "over the account's starting cash",
        "a strategy's decision: signalops why BTC --at 2023-03-10T00:00:00Z --strategy "
        "Banking_Crisis_Dip --audit report/backtest.db",
    ]
    assert "monthly returns (account, UTC months)" in lines
    # The page has the same table.
    page = Path("report", "report.html").read_text(encoding="utf-8")
    assert "<h2>Account by strategy</h2>" in page
    assert (
        "<tr><td>Technical_Baseline</td><td>shared</td><td>BTC</td><td>+189.16</td>"
        "<td>+0.00</td><td>2.19</td><td>+186.97</td><td>+1.87%</td><td>1</td><td>100%</td>"
        "<td>2.2%</td><td>0</td></tr>"
    ) in page
    # Each trade is a book's round trip, named with its strategy.
    trades = Path("report", "trades.csv").read_text(encoding="utf-8").splitlines()
    assert [row.split(",")[:3] for row in trades] == [
        ["strategy", "asset", "status"],
        ["Banking_Crisis_Dip", "BTC", "closed"],
        ["Technical_Baseline", "BTC", "closed"],
    ]


def test_the_accounts_fills_are_the_union_of_each_strategys_fills(replay_dir: Path, folder: Path):
    backtest(replay_dir, BANKING, BASELINE)
    log_path = Path("report", "backtest.db")
    with AuditLog.open_readonly(log_path) as log:
        owner = {r["decision_id"]: r["strategy"]["name"] for r in records_of_kind(log, "decision")}
        fills = records_of_kind(log, "fill")
    assert set(owner.values()) == set(NAMES)
    each = {name: {f["id"] for f in fills if owner[f["decision_id"]] == name} for name in NAMES}
    assert all(each.values())  # both traded
    assert each[NAMES[0]].isdisjoint(each[NAMES[1]])
    assert each[NAMES[0]] | each[NAMES[1]] == {f["id"] for f in fills}
    # The paper account's ledger holds those fills, each in its strategy's book.
    with sqlite3.connect(log_path) as db:
        ledger = {
            row[0]: row[1] for row in db.execute("SELECT decision_id, strategy FROM paper_fills")
        }
    assert ledger == {f["decision_id"]: owner[f["decision_id"]] for f in fills}
    data = json.loads(Path("report", "metrics.json").read_text(encoding="utf-8"))
    books = data["books"]
    assert [s["name"] for s in data["strategies"]] == list(NAMES)
    change = Decimal(data["universe"]["portfolio"]["equity_change"])
    assert sum(Decimal(books[name]["net"]) for name in NAMES) == change
    assert sum(books[name]["trades"] for name in NAMES) == data["metrics"]["trades"] == 2


def test_a_strategys_capital_from_the_config_is_its_book(replay_dir: Path, folder: Path):
    Path("signalops.yaml").write_text(ALLOCATED, encoding="utf-8")
    lines, stderr = backtest(replay_dir, BANKING, BASELINE)
    # Banking_Crisis_Dip buys 5% of its 2,000 (not of the account's 10,000); Technical_Baseline's
    # 5% of the account then passes the account's 6% exposure cap and is denied.
    assert by_strategy(lines)[:6] == [
        "account by strategy · 2 strategies in one account with 10,000.00 USDT of starting "
        "cash; capital: Banking_Crisis_Dip 2,000.00; Technical_Baseline shares the account",
        "strategy               capital   assets   realised   unrealised   fees   net PnL   "
        "of start   trades   win rate   exposure   BUYs denied",
        "─" * 136,
        "account              10,000.00      BTC     +37.85        +0.00   0.44    +37.41     "
        "+0.37%        1       100%       2.2%             2",
        "Banking_Crisis_Dip    2,000.00      BTC     +37.85        +0.00   0.44    +37.41     "
        "+1.87%        1       100%       2.2%             0",
        "Technical_Baseline      shared      BTC      +0.00        +0.00   0.00     +0.00     "
        "+0.00%        0          —       0.0%             2",
    ]
    assert (
        "risk gate denials of BUYs, by check (a denied BUY may fail several): "
        "MAX_EXPOSURE 2 (Technical_Baseline 2)" in by_strategy(lines)
    )
    with AuditLog.open_readonly(Path("report", "backtest.db")) as log:
        bought = [
            Decimal(f["fill"]["notional"])
            for f in records_of_kind(log, "fill")
            if f["fill"]["side"] == "BUY"
        ]
    # 5% of 2,000, sized at the decision's close and filled at the next open with slippage.
    assert [round(notional) for notional in bought] == [100, 100]
    data = json.loads(Path("report", "metrics.json").read_text(encoding="utf-8"))
    assert data["books"]["Banking_Crisis_Dip"]["capital"] == "2000"
    assert data["books"]["Technical_Baseline"]["capital"] is None
    assert stderr.startswith(
        "note: the risk gate denied 2 of 3 BUYs made while its strategy's book held none of the "
        "asset (Technical_Baseline 2: MAX_EXPOSURE 2 at limit 6%; the last: signalops why dec-"
    )


def test_the_strategy_named_first_takes_the_room_first_and_the_table_says_the_order(
    replay_dir: Path, folder: Path
):
    """Under one exposure cap the order the strategies decide in decides who is denied; nothing
    said so (the README's example held in one order only)."""
    Path("signalops.yaml").write_text(ALLOCATED, encoding="utf-8")
    first, _ = backtest(replay_dir, BANKING, BASELINE)
    swapped, _ = backtest(replay_dir, BASELINE, BANKING)
    order = (
        "at each time they decide in the order named ({}): the first takes the cash and the "
        "limits' room first; another order may trade otherwise"
    )
    assert order.format("Banking_Crisis_Dip then Technical_Baseline") in by_strategy(first)
    assert order.format("Technical_Baseline then Banking_Crisis_Dip") in by_strategy(swapped)
    denied = "risk gate denials of BUYs, by check (a denied BUY may fail several): MAX_EXPOSURE "
    assert denied + "2 (Technical_Baseline 2)" in by_strategy(first)
    assert denied + "2 (Technical_Baseline 1, Banking_Crisis_Dip 1)" in by_strategy(swapped)


def test_a_globs_many_files_report_under_the_first_and_how_many_more(
    replay_dir: Path, folder: Path
):
    """Every name joined by + made a folder name past the file system's limit: the run failed
    at its end ('File name too long')."""
    names = [f"technical_baseline_long_name_variant_{i}" for i in range(10)]
    text = Path(BASELINE).read_text(encoding="utf-8")
    for i, name in enumerate(names):
        Path(f"{name}.yaml").write_text(
            text.replace('name: "Technical_Baseline"', f'name: "Variant_{i}"'), encoding="utf-8"
        )
    result = invoke("backtest", *(f"{n}.yaml" for n in names), *PERIOD, "--data", str(replay_dir))
    assert result.exit_code == 0, result.output
    assert Path("reports", f"{names[0]}+9_more", "report.html").is_file()


def test_why_explains_each_strategys_decision_in_the_log(replay_dir: Path, folder: Path):
    backtest(replay_dir, BANKING, BASELINE)
    for name in NAMES:
        result = invoke(
            "why", "BTC", "--at", "2023-03-10", "--strategy", name, "--audit",
            "report/backtest.db",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert lines[0] == "BTC at 2023-03-10T00:00:00Z: BOUGHT"
        assert lines[1].startswith(f"{name}  sha256:")


def test_a_folder_of_strategies_runs_them_together(replay_dir: Path, folder: Path):
    Path("mine").mkdir()
    for path in (BANKING, BASELINE):
        Path("mine", Path(path).name).write_text(Path(path).read_text(encoding="utf-8"))
    Path("mine", "signalops.yaml").write_text("risk: {}\n")  # a config beside them: not one
    result = invoke("backtest", "mine", *PERIOD, "--data", str(replay_dir))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Banking_Crisis_Dip + Technical_Baseline · BTC ·")
    assert Path("reports", "mine", "backtest.db").is_file()


def test_one_strategy_prints_what_it_printed_before(replay_dir: Path, folder: Path):
    lines, _ = backtest(replay_dir, BANKING)
    assert lines[:2] == [
        "Banking_Crisis_Dip · BTC · 2023-01-01 → 2023-06-30 · 181 periods of 1d",
        "metric                       strategy     vetoes removed   buy & hold",
    ]
    assert lines[16] == "end equity (USDT)           10,187.04          10,187.04    18,393.65"
    assert lines[21] == "filter (usdc_outflow): 0 decisions blocked"
    assert "account by strategy" not in "\n".join(lines)
    assert "monthly returns (strategy, UTC months)" in lines
    data = json.loads(Path("report", "metrics.json").read_text(encoding="utf-8"))
    assert "books" not in data and "strategies" not in data
    header = Path("report", "trades.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("asset,status,")


@pytest.mark.parametrize(
    ("option", "error"),
    [
        (
            ("--universe", "BTC,ETH"),
            "error: --universe runs one strategy over many assets: give one strategy file, or "
            "--asset to run every strategy on the same assets\n",
        ),
        (
            ("--each-asset",),
            "error: --each-asset backtests one strategy asset by asset: give one strategy file "
            "(several run together in one account)\n",
        ),
    ],
)
def test_options_of_one_strategy_are_refused_for_several_in_one_line(
    replay_dir: Path, folder: Path, option: tuple[str, ...], error: str
):
    result = invoke("backtest", BANKING, BASELINE, *option, *PERIOD, "--data", str(replay_dir))
    assert result.exit_code == 1
    assert result.stderr == error
    assert not Path("reports").exists()


def test_two_files_of_one_strategy_name_are_refused_as_run_refuses_them(
    replay_dir: Path, folder: Path
):
    text = Path(BASELINE).read_text(encoding="utf-8")
    Path("twin.yaml").write_text(text.replace("Technical_Baseline", "Banking_Crisis_Dip"))
    result = invoke("backtest", BANKING, "twin.yaml", *PERIOD, "--data", str(replay_dir))
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {BANKING} and twin.yaml both name strategy Banking_Crisis_Dip: one file per "
        "name (they would share one book, its positions and its cooldown)\n"
    )
    run = invoke("run", BANKING, "twin.yaml", "--replay", str(replay_dir), "--from", "2023-03-10")
    assert run.stderr == result.stderr


def test_strategies_of_different_timeframes_need_every(replay_dir: Path, folder: Path):
    Path("hourly.yaml").write_text(
        'strategy:\n  name: "Hourly_RSI"\n  assets: ["BTC"]\n  rules:\n    - id: oversold\n'
        '      source: technical\n      conditions:\n        - when: "rsi(14, 1h) < 30"\n'
        "  execution: {position_size: 0.05, action_mode: paper}\n",
        encoding="utf-8",
    )
    args = ("--from", "2023-03-01", "--to", "2023-03-05", "--data", str(replay_dir))
    result = invoke("backtest", BASELINE, "hourly.yaml", *args)
    assert result.exit_code == 1
    assert result.stderr == (
        "error: the strategies read candles of different timeframes (Technical_Baseline 1d, "
        "Hourly_RSI 1h) and decide together at the same times: choose them with --every "
        "(e.g. --every 1h)\n"
    )
    chosen = invoke("backtest", BASELINE, "hourly.yaml", *args, "--every", "1h")
    assert chosen.exit_code == 0, chosen.output
    assert chosen.stdout.startswith(
        "Technical_Baseline + Hourly_RSI · BTC · 2023-03-01 → 2023-03-05 · 97 periods of 1h\n"
    )


def test_the_readmes_example_prints_as_shown(
    replay_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(ROOT)
    result = invoke(
        "backtest", "strategies/banking_crisis_dip.yaml", "strategies/technical_baseline.yaml",
        "--config", "examples/signalops.together.yaml", *PERIOD, "--data", str(replay_dir),
        "--report", str(tmp_path / "report"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = readme[readme.index("$ signalops backtest strategies/banking_crisis_dip.yaml strat") :]
    shown = shown[: shown.index("```")].splitlines()
    assert shown[2:6] == lines[:4]
    table = by_strategy(lines)
    start = shown.index(table[0])
    # The last line cites the log, under --report here and reports/... in the README.
    assert shown[start : start + len(table) - 1] == table[:-1]
    assert table[-1].startswith(shown[start + len(table) - 1].split(" --audit ")[0])


def test_asset_runs_every_strategy_on_those_assets_and_the_tables_agree(
    replay_dir: Path, folder: Path
):
    result = invoke(
        "backtest", BANKING, BASELINE, "--asset", "BTC", "--asset", "ETH", "--from",
        "2022-01-01", "--to", "2022-12-31", "--data", str(replay_dir), "--report", "report",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(Path("report", "metrics.json").read_text(encoding="utf-8"))
    assert [s["assets"] for s in data["strategies"]] == [["BTC", "ETH"], ["BTC", "ETH"]]
    books, assets = data["books"], data["universe"]["assets"]
    # A trade is a book's round trip, counted alike by strategy, by asset and for the account.
    trades = data["metrics"]["trades"]
    assert sum(b["trades"] for b in books.values()) == trades == 12
    assert sum(a["trades"] for a in assets.values()) == trades
    change = Decimal(data["universe"]["portfolio"]["equity_change"])
    assert sum(Decimal(b["net"]) for b in books.values()) == change
    assert sum(Decimal(a["net"]) for a in assets.values()) == change
    by_asset = {
        asset: sum(Decimal(b["by_asset"][asset]["net"]) for b in books.values()) for asset in assets
    }
    assert by_asset == {asset: Decimal(a["net"]) for asset, a in assets.items()}


def test_blocked_decisions_are_counted_by_strategy_when_several_have_vetoes(
    replay_dir: Path, folder: Path
):
    """The filter line said '11 decisions blocked' without saying whose."""
    election = str(STRATEGIES / "election_odds_gate.yaml")
    result = invoke(
        "backtest", election, BANKING, "--from", "2024-10-01", "--to", "2025-01-31", "--data",
        str(replay_dir), "--report", "report",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("filter (")]
    assert line.startswith(
        "filter (Election_Odds_Gate: election_odds, 11 blocked; Banking_Crisis_Dip: "
        "usdc_outflow, 0 blocked): 11 decisions blocked"
    )


def test_metrics_json_names_every_strategy_not_the_first_as_its_strategy(
    replay_dir: Path, folder: Path
):
    """Its ``strategy`` named the first strategy alone (its file, hash and vetoes), as if it had
    run by itself; the others were only in a list at the end of the file."""
    backtest(replay_dir, BANKING, BASELINE)
    data = json.loads(Path("report", "metrics.json").read_text(encoding="utf-8"))
    assert list(data)[:2] == ["strategy", "strategies"]
    assert data["strategy"] == {
        "name": "Banking_Crisis_Dip + Technical_Baseline",
        "file": None,
        "hash": None,
        "vetoes": None,
    }
    assert [(s["name"], s["vetoes"]) for s in data["strategies"]] == [
        ("Banking_Crisis_Dip", ["usdc_outflow"]),
        ("Technical_Baseline", []),
    ]
    assert {"strategy", "strategies"} <= set(data["definitions"])


def test_each_blocked_decision_in_metrics_json_says_whose_it_is(replay_dir: Path, folder: Path):
    """The blocked decisions of several strategies (and the acted-on BUYs played out beside
    them) carried no strategy: two strategies' blocks read as one list of nobody's."""
    election = str(STRATEGIES / "election_odds_gate.yaml")
    pipeline = str(ROOT / "tests" / "fixtures" / "banking_crisis_pipeline.yaml")
    result = invoke(
        "backtest", election, pipeline, "--from", "2023-03-01", "--to", "2023-03-31", "--data",
        str(replay_dir), "--report", "report",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(Path("report", "metrics.json").read_text(encoding="utf-8"))
    blocked, signals = data["blocked"]["decisions"], data["signals"]["decisions"]
    assert [(d["strategy"], d["as_of"][:10], d["blocked_by"]) for d in blocked] == [
        ("Banking_Crisis_Pipeline", "2023-03-12", ["usdc_outflow"]),
        ("Election_Odds_Gate", "2023-03-20", ["election_odds"]),
        ("Election_Odds_Gate", "2023-03-23", ["election_odds"]),
        ("Election_Odds_Gate", "2023-03-26", ["election_odds"]),
    ]
    with AuditLog.open_readonly(Path("report", "backtest.db")) as log:
        owner = {r["decision_id"]: r["strategy"]["name"] for r in records_of_kind(log, "decision")}
    assert signals
    assert all(d["strategy"] == owner[d["decision_id"]] for d in blocked + signals)
    assert list(blocked[0])[:2] == ["strategy", "decision_id"]


def all_in(name: str, risk: str = "") -> str:
    """technical_baseline.yaml as ``name``, 100% of its book at every BUY (denied MAX_POSITION
    and MAX_EXPOSURE under the default limits), with ``risk`` (its own ``risk:`` section)."""
    text = (
        Path(BASELINE)
        .read_text(encoding="utf-8")
        .replace("position_size: 0.05", "position_size: 1.0")
    )
    Path(f"{name}.yaml").write_text(
        text.replace("Technical_Baseline", name) + risk, encoding="utf-8"
    )
    return f"{name}.yaml"


def test_the_denied_entries_note_quotes_each_strategys_own_limit(replay_dir: Path, folder: Path):
    """The note quoted the limit of the last denial's record, another strategy's: Tight_All_In,
    whose own risk: caps a position at 5%, read 'MAX_POSITION 14 at limit 10%'."""
    tight = all_in("Tight_All_In", "  risk:\n    max_position: 0.05\n")
    result = invoke(
        "backtest", tight, all_in("All_In"), "--from", "2022-01-01", "--to", "2022-03-31",
        "--data", str(replay_dir), "--report", "report",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert re.fullmatch(
        r"note: nothing was bought: the risk gate denied every BUY, 14 BUYs \(Tight_All_In 7: "
        r"MAX_POSITION 7 at limit 5%, MAX_EXPOSURE 7 at limit 50%; All_In 7: MAX_POSITION 7 at "
        r"limit 10%, MAX_EXPOSURE 7 at limit 50%; the last: signalops why dec-[0-9a-f]{24} "
        r"--audit report/backtest\.db\)\n",
        result.stderr,
    ), result.stderr


def test_one_strategy_and_several_read_their_setup_through_one_function(
    replay_dir: Path, folder: Path
):
    """The setup before a backtest runs (the config with --venue, the replay data, --asset and
    --benchmark as the data spell them, each strategy's weekend warning) was written twice, in
    cli.backtest and a near copy in cli.together; both commands read it through one now."""
    from datetime import UTC, datetime

    from signalops.catalogue import installed
    from signalops.cli.backtest import BacktestAsked, backtest_setup
    from signalops.strategy import load

    asked = BacktestAsked(
        start=datetime(2023, 1, 1, tzinfo=UTC), end=datetime(2023, 6, 30, tzinfo=UTC),
        every=None, horizon=None, data_dir=replay_dir, report_dir=None, assets=("eth",),
        benchmark="btc", config_file=None, venue=None,
    )  # fmt: skip
    files = (Path(BANKING), Path(BASELINE))
    ready = backtest_setup(asked, files, [load(f, installed.catalogue()) for f in files])
    assert (ready.assets, ready.benchmark, ready.universe) == (("ETH",), "BTC", None)
    assert ready.settings.file == "signalops.yaml"
