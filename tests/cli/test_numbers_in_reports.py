"""Numbers for people beyond ``why``: the run summary, reports, research tables, alerts and the
dashboard's condition table write them as ``signalops.numbers`` does.

Regression tests: ``run`` printed ``1 approvals expired``; the backtest report's trades table
showed an outcome bought at 0.953 as ``0.95``; a p-value below 0.0005 read ``0.000``; a month
that lost 0.04% read ``-0.0%``; the research and sweep tables wrote ``+1412.10%`` without its
thousands separator; the dashboard showed a 7-day return of ``-0.1322...`` against
``< -15% (= -0.15)`` where ``why`` says ``-13.22%`` and ``< -15%``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT, STRATEGIES
from conftest import invoke as run

from signalops.audit.expand import expanded
from signalops.audit.store import AuditLog
from signalops.backtest.metrics import WinRate
from signalops.backtest.sweep import SweepRow
from signalops.cli import cli, output
from signalops.cli.output import research
from signalops.dashboard.formatting import metric_rows
from signalops.dashboard.tables import leaf_rows

PIPELINE = "tests/fixtures/banking_crisis_pipeline.yaml"
DIP = str(STRATEGIES / "banking_crisis_dip.yaml")
YES = "45714870634090908403813747458214625542376052548606303175331201110938821302832"


@pytest.fixture
def in_root(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SIGNALOPS_AUDIT", "SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(ROOT)


def test_a_cycle_that_expires_one_approval_says_one_approval(
    in_root: None, replay_dir: Path, tmp_path: Path
):
    db = str(tmp_path / "audit.db")
    notify = ("--mode", "notify", "--replay", str(replay_dir), "--audit", db)
    assert run("run", PIPELINE, "--from", "2023-03-10", *notify).exit_code == 0
    # The next day's cycle finds the 15-minute approval long expired.
    later = run("run", PIPELINE, "--from", "2023-03-11", *notify)
    assert later.exit_code == 0, later.stderr
    assert later.stdout.startswith(
        "2023-03-11T00:00:00Z  1 decision: 1 BUY (1 awaiting approval, 1 approval expired)  ["
    )


def test_the_report_trades_table_keeps_an_outcome_price_digits(replay_dir: Path, tmp_path: Path):
    config = tmp_path / "signalops.yaml"
    config.write_text(
        "venues:\n  pm: {exchange: polymarket, sandbox: false}\n"
        f'assets:\n  TRUMP_YES: {{venue: pm, symbol: "{YES}"}}\nrisk:\n  max_data_age: 2d\n',
        encoding="utf-8",
    )
    args = [
        "backtest", str(ROOT / "tests" / "fixtures" / "trump_yes_dip.yaml"), "--data",
        str(replay_dir), "--config", str(config), "--from", "2024-09-01", "--to", "2025-01-31",
        "--report", str(tmp_path / "out"),
    ]  # fmt: skip
    result = CliRunner().invoke(cli, args, prog_name="signalops")
    assert result.exit_code == 0, result.stderr
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    trades = html[html.index("<th>quantity</th>") :]
    cells = re.findall(r"<td>([^<]*)</td>", trades.split("</table>")[0])
    # Two buys averaged by quantity (trades.csv: 0.55619342626...) and a sell at 0.9595 less
    # slippage (0.95902025): six significant digits, where two places said 0.56 and 0.96.
    assert cells == [
        "TRUMP_YES", "0.556193 @ 2024-11-03", "0.95902 @ 2024-11-08", "1,795.87338067", "720.70",
        "+72.08%", "2.72",
    ]  # fmt: skip


def test_a_p_value_below_what_three_places_show_is_below_0_001():
    win_rate = {"rate": 1.0, "wilson_95": [0.83, 1.0], "trades": 20, "wins": 20}
    rows = dict(metric_rows({"win_rate": win_rate | {"binomial_p_vs_50pct": 1.9e-06}}))
    assert rows["p (win rate = 50%)"] == "<0.001"


def test_a_small_months_return_keeps_its_sign_a_flat_one_is_zero_and_big_ones_are_separated():
    # -0.027% (January 2025 of the demo's election run) showed as 0.0%, like a flat month.
    assert [research._month(v) for v in (-0.00027, 0.0004, 0.0, -0.0, -0.012, -1e-6, 1e-6)] == [
        "-0.03%",
        "+0.04%",
        "0.0%",
        "0.0%",
        "-1.2%",
        "-<0.01%",
        "+<0.01%",
    ]
    assert research._percent(14.121) == "+1,412.10%"
    assert research._percent(-0.4045, sign=False) == "-40.45%"


def test_the_sweep_table_separates_thousands(capsys: pytest.CaptureFixture[str]):
    row = SweepRow(
        params={"oversold": 30}, total_return=14.121, max_drawdown=-0.4045, sharpe=1.2,
        win_rate=WinRate.of(6, 8), exposure=0.202, blocked=0, fees=1.0, open_trade=False,
    )  # fmt: skip
    output.sweep("heading", ["oversold"], [row])
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["oversold", "return", "max", "DD", "trades", "win", "rate",
                                "exposure", "blocked", "bars"]  # fmt: skip
    assert lines[3].split() == ["30", "+1,412.10%", "-40.45%", "8", "75%", "20.2%", "0"]


def test_the_dashboard_writes_a_condition_as_why_does(
    in_root: None, replay_dir: Path, tmp_path: Path
):
    db = str(tmp_path / "dip.db")
    made = run(
        "run", DIP, "--replay", str(replay_dir), "--from", "2023-03-10", "--to", "2023-03-10",
        "--audit", db,
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    with AuditLog(db) as log:
        (record,) = [r for r in log.records() if r["kind"] == "decision"]
        rows = leaf_rows(expanded(record, log))  # type: ignore[arg-type]
    shown = {row["condition"]: (row["value"], row["threshold"]) for row in rows}
    assert shown["return(7d) < -15%"] == ("-13.22%", "< -15%")
    why = run("why", "BTC", "--at", "2023-03-10", "--audit", db).stdout
    assert "value -13.22% · threshold < -15%" in why
