"""DATA_STALE follows the strategy's timeframe unless a config sets ``risk.max_data_age``.

A daily strategy run at 06:00 decides on the candle that closed at midnight: six hours old, and
as fresh as daily data gets. The gate's limit defaults to the largest staleness limit of the
leaves the decision relied on (two bars of their candle timeframe), never below 15 minutes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT

from signalops.audit.store import AuditLog
from signalops.cli import cli
from signalops.codes import Code
from signalops.orders import Mode, OrderIntent, PortfolioView, client_order_id
from signalops.risk import DEFAULT_LIMITS, RiskState, check, following_timeframe
from signalops.side import Side

STRATEGY = "tests/fixtures/banking_crisis_pipeline.yaml"  # daily RSI(14), BUY on 2023-03-10
HOUR = 3600


def _data_stale_check(replay_dir: Path, tmp_path: Path, *config: str) -> dict:
    db = tmp_path / "audit.db"
    args = [
        "run", STRATEGY, "--replay", str(replay_dir), "--from", "2023-03-10T06:00:00Z",
        "--to", "2023-03-10T06:00:00Z", "--every", "1d", "--audit", str(db), *config,
    ]  # fmt: skip
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with AuditLog.open_readonly(db) as log:
        (record,) = log.decisions()
    return next(c for c in record["risk"]["checks"] if c["code"] == "DATA_STALE")


def test_daily_strategy_at_six_am_is_not_denied_data_stale(
    replay_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(ROOT)
    stale = _data_stale_check(replay_dir, tmp_path)
    assert stale["passed"] is True
    assert stale["details"]["actual"] == "21600"  # the midnight candle, six hours on
    assert stale["details"]["limit"] == "172800"  # two daily bars, the RSI leaf's own limit


def test_explicit_config_max_data_age_still_wins_over_the_timeframe(
    replay_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(ROOT)
    config = tmp_path / "signalops.yaml"
    config.write_text("risk:\n  max_data_age: 15m\n")
    stale = _data_stale_check(replay_dir, tmp_path, "--config", str(config))
    assert stale["passed"] is False
    assert stale["details"]["limit"] == "900"


def test_hourly_strategy_with_three_hour_old_data_is_still_denied_data_stale():
    now = datetime(2024, 11, 6, 12, 0, tzinfo=UTC)
    limits = following_timeframe(DEFAULT_LIMITS, (2 * HOUR,))  # a 1h candle leaf: two bars
    intent = OrderIntent(
        decision_id="dec-1",
        client_order_id=client_order_id("dec-1"),
        strategy="hourly",
        asset="BTC",
        side=Side.BUY,
        quantity=Decimal("0.01"),
        reference_price=Decimal("50000"),
        notional=Decimal("500"),
        as_of=now,
        mode=Mode.PAPER,
    )
    state = RiskState(PortfolioView(Decimal("10000"), {}, Decimal(0), Decimal("10000")))
    decision = check(intent, state, limits, as_of=now, data_time=now - timedelta(hours=3))
    assert decision.codes == (Code.DATA_STALE,)
    assert limits.max_data_age == 2 * HOUR


def test_timeframe_default_never_lowers_the_fifteen_minute_floor():
    assert following_timeframe(DEFAULT_LIMITS, (300,)) is DEFAULT_LIMITS
    assert following_timeframe(DEFAULT_LIMITS, ()) is DEFAULT_LIMITS
