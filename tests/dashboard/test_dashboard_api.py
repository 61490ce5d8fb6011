"""The library side of the dashboard (no Streamlit): settings, access, strategy lookup, and the
pure table/chart helpers of ``dashboard.queries``."""

from __future__ import annotations

import hmac
import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from signalops.dashboard import tables
from signalops.dashboard.api import Settings, answer_approval
from signalops.errors import SignalOpsError
from signalops.orders import Fill, Side
from signalops.pipeline.approvals import find_strategy
from signalops.workspace import load_strategies

ROOT = Path(__file__).resolve().parents[2]
STRATEGY = ROOT / "strategies" / "banking_crisis_dip.yaml"


def settings(**env: str) -> Settings:
    return Settings.from_env({"SIGNALOPS_AUDIT": "a.db", **env})


def test_settings_come_from_the_environment_with_defaults():
    s = settings(SIGNALOPS_NOW="2023-03-10")
    assert (s.audit, s.config, s.strategies, s.reports) == (
        Path("a.db"),
        None,
        Path("strategies"),
        Path("reports"),
    )
    assert s.now() == datetime(2023, 3, 10, tzinfo=UTC)
    assert s.refresh_seconds == 5.0 and s.replay is None
    assert settings(SIGNALOPS_DASHBOARD_REFRESH="0").refresh_seconds == 0
    with pytest.raises(SignalOpsError, match="not a number of seconds"):
        settings(SIGNALOPS_DASHBOARD_REFRESH="often")
    with pytest.raises(SignalOpsError, match="not a date or ISO-8601 time"):
        settings(SIGNALOPS_NOW="yesterday")


def test_without_a_password_nobody_can_write_and_the_check_is_constant_time(monkeypatch):
    assert not settings().can_write
    assert not settings().password_ok("")
    s = settings(SIGNALOPS_DASHBOARD_PASSWORD="s3cret")
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert s.can_write and s.password_ok("s3cret") and not s.password_ok("s3cre")
    assert compared == [(b"s3cret", b"s3cret"), (b"s3cre", b"s3cret")]
    assert "s3cret" not in repr(s)
    assert "SIGNALOPS_DASHBOARD_PASSWORD" not in s.environment()


def test_the_deciding_strategy_is_found_by_content_hash_even_if_its_file_moved(tmp_path):
    (strategy,) = load_strategies([STRATEGY])
    record = {"strategy": {"name": strategy.name, "hash": strategy.content_hash, "file": "gone"}}
    folder = tmp_path / "strategies"
    folder.mkdir()
    shutil.copy(STRATEGY, folder / "renamed.yaml")
    (folder / "broken.yaml").write_text("strategy: [")
    assert find_strategy(record, folder=folder).content_hash == strategy.content_hash
    (folder / "renamed.yaml").write_text(STRATEGY.read_text().replace("30", "31"))
    with pytest.raises(SignalOpsError, match="no file with that content was found"):
        find_strategy(record, folder=folder)


def test_an_answer_needs_a_name(tmp_path):
    with pytest.raises(SignalOpsError, match="say who you are"):
        answer_approval(
            settings(SIGNALOPS_AUDIT=str(tmp_path / "a.db")), "apv-x", approve=False, by="  "
        )
    assert not (tmp_path / "a.db").exists()


def fill(side: Side, quantity: str, price: str, day: int) -> Fill:
    return Fill(
        client_order_id=f"so-{day}",
        asset="BTC",
        side=side,
        quantity=Decimal(quantity),
        price=Decimal(price),
        fee=Decimal("1"),
        at=datetime(2023, 3, day, tzinfo=UTC),
        venue="paper",
    )


def test_the_equity_line_marks_positions_at_their_latest_fill_and_stops_at_now():
    fills = [fill(Side.BUY, "0.1", "20000", 10), fill(Side.SELL, "0.1", "24000", 14)]
    now = datetime(2023, 3, 12, tzinfo=UTC)
    points = tables.equity_points(fills, Decimal("10000"), now)
    assert [(p["time"].day, p["equity"]) for p in points] == [
        (10, 10000.0),
        (10, 9999.0),
        (12, 9999.0),
    ]
    later = tables.equity_points(fills, Decimal("10000"), datetime(2023, 3, 20, tzinfo=UTC))
    assert later[-1]["equity"] == 10000 - 1 + 400 - 1
    assert [r["side"] for r in tables.fill_rows(fills, now)] == ["BUY"]


def test_durations_read_like_the_cli_and_numbers_keep_their_digits():
    from datetime import timedelta

    assert tables.signed_duration(timedelta(minutes=10)) == "10m"
    assert tables.signed_duration(timedelta(hours=-2, minutes=-30)) == "-2.5h"
    assert tables.plain_number("0.34785224") == "0.34785224"
    assert tables.plain_number("12.500") == "12.5"
    assert tables.plain_number(None) == ""
