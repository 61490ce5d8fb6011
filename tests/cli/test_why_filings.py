"""``why`` names the filing each SEC EDGAR fundamental came from: form, filing date and period.

Regression tests: a fundamentals leaf showed its value and data time only
(``price_to_book = 42.0016 at 2023-03-09T21:00:00Z (3h old, max 7d)``), while the record's
observation detail cites every filed fact the value was computed from.

Known answers from the bundled company facts (``examples/data/equities/edgar``), not from the
code under test: Apple filed its 10-Q for the quarter ended 2022-12-31 on 2023-02-03 (with the
quarter ended 2021-12-25 as comparative, and shares outstanding as of 2023-01-20 on its cover
page), its 10-K for the fiscal year ended 2022-09-24 on 2022-10-28, and the 10-Qs for the
quarters ended 2022-06-25 and 2022-03-26 on 2022-07-29 and 2022-04-29.
"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import ROOT, STRATEGIES
from conftest import invoke as run

EQUITIES = str(ROOT / "examples" / "signalops.equities.yaml")

# Trailing P/E reads four quarters of diluted EPS (the fiscal Q4 derived from the 10-K's year
# less three quarters); shares_outstanding reads the latest cover page.
EARNINGS = """\
strategy:
  name: "Earnings_Probe"
  assets: ["AAPL"]
  rules:
    - id: earnings
      source: fundamental
      conditions:
        - when: "trailing_pe < 30"
        - when: "shares_outstanding > 1B"
"""


def decided(strategy: str, replay_dir: Path, report: Path, day: str) -> str:
    """The audit log of a one-day backtest of ``strategy`` on the bundled AAPL at ``day``."""
    made = run(
        "backtest", strategy, "--config", EQUITIES, "--data", str(replay_dir), "--asset", "AAPL",
        "--from", day, "--to", day, "--no-baseline", "--report", str(report),
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    return str(report / "backtest.db")


def test_why_of_a_graham_decision_names_the_10q_its_price_to_book_and_ncav_came_from(
    in_tmp: Path, replay_dir: Path
):
    graham = str(STRATEGIES / "graham_value_event_filter.yaml")
    audit = decided(graham, replay_dir, in_tmp / "graham", "2023-03-10")

    result = run("why", "AAPL", "--at", "2023-03-10", "--audit", audit)

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    start = lines.index("├── FAIL    rule graham_value: all of")
    assert lines[start : start + 11] == [
        "├── FAIL    rule graham_value: all of",
        "│   ├── FAIL    price_to_book < 1.5   fundamental",
        "│   │       value 42.0016 · threshold < 1.5",
        "│   │       price_to_book = 42.0016 at 2023-03-09T21:00:00Z (3h old, max 7d)",
        "│   │         10-Q filed 2023-02-03, period ended 2022-12-31",
        "│   └── FAIL    close < 0.67 * ncav_per_share   technical",
        "│           value 150.59 · threshold < 0.67 * ncav_per_share (= -6.82804)",
        "│           close(timeframe=1d) = 150.59 at 2023-03-09T21:00:00Z (3h old, max 7d)",
        "│           ncav_per_share = -10.1911 at 2023-03-10T00:00:00Z (0s old, max 7d)",
        "│             10-Q filed 2023-02-03, period ended 2022-12-31",
        "└── FAIL    rule oversold [technical]: all of",
    ]


def test_why_of_a_trailing_pe_names_each_filing_of_its_four_quarters_newest_first(
    in_tmp: Path, replay_dir: Path
):
    strategy = in_tmp / "earnings.yaml"
    strategy.write_text(EARNINGS, encoding="utf-8")
    audit = decided(str(strategy), replay_dir, in_tmp / "earnings", "2023-03-01")

    result = run("why", "AAPL", "--at", "2023-03-01", "--audit", audit)

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    start = lines.index("PASS    BUY when this rule passes")
    assert lines[start : start + 14] == [
        "PASS    BUY when this rule passes",
        "└── PASS    rule earnings [fundamental]: all of",
        "    ├── PASS    trailing_pe < 30   fundamental",
        "    │       value 25.0272 · threshold < 30",
        "    │       trailing_pe = 25.0272 at 2023-02-28T21:00:00Z (3h old, max 7d)",
        "    │         10-Q filed 2023-02-03, periods ended 2022-12-31 and 2021-12-25",
        "    │         10-K filed 2022-10-28, period ended 2022-09-24",
        "    │         10-Q filed 2022-07-29, period ended 2022-06-25",
        "    │         10-Q filed 2022-04-29, period ended 2022-03-26",
        "    └── PASS    shares_outstanding > 1B   fundamental",
        "            value 15.82B · threshold > 1B",
        "            shares_outstanding = 15.82B at 2023-03-01T00:00:00Z (0s old, max 7d)",
        "              10-Q filed 2023-02-03, cover page as of 2023-01-20",
        "SELL: no exit rules",
    ]


def test_why_json_gives_a_fundamental_reading_the_filed_facts_it_was_computed_from(
    in_tmp: Path, replay_dir: Path
):
    strategy = in_tmp / "earnings.yaml"
    strategy.write_text(EARNINGS, encoding="utf-8")
    audit = decided(str(strategy), replay_dir, in_tmp / "earnings", "2023-03-01")

    result = run("why", "AAPL", "--at", "2023-03-01", "--audit", audit, "--json")

    assert result.exit_code == 0, result.stderr
    leaves = {leaf["text"]: leaf for leaf in json.loads(result.stdout)["leaves"]}
    (reading,) = leaves["shares_outstanding > 1B"]["readings"]
    assert reading["facts"] == [
        {
            "accn": "0000320193-23-000006",
            "concept": "dei:EntityCommonStockSharesOutstanding",
            "end": "2023-01-20",
            "filed": "2023-02-03",
            "form": "10-Q",
            "val": 15821946000.0,
        }
    ]
    (reading,) = leaves["trailing_pe < 30"]["readings"]
    forms = sorted({(fact["form"], fact["filed"]) for fact in reading["facts"]})
    assert forms == [
        ("10-K", "2022-10-28"),
        ("10-Q", "2022-04-29"),
        ("10-Q", "2022-07-29"),
        ("10-Q", "2023-02-03"),
    ]
