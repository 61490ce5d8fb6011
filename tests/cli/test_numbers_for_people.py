"""Numbers in ``why``, ``approve`` and ``evaluate`` as a trader reads them.

Regression tests: ``approve`` printed ``paper BUY 0.02455527 BTC at 20372.40111 USDT (fee
0.5002498098043497)``; ``why`` printed ``notional 499.9998098994``, ``DATA_STALE: actual 0, ...
limit 172800, unit seconds``, ``COOLDOWN: actual None, last trade None`` and ``equity
9994.0555740221459503``; ``evaluate`` and ``why`` printed a 7-day return of ``-0.0193101``
under a ``< -15%`` threshold. The records keep the exact figures: ``why --json`` prints them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT, STRATEGIES
from conftest import invoke as run

from signalops import numbers
from signalops.explain.figures import details_text

PIPELINE = str(ROOT / "tests" / "fixtures" / "banking_crisis_pipeline.yaml")
DIP = str(STRATEGIES / "banking_crisis_dip.yaml")


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("SIGNALOPS_AUDIT", "SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def march(in_tmp: Path, replay_dir: Path) -> str:
    """The README's pipeline run, 2023-03-08..16 (a BUY filled on the 10th, a COOLDOWN denial
    on the 11th, a SELL filled on the 14th)."""
    made = run(
        "run", PIPELINE, "--replay", str(replay_dir), "--from", "2023-03-08", "--to",
        "2023-03-16", "--every", "1d", "--audit", "march.db",
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    return "march.db"


def tail(text: str, first: str) -> list[str]:
    lines = text.splitlines()
    return lines[lines.index(first) :]


def test_why_writes_the_risk_checks_order_and_fill_for_people(march: str):
    result = run("why", "BTC", "--at", "2023-03-10", "--audit", march)
    assert result.exit_code == 0, result.stderr
    assert tail(result.stdout, "RISK: approved") == [
        "RISK: approved",
        "  PASS    KILL_SWITCH: actual inactive, file none, limit inactive, unit kill switch",
        "  PASS    TRADING_STATE: actual BUY, allowed BUY/SELL, limit ACTIVE, unit trading state",
        "  PASS    DATA_STALE: actual 0s, as of 2023-03-10T00:00:00Z, data time "
        "2023-03-10T00:00:00Z, limit 2d, unit duration",
        "  PASS    DUPLICATE_DECISION: actual 1, decision id dec-06b9f3bcf8279e462f0c49f6, "
        "limit 1, unit executions of this decision",
        "  PASS    NO_POSITION: does not apply to this BUY",
        "  PASS    MAX_POSITION: actual 5%, equity 10,000.00, limit 10%, position value 500.00, "
        "unit fraction of equity",
        "  PASS    MAX_EXPOSURE: actual 5%, equity 10,000.00, exposure 500.00, limit 50%, "
        "unit fraction of equity",
        "  PASS    MAX_DAILY_LOSS: actual 0%, day start equity 10,000.00, equity 10,000.00, "
        "limit 3%, unit fraction of day-start equity (change)",
        "  PASS    ORDER_RATE: actual 1, limit 10, unit orders in the last hour, this one included",
        "  PASS    COOLDOWN: actual no earlier trade, last trade none yet, limit 3d, "
        "unit time since the last trade on the asset",
        "  PASS    MIN_NOTIONAL: actual 500.00, limit 10.00, unit quote currency",
        "  PASS    MAX_NOTIONAL: actual 500.00, limit 10,000.00, unit quote currency",
        "ORDER: BUY 0.02455527 BTC at 20,362.22 USDT (notional 500.00 USDT), "
        "client order so-06b9f3bcf8279e462f0c49f6",
        "EXECUTION: FILLED: paper BUY 0.02455527 BTC at 20,372.40 USDT (fee 0.50 USDT)",
        "  fill 0.02455527 BTC at 20,372.40 USDT, fee 0.50 USDT (paper) at 2023-03-10T00:00:00Z",
        "  venue order paper-1",
        "FOLLOW-UPS:",
        "  2023-03-10T00:00:00Z  filled 0.02455527 BTC at 20,372.40 USDT, fee 0.50 USDT (paper)",
    ]


def test_why_says_a_denial_in_durations_and_an_odd_equity_to_the_cent(march: str):
    result = run("why", "BTC", "--at", "2023-03-11", "--audit", march)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "BTC at 2023-03-11T00:00:00Z: DENIED by the risk gate: COOLDOWN (actual 1d, last trade "
        "2023-03-10T00:00:00Z, limit 3d, unit time since the last trade on the asset)"
    )
    assert [line for line in lines if "MAX_POSITION" in line or "MAX_DAILY" in line] == [
        "  PASS    MAX_POSITION: actual 9.951%, equity 9,994.06, limit 10%, "
        "position value 994.51, unit fraction of equity",
        "  PASS    MAX_DAILY_LOSS: actual 0%, day start equity 9,994.06, day start marks (BTC "
        "(at 2023-03-11T00:00:00Z, price 20,150.69, source market)), equity 9,994.06, limit 3%, "
        "unit fraction of day-start equity (change)",
    ]
    assert "ORDER: BUY 0.02479829 BTC at 20,150.69 (notional 499.70), " in result.stdout


def test_why_json_keeps_every_figure_as_recorded(march: str):
    result = run("why", "BTC", "--at", "2023-03-11", "--json", "--audit", march)
    told = json.loads(result.stdout)
    assert told["headline"] == (
        "DENIED by the risk gate: COOLDOWN (actual 86400, last trade 2023-03-10T00:00:00Z, "
        "limit 259200, unit seconds since the last trade on the asset)"
    )
    assert told["order"]["notional"] == "499.7026543201"
    bought = json.loads(run("why", "BTC", "--at", "2023-03-10", "--json", "--audit", march).stdout)
    assert bought["execution"]["message"] == (
        "paper BUY 0.02455527 BTC at 20372.40111 USDT (fee 0.5002498098043497)"
    )
    assert bought["followups"][0]["summary"] == (
        "filled 0.02455527 BTC at 20372.401110, fee 0.5002498098043497 (paper)"
    )


def test_approve_says_the_fill_price_and_fee_in_the_quote_currency(in_tmp: Path, replay_dir: Path):
    made = run(
        "run", PIPELINE, "--mode", "notify", "--replay", str(replay_dir), "--from",
        "2023-03-10", "--audit", "notify.db",
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    listed = run("approvals", "--at", "2023-03-10T00:01:00Z", "--audit", "notify.db")
    approval = listed.stdout.split()[0]
    result = run(
        "approve", approval, "--by", "alice", "--replay", str(replay_dir),
        "--at", "2023-03-10T00:05:00Z", "--audit", "notify.db",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        f"{approval}: FILLED — paper BUY 0.02455527 BTC at 20,372.40 USDT (fee 0.50 USDT)\n"
    )


def test_evaluate_shows_a_return_as_a_percentage_under_a_percentage_threshold(
    in_tmp: Path, replay_dir: Path
):
    result = run("evaluate", DIP, "--at", "2023-03-13", "--data", str(replay_dir))
    assert result.exit_code == 0, result.stderr
    assert tail(result.stdout, "└── FAIL    rule stop_loss [technical]: all of")[:3] == [
        "└── FAIL    rule stop_loss [technical]: all of",
        "    └── FAIL    return(7d) < -15%   technical · max age 2d · line 32",
        "            return(7d) = -1.93% at 2023-03-13T00:00:00Z (0s old, max 2d)",
    ]


def test_why_shows_a_return_leaf_as_percentages(in_tmp: Path, replay_dir: Path):
    made = run(
        "run", DIP, "--replay", str(replay_dir), "--from", "2023-03-13", "--audit", "dip.db",
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    result = run("why", "BTC", "--at", "2023-03-13", "--audit", "dip.db")
    assert tail(result.stdout, "└── FAIL    rule stop_loss [technical]: all of")[:4] == [
        "└── FAIL    rule stop_loss [technical]: all of",
        "    └── FAIL    return(7d) < -15%   technical",
        "            value -1.93% · threshold < -15%",
        "            return(timeframe=1d, window=7d) = -1.93% at 2023-03-13T00:00:00Z "
        "(0s old, max 2d)",
    ]


def test_a_denied_figure_is_never_shown_equal_to_its_limit():
    # Rounded, 10.00001% and 500.004 would read as the limit they broke.
    assert details_text({"actual": "0.1000001", "limit": "0.10", "unit": "fraction of equity"}) == (
        "actual 10.00001%, limit 10%, unit fraction of equity"
    )
    assert details_text({"actual": "9.999", "limit": "10", "unit": "quote currency"}) == (
        "actual 9.999, limit 10, unit quote currency"
    )
    assert details_text({"actual": "90061", "limit": "86400", "unit": "seconds"}) == (
        "actual 1d 1h 1m 1s, limit 1d, unit duration"
    )


def test_shared_number_words():
    assert [numbers.p_value(p) for p in (0.0, 0.00049, 0.0123, None)] == [
        "<0.001",
        "<0.001",
        "0.012",
        "—",
    ]
    assert [numbers.counted(n, "approval") for n in (1, 2, 1500)] == [
        "1 approval",
        "2 approvals",
        "1,500 approvals",
    ]
    assert [numbers.percent_trimmed(v, digits=1, signed=True) for v in (-0.0004, 14.121)] == [
        "+0%",
        "+1,412.1%",
    ]
    assert [numbers.trade_price(v) for v in ("20372.401110", 1.234567, "0.953", 0)] == [
        "20,372.40",
        "1.23457",
        "0.953",
        "0.00",
    ]
    assert [numbers.duration(s) for s in (0, "172800", 5400.5, -60)] == [
        "0s",
        "2d",
        "1h 30m 0.5s",
        "-1m",
    ]


PRICE_RULES = """\
strategy:
  name: "P"
  assets: ["BTC"]
  defaults:
    params:
      timeframe: 1d
  rules:
    - id: above
      source: technical
      conditions:
        - when: "close > 20000"
        - when: "close > sma(20) * 95%"
