"""Numbers as people read them (``signalops.numbers``) and as the dashboard applies them
(``signalops.dashboard.formatting``): the rules of the CLI's tables, known answers each."""

# Fixtures come from dashboard_fixtures (see test_app.py for why not a conftest.py).
# ruff: noqa: F811

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from dashboard_fixtures import audit_db, pending, prepared_template  # noqa: F401 - fixtures

from signalops import numbers
from signalops.audit.store import AuditLog
from signalops.dashboard import formatting, tables


@pytest.mark.parametrize(
    ("shown", "expected"),
    [
        (numbers.percent(0.0380766), "3.81%"),
        (numbers.percent(0.0380766, signed=True), "+3.81%"),
        (numbers.percent(10.249000558783282, signed=True), "+1,024.90%"),
        (numbers.percent(0.12903225806451613, digits=1), "12.9%"),
        (numbers.percent(-0.000594418005670172), "-0.06%"),
        (numbers.ratio(42.5413), "42.54"),
        (numbers.ratio(-3.7162818904871204), "-3.72"),
        (numbers.ratio(-0.0041), "0.00"),  # a sign on no digit says nothing
        (numbers.ratio(Decimal("-0.004")), "0.00"),
        (numbers.ratio(-1234.567), "-1,234.57"),
        (numbers.money("10090.44565756130350810", "USDT"), "10,090.45 USDT"),
        (numbers.money(Decimal("-90.455"), signed=True), "-90.46"),
        # A record's money is a Decimal string, never rounded through a float (2.67499...).
        (numbers.money("2.675"), "2.68"),
        (numbers.money(2.675), "2.67"),
        (numbers.price("1437.32", "USDT"), "1,437.32 USDT"),
        (numbers.price(0.000123456), "0.0001235"),
        (numbers.count(1_000_000), "1,000,000"),
        (numbers.quantity("0.34785224"), "0.34785224"),
        (numbers.quantity("1250.000"), "1,250"),
        (numbers.quantity("-1234.5"), "-1,234.5"),
        (numbers.number(0.0380766), "0.03808"),
        (numbers.number(1234.5678), "1,234.57"),
        (numbers.number(365.0), "365"),
    ],
)
def test_numbers_read_as_the_cli_prints_them(shown: str, expected: str):
    assert shown == expected


@pytest.mark.parametrize("format_", [numbers.percent, numbers.ratio, numbers.money, numbers.count])
def test_a_missing_value_is_a_dash_and_text_stays_text(format_: Any):
    assert format_(None) == "—"
    assert format_("inactive") == "inactive"
    assert format_(float("nan")) == "nan"


def test_metrics_it_does_not_know_are_read_by_their_names():
    assert formatting.metric_text("sortino", 42.5413) == "42.54"
    assert formatting.metric_text("cagr", 0.0380766) == "+3.81%"
    assert formatting.metric_text("hit_rate", 0.61234) == "61.23%"
    assert formatting.metric_text("peak_equity", "10500.123") == "10,500.12"
    assert formatting.metric_text("mystery", 0.000123456) == "0.0001235"
    assert formatting.metric_text("timeframe", "1d") == "1d"
    assert formatting.metric_label("end_equity", "USD") == "end equity (USD)"


def test_drawdown_and_win_rate_split_into_the_cli_rows():
    section = {
        "max_drawdown": {"depth": -0.1472, "peak": "2023-03-02T00:00:00Z",
                         "trough": "2023-03-11T05:00:00Z", "recovered": None},
        "trades": 3,
        "open_trades": 1,
        "win_rate": {"wins": 2, "trades": 3, "rate": 2 / 3, "wilson_95": [0.2077, 0.9385],
                     "binomial_p_vs_50pct": 1.0},
    }  # fmt: skip
    assert formatting.metric_rows(section) == [
        ("max drawdown", "-14.72%"),
        ("drawdown peak", "2023-03-02 00:00"),  # an hourly curve (its trough at 05:00)
        ("drawdown trough", "2023-03-11 05:00"),
        ("recovered", "not yet"),
        ("trades", "3 (+1 open)"),
        ("win rate [95% CI]", "67% [21%, 94%]"),
        ("p (win rate = 50%)", "1.000"),
    ]


def test_a_missing_calmar_reads_with_its_reason_and_a_figure_plainly():
    assert formatting.metric_rows({"calmar": None, "calmar_gap": "under a year"}) == [
        ("Calmar", "— (under a year)")
    ]
    assert formatting.metric_rows({"calmar": 2.5, "calmar_gap": None}) == [("Calmar", "2.50")]


def test_monthly_returns_and_tail_risk_read_as_percentages():
    monthly = {"2023": {"months": [None, None, 0.00904456575613044, *[None] * 9],
                        "year": 0.00904456575613044}}  # fmt: skip
    (row,) = formatting.monthly_rows(monthly)
    assert (row["year"], row["Feb"], row["Mar"], row["total"]) == ("2023", "", "+0.9%", "+0.9%")
    # A small return keeps its digits and a flat month has no sign, as in the terminal's table
    # (they read +0.0%, -0.0% and +0.0%, as if nothing had moved).
    small = {"2023": {"months": [0.0001, -0.00027, 0.0, *[None] * 9], "year": -0.00017}}
    (row,) = formatting.monthly_rows(small)
    assert (row["Jan"], row["Feb"], row["Mar"], row["total"]) == (
        "+0.01%",
        "-0.03%",
        "0.0%",
        "-0.02%",
    )
    rows = formatting.tail_risk_rows(
        [
            {"method": "historical", "confidence": 0.95, "horizon": 1, "observations": 31,
             "var": 9.092337350857793e-05, "cvar": 0.00034267068958937497, "error": None},
            {"method": "historical", "confidence": 0.99, "horizon": 1, "observations": 31,
             "var": None, "cvar": None, "error": "INSUFFICIENT_HISTORY"},
        ]
    )  # fmt: skip
    assert [(r["confidence"], r["VaR"], r["CVaR"], r["why not"]) for r in rows] == [
        ("95%", "0.01%", "0.03%", ""),
        ("99%", "—", "—", "INSUFFICIENT_HISTORY"),
    ]


def test_risk_checks_show_actual_and_limit_in_their_units(audit_db: Path, pending: tuple[str, str]):
    with AuditLog(audit_db) as log:
        record = log.get(pending[1])
    assert record is not None
    checks = {row["check"]: row for row in tables.risk_rows(record["risk"], "USDT")}

    position = checks["MAX_POSITION"]
    assert (position["actual"], position["limit"]) == ("5.00%", "10.00%")
    assert position["details"] == "equity 9,999.25 USDT, position value 499.96 USDT"
    assert (checks["DATA_STALE"]["actual"], checks["DATA_STALE"]["limit"]) == ("0s", "2d")
    assert checks["MIN_NOTIONAL"]["actual"] == "499.96 USDT"
    assert checks["MAX_NOTIONAL"]["limit"] == "10,000.00 USDT"
    # A loss far below its limit keeps two significant digits (not "-0.00%").
    assert checks["MAX_DAILY_LOSS"]["actual"] == "-0.0075%"
    assert checks["MAX_DAILY_LOSS"]["limit"] == "3.00%"
    assert checks["NO_POSITION"]["actual"] == "0.34784354"
    assert checks["TRADING_STATE"]["details"] == "allowed BUY/SELL"
    assert checks["COOLDOWN"]["actual"] == "—" and checks["COOLDOWN"]["limit"] == "3d"
    assert {row["result"] for row in checks.values()} == {"PASS"}
