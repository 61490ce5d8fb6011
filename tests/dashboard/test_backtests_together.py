"""The backtests page of a report of several strategies backtested together: whose account the
figures are, and the account by strategy as ``signalops backtest`` printed it.

Regression: the page headed the account's figures ``strategy`` (the comparison's column, "More
measures of the strategy"), named none of the strategies behind them, and had no table by
strategy: a backtest of two strategies read as a backtest of one. It now says the figures are
the account of the strategies (named), heads the column ``account`` as the terminal does, and
shows the account by strategy with the terminal's and report.html's cells and lines
(``report.account_of_report`` over metrics.json's ``books``).
"""

# Fixtures come from dashboard_fixtures; their parameters "redefine" the imported names.
# ruff: noqa: F811

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import STRATEGIES, invoke
from dashboard_fixtures import (  # noqa: F401 - fixtures
    APP,
    audit_db,
    dashboard_env,
    prepared_template,
    strategies_dir,
)
from streamlit.testing.v1 import AppTest

from signalops.dashboard import documents

BANKING = str(STRATEGIES / "banking_crisis_dip.yaml")
BASELINE = str(STRATEGIES / "technical_baseline.yaml")
# Banking_Crisis_Dip has 2,000 of its own; Technical_Baseline is then denied by the cap.
ALLOCATED = "strategies:\n  Banking_Crisis_Dip: {capital: 2000}\nrisk: {max_exposure: 0.06}\n"
WHOSE = "The account of 2 strategies backtested together: Banking_Crisis_Dip and Technical_Baseline"

pytestmark = pytest.mark.usefixtures("dashboard_env")


def backtest_together(reports: Path, replay_dir: Path, tmp_path: Path) -> list[str]:
    """``signalops backtest`` of two strategies into ``reports/together``; what it printed."""
    config = tmp_path / "together.yaml"
    config.write_text(ALLOCATED, encoding="utf-8")
    printed = invoke(
        "backtest", BANKING, BASELINE, "--config", str(config), "--data", str(replay_dir),
        "--from", "2023-01-01", "--to", "2023-06-30", "--report", str(reports / "together"),
    )  # fmt: skip
    assert printed.exit_code == 0, printed.output
    return printed.stdout.splitlines()


def by_strategy(lines: list[str]) -> tuple[str, list[list[str]], list[str]]:
    """The terminal's account by strategy: its summary, its rows' cells (head first) and the
    lines under it but the last (``signalops why`` of a decision: the page links none)."""
    first = next(i for i, line in enumerate(lines) if line.startswith("account by strategy"))
    last = lines.index("", first)
    summary = lines[first].removeprefix("account by strategy · ")
    rows = [re.split(r"\s{2,}", line.strip()) for line in lines[first + 1 : first + 6]]
    del rows[1]  # the rule under the head
    assert lines[last - 1].startswith("a strategy's decision: signalops why")
    return summary, rows, lines[first + 6 : last - 1]


def page() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.sidebar.radio(key="nav.page").set_value("Backtests").run()
    assert not at.exception, at.exception
    return at


def table(at: AppTest, key: str) -> list[dict[str, Any]]:
    (frame,) = at.get_by_key(key).dataframe
    return frame.value.to_dict("records")


def test_the_page_says_whose_account_and_shows_it_by_strategy_as_the_terminal_did(
    dashboard_env: dict[str, str], replay_dir: Path, tmp_path: Path
):
    printed = backtest_together(Path(dashboard_env["SIGNALOPS_REPORTS"]), replay_dir, tmp_path)
    at = page()

    assert WHOSE in [m.value for m in at.markdown]
    comparison = table(at, "backtests.comparison")
    assert list(comparison[0]) == ["metric", "account", "buy & hold"]  # the terminal's head
    assert printed[1].split() == ["metric", "account", "buy", "&", "hold"]
    assert "**More measures of the account**" in [m.value for m in at.markdown]

    summary, rows, lines = by_strategy(printed)
    shown = table(at, "backtests.strategies")
    assert [list(shown[0]), *(list(row.values()) for row in shown)] == rows
    assert [row["strategy"] for row in shown] == [
        "account", "Banking_Crisis_Dip", "Technical_Baseline"
    ]  # fmt: skip
    captions = [c.value for c in at.caption]
    assert summary in captions
    assert all(line in captions for line in lines)
    assert (
        "risk gate denials of BUYs, by check (a denied BUY may fail several): "
        "MAX_EXPOSURE 2 (Technical_Baseline 2)" in lines
    )