"""


def test_a_price_compared_with_a_share_of_another_reads_as_a_price_not_a_percentage(
    in_tmp: Path, replay_dir: Path
):
    Path("p.yaml").write_text(PRICE_RULES)
    result = run("evaluate", "p.yaml", "--at", "2023-03-12", "--data", str(replay_dir))
    assert result.exit_code == 0, result.stderr
    line = "    └── FAIL    close > sma(20) * 95%   technical · max age 2d · line 12"
    assert tail(result.stdout, line)[:4] == [
        "    └── FAIL    close > sma(20) * 95%   technical · max age 2d · line 12",
        "            close = 20,455.73 at 2023-03-12T00:00:00Z (0s old, max 2d)",
        "            sma(20) = 22,772.76 at 2023-03-12T00:00:00Z (0s old, max 2d)",
        "            threshold = 21,634.12",
    ]


def test_a_plain_threshold_in_thousands_is_not_repeated_in_another_form(
    in_tmp: Path, replay_dir: Path
):
    Path("p.yaml").write_text(PRICE_RULES)
    made = run(
        "run", "p.yaml", "--replay", str(replay_dir), "--from", "2023-03-12", "--audit", "p.db"
    )
    assert made.exit_code == 0, made.stderr
    result = run("why", "BTC", "--at", "2023-03-12", "--audit", "p.db")
    assert tail(result.stdout, "    ├── PASS    close > 20000   technical")[:2] == [
        "    ├── PASS    close > 20000   technical",
        "    │       value 20,455.73 · threshold > 20000",
    ]
    assert "            value 20,455.73 · threshold > sma(20) * 95% (= 21,634.12)" in (
        result.stdout.splitlines()
    )


def test_a_fee_that_rounds_to_no_cent_keeps_its_digits():
    from signalops.explain.figures import fee_text

    assert fee_text("0.005", "USDT") == "0.005 USDT"  # half a cent: 0.00 would say none
    assert fee_text("0.0042", "USDT") == "0.0042 USDT"
    assert fee_text("0.5002498", "USDT") == "0.50 USDT"
    assert fee_text("0", "USDT") == "0.00 USDT"


def test_a_backtests_counts_have_thousands_separators(in_tmp: Path, replay_dir: Path):
    """It printed '· 35041 periods of 1h' (and 'trades 2783', 'BUYs denied 42137') beside
    notes that wrote 1,258."""
    from signalops.cli import output

    assert output.count(1258, "session") == "1,258 sessions"
    hourly = str(ROOT / "tests" / "fixtures" / "hourly_rsi.yaml")
    result = run(
        "backtest", hourly, "--data", str(replay_dir), "--from", "2023-01-01", "--to",
        "2023-03-31", "--report", "r", "--no-baseline",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    title = result.stdout.splitlines()[0]
    assert title.endswith(" · 2,137 periods of 1h"), title
