"""The Backtests page labels a report's money in the currency the backtest's account was in.

Regression: metrics.json named no currency and the page fell back to USDT, so a backtest the
terminal printed as ``end equity (USD)`` (a stock on a yfinance venue quoted in USD) read
``end equity (USDT)`` on the dashboard. metrics.json now has ``quote``; a report written before
it is read in its audit log's paper account, and one with neither says the currency is assumed.
"""

# Fixtures come from dashboard_fixtures; their parameters "redefine" the imported names.
# ruff: noqa: F811

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT, invoke
from dashboard_fixtures import (  # noqa: F401 - fixtures
    APP,
    audit_db,
    dashboard_env,
    prepared_template,
    strategies_dir,
)
from streamlit.testing.v1 import AppTest

from signalops.dashboard import documents

EQUITIES = ROOT / "examples" / "signalops.equities.yaml"
AAPL_TREND = ROOT / "tests" / "fixtures" / "aapl_trend.yaml"
ASSUMED = "The report names no currency"

pytestmark = pytest.mark.usefixtures("dashboard_env")


def stock_backtest(reports: Path, replay_dir: Path) -> Path:
    """A USD backtest (AAPL on the equities config's stocks venue) into ``reports/aapl``."""
    folder = reports / "aapl"
    printed = invoke(
        "backtest", str(AAPL_TREND), "--config", str(EQUITIES), "--data", str(replay_dir),
        "--from", "2022-01-01", "--to", "2022-03-31", "--report", str(folder), "--no-baseline",
    )  # fmt: skip
    assert printed.exit_code == 0, printed.output
    assert "end equity (USD)" in printed.stdout
    return folder


def the_report(reports: Path) -> documents.BacktestReport:
    (found,) = documents.backtest_reports(reports)
    return found


def labels(report: documents.BacktestReport) -> list[str]:
    return [row["metric"] for row in report.comparison()]


def without_quote(folder: Path) -> None:
    """metrics.json as written before it had ``quote``."""
    path = folder / "metrics.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data.pop("quote", None)
    data["definitions"].pop("quote", None)
    path.write_text(json.dumps(data), encoding="utf-8")


def page() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.sidebar.radio(key="nav.page").set_value("Backtests").run()
    assert not at.exception, at.exception
    return at


def test_metrics_json_names_the_accounts_currency_and_the_page_labels_money_in_it(
    dashboard_env: dict[str, str], replay_dir: Path
):
    reports = Path(dashboard_env["SIGNALOPS_REPORTS"])
    folder = stock_backtest(reports, replay_dir)
    data = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    assert data["quote"] == "USD"
    assert data["definitions"]["quote"].startswith("the paper account's currency")

    report = the_report(reports)
    assert (report.quote, report.quote_assumed) == ("USD", False)
    assert "end equity (USD)" in labels(report)
    at = page()
    cards = {m.label: m.value for m in at.metric}
    assert "End equity (USD)" in cards and "End equity (USDT)" not in cards
    assert not any(ASSUMED in c.value for c in at.caption)


def test_a_report_written_before_metrics_json_named_it_is_read_in_its_audit_logs_account(
    dashboard_env: dict[str, str], replay_dir: Path
):
    reports = Path(dashboard_env["SIGNALOPS_REPORTS"])
    folder = stock_backtest(reports, replay_dir)
    without_quote(folder)
    before = sorted(p.name for p in folder.iterdir())

    report = the_report(reports)
    assert (report.quote, report.quote_assumed) == ("USD", False)
    assert "end equity (USD)" in labels(report)
    assert sorted(p.name for p in folder.iterdir()) == before  # read, not written


def test_a_report_that_says_no_currency_anywhere_is_shown_in_usdt_said_to_be_assumed(
    dashboard_env: dict[str, str], replay_dir: Path
):
    reports = Path(dashboard_env["SIGNALOPS_REPORTS"])
    folder = stock_backtest(reports, replay_dir)
    without_quote(folder)
    (folder / "backtest.db").unlink()

    report = the_report(reports)
    assert (report.quote, report.quote_assumed) == ("USDT", True)
    at = page()
    (caption,) = [c.value for c in at.caption if ASSUMED in c.value]
    assert caption == (
        "The report names no currency (its metrics.json has no `quote`, and no paper account is "
        "beside it): its money is shown in USDT, the default, which it may not be in."
    )