def test_one_strategy_is_named_and_its_column_stays_strategy(
    dashboard_env: dict[str, str], replay_dir: Path
):
    report = Path(dashboard_env["SIGNALOPS_REPORTS"]) / "alone"
    printed = invoke(
        "backtest", BANKING, "--data", str(replay_dir), "--from", "2023-03-01", "--to",
        "2023-03-31", "--report", str(report), "--no-baseline",
    )  # fmt: skip
    assert printed.exit_code == 0, printed.output
    at = page()

    assert "Strategy: Banking_Crisis_Dip" in [m.value for m in at.markdown]
    assert list(table(at, "backtests.comparison")[0]) == ["metric", "strategy", "buy & hold"]
    with pytest.raises(KeyError):
        at.get_by_key("backtests.strategies")


def report_of(folder: Path, metrics: dict[str, Any]) -> documents.BacktestReport:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    (found,) = documents.backtest_reports(folder.parent)
    return found


def test_the_names_read_from_books_or_from_a_strategy_field_of_either_shape(
    dashboard_env: dict[str, str], replay_dir: Path, tmp_path: Path
):
    """metrics.json's ``strategy`` may be an object or a name, and ``strategies`` a list of
    objects or of names: the strategies are named alike, and a name is never shown as a
    figure of the run (it would read as the whole backtest's)."""
    reports = Path(dashboard_env["SIGNALOPS_REPORTS"])
    backtest_together(reports, replay_dir, tmp_path)
    written = json.loads((reports / "together" / "metrics.json").read_text(encoding="utf-8"))
    variants = {
        "as written": written,
        "strategy a name": {**written, "strategy": "Banking_Crisis_Dip"},
        "strategies named": {**written, "strategies": ["Banking_Crisis_Dip", "Technical_Baseline"]},
        "no strategies": {k: v for k, v in written.items() if k not in ("strategy", "strategies")},
    }
    expected = report_of(tmp_path / "a" / "together", written).account()
    assert expected is not None
    for n, (name, metrics) in enumerate(variants.items()):
        report = report_of(tmp_path / f"v{n}" / "together", metrics)
        assert report.whose() == WHOSE, name
        assert report.account() == expected, name
        assert "strategy" not in [row["metric"] for row in report.run_rows()], name
    no_books = {k: v for k, v in written.items() if k != "books"}
    names = ["Banking_Crisis_Dip", "Technical_Baseline"]
    for name, listed in (("objects", written["strategies"]), ("names", names)):
        report = report_of(tmp_path / name / "r", {**no_books, "strategies": listed})
        assert report.together and report.lead == "account", name
    single = report_of(tmp_path / "single" / "r", {"strategy": "Banking_Crisis_Dip"})
    assert (single.whose(), single.lead, single.account()) == (
        "Strategy: Banking_Crisis_Dip", "strategy", None
    )  # fmt: skip


def test_books_that_do_not_read_leave_the_table_out_and_say_so(
    dashboard_env: dict[str, str], replay_dir: Path, tmp_path: Path
):
    reports = Path(dashboard_env["SIGNALOPS_REPORTS"])
    backtest_together(reports, replay_dir, tmp_path)
    path = reports / "together" / "metrics.json"
    written = json.loads(path.read_text(encoding="utf-8"))
    written["books"]["Technical_Baseline"]["net"] = "not a number"
    path.write_text(json.dumps(written), encoding="utf-8")
    at = page()

    assert WHOSE in [m.value for m in at.markdown]
    assert "metrics.json has no readable `books`: see it as written below." in [
        c.value for c in at.caption
    ]
    with pytest.raises(KeyError):
        at.get_by_key("backtests.strategies")
