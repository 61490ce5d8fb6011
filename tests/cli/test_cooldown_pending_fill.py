"""COOLDOWN counts a trade from when it was placed, not from its fill.

Regression test: a stock and a coin in one book, a BUY of each decided on Saturday 2023-01-28.
The coin fills at once, the stock at Monday's 14:30 UTC open. Sunday's decision on the stock
was denied ``COOLDOWN: actual -1d 14h 30m, last trade 2023-01-30T14:30:00Z, limit 0s``: a fill
dated after the decision, a negative age, a denial with no cooldown at all.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import ROOT, with_usd_coin
from conftest import invoke as run

from signalops.adapters.snapshots import SnapshotStore
from signalops.audit.store import AuditLog
from signalops.backtest import run_backtest
from signalops.config import load_config
from signalops.pipeline import records_of_kind
from signalops.strategy import loads

EQUITIES = ROOT / "examples" / "signalops.equities.yaml"
ALWAYS = """\
strategy:
  name: always
  assets: [AAPL, BTC]
  defaults:
    params: {timeframe: 1d}
  rules:
    - id: up
      source: technical
      conditions:
        - when: "close > 0"
  execution: {position_size: 0.1, action_mode: paper}
"""
DAYS = ("--from", "2023-01-28", "--to", "2023-01-31")


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("SIGNALOPS_AUDIT", "SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    Path("always.yaml").write_text(ALWAYS, encoding="utf-8")
    return tmp_path


def config(cooldown: str) -> str:
    """The equities config (a stock order waits for the next session's open) with ``cooldown``,
    and BTC quoted in USD as the stocks are (one account holds one currency)."""
    text = with_usd_coin(EQUITIES.read_text(encoding="utf-8"))
    Path("signalops.yaml").write_text(f"{text}  cooldown: {cooldown}\n", encoding="utf-8")
    return "signalops.yaml"


def backtest(usd_coin_dir: Path, cooldown: str) -> list[str]:
    args = ["backtest", "always.yaml", "--config", config(cooldown), "--data", str(usd_coin_dir)]
    result = run(*args, *DAYS, "--report", "out")
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def sunday_cooldown() -> str:
    result = run("why", "AAPL", "--at", "2023-01-29", "--audit", "out/backtest.db")
    assert result.exit_code == 0, result.output
    (line,) = [line for line in result.stdout.splitlines() if "COOLDOWN:" in line[:20]]
    return line


def test_a_stock_order_filling_after_the_next_decision_holds_nothing_back_with_no_cooldown(
    usd_coin_dir: Path, folder: Path
):
    lines = backtest(usd_coin_dir, "0s")
    (denials,) = [line for line in lines if line.startswith("risk gate denials of BUYs")]
    assert (
        denials == "risk gate denials of BUYs, by check (a denied BUY may fail several): "
        "MAX_POSITION 5 (AAPL 2, BTC 3)"
    )
    assert sunday_cooldown() == (
        "  PASS    COOLDOWN: actual 1d, last trade 2023-01-28T00:00:00Z, limit 0s, "
        "unit time since the last trade on the asset"
    )


def test_a_stock_order_filling_after_the_next_decision_counts_from_its_placement(
    usd_coin_dir: Path, folder: Path
):
    lines = backtest(usd_coin_dir, "2d")
    (denials,) = [line for line in lines if line.startswith("risk gate denials of BUYs")]
    assert denials.endswith("; COOLDOWN 2 (AAPL 1, BTC 1)")
    # Placed Saturday 00:00 UTC, filled Monday 14:30 UTC: a day old on Sunday, not -1d 14h 30m.
    assert sunday_cooldown() == (
        "  FAIL    COOLDOWN: actual 1d, last trade 2023-01-28T00:00:00Z, limit 2d, "
        "unit time since the last trade on the asset"
    )


def utc(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def cooldowns(path: Path) -> list[tuple[str, str, str, str]]:
    """(as of, asset, age, last trade) of each decision's COOLDOWN check."""
    log = AuditLog(path)
    try:
        return [
            (r["as_of"], r["asset"], c["details"]["actual"], c["details"]["last_trade"])
            for r in records_of_kind(log, "decision")
            for c in (r.get("risk") or {}).get("checks", [])
            if c["code"] == "COOLDOWN" and c["details"]["last_trade"] is not None
        ]
    finally:
        log.close()


def test_both_engines_count_a_pending_stock_order_from_its_placement(
    usd_coin_dir: Path, tmp_path: Path, folder: Path
):
    limits = load_config(Path(config("2d")))
    replay_store = SnapshotStore(usd_coin_dir)
    found = [
        cooldowns(
            run_backtest(
                loads(ALWAYS), store=replay_store, start=utc("2023-01-28"), end=utc("2023-01-31"),
                out_dir=tmp_path / engine, config=limits, engine=engine,
            ).audit_path
        )
        for engine in ("fast", "pipeline")
    ]  # fmt: skip
    assert found[0] == found[1]
    assert ("2023-01-29T00:00:00Z", "AAPL", "86400", "2023-01-28T00:00:00Z") in found[0]
    assert all(not age.startswith("-") for _, _, age, _ in found[0])
