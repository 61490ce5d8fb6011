"""The library side of the dashboard (no Streamlit): settings, access, strategy lookup, and the
pure table/chart helpers of ``dashboard.queries``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from dashboard_fixtures import OPERATORS_YAML, PASSWORD, PASSWORD_HASH

from signalops import numbers
from signalops.dashboard import tables
from signalops.dashboard.accounts import (
    MIN_ITERATIONS,
    Attempt,
    LoginGuard,
    LoginPolicy,
    Outcome,
    check_password,
    hash_password,
)
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


def test_a_postgresql_url_is_kept_whole_for_the_app_and_named_without_its_password(tmp_path):
    url = "postgresql://viewer:s3cret@db.example/signalops?sslmode=require"
    s = settings(SIGNALOPS_AUDIT=url)
    assert s.audit == url
    assert s.audit_name == "postgresql://viewer:***@db.example/signalops?sslmode=require"
    assert "s3cret" not in repr(s)
    assert s.environment()["SIGNALOPS_AUDIT"] == url
    assert settings(SIGNALOPS_AUDIT="sqlite:///logs/a.db").audit == Path("logs/a.db")
    config = tmp_path / "signalops.yaml"
    config.write_text(f"audit: {{url: '{url}'}}\n")
    from_config = Settings.from_env({"SIGNALOPS_CONFIG": str(config)})
    assert from_config.audit == url and "s3cret" not in repr(from_config)


def test_without_operator_accounts_nobody_can_write_and_hashes_stay_out_of_repr(tmp_path):
    assert not settings().can_write
    config = tmp_path / "signalops.yaml"
    config.write_text(OPERATORS_YAML)
    s = settings(SIGNALOPS_CONFIG=str(config), SIGNALOPS_DASHBOARD_PASSWORD="s3cret")
    assert s.can_write and set(s.operators) == {"alice", "carol"}
    assert PASSWORD_HASH not in repr(s) and "s3cret" not in repr(s)
    assert "SIGNALOPS_DASHBOARD_PASSWORD" not in s.environment()


def test_a_password_hash_checks_the_password_in_constant_time(monkeypatch):
    stored = hash_password("s3cret-pass", iterations=MIN_ITERATIONS, salt=b"0123456789abcdef")
    assert stored == (
        "pbkdf2_sha256$200000$MDEyMzQ1Njc4OWFiY2RlZg==$"
        + base64.b64encode(
            hashlib.pbkdf2_hmac("sha256", b"s3cret-pass", b"0123456789abcdef", 200_000)
        ).decode()
    )
    compared: list[bytes] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append(b)
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    operators = {"alice": stored}
    assert check_password(operators, "alice", "s3cret-pass")
    assert not check_password(operators, "alice", "s3cret-pas")
    # An unknown name is checked against a dummy hash: as slow, never true.
    assert not check_password(operators, "mallory", "s3cret-pass")
    assert len(compared) == 3
    with pytest.raises(ValueError, match="at least 200,000 iterations"):
        hash_password("x", iterations=1000)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


OPS = {"alice": PASSWORD_HASH}


def test_each_failure_makes_the_next_attempt_wait_longer_for_that_name_and_that_client():
    clock = FakeClock()
    guard = LoginGuard(clock=clock)
    assert guard.attempt(OPS, "alice", "guess1", client="s1") == Attempt(Outcome.WRONG)
    # At once again: refused without looking at the password, even the right one.
    assert guard.attempt(OPS, "alice", PASSWORD, client="s1") == Attempt(Outcome.THROTTLED, 1.0)
    # Another browser session, same name: the name waits too.
    assert guard.attempt(OPS, "alice", PASSWORD, client="s2").outcome is Outcome.THROTTLED
    clock.now += 1
    assert guard.attempt(OPS, "alice", "guess2", client="s1").outcome is Outcome.WRONG
    assert guard.attempt(OPS, "bob", "guess", client="s1") == Attempt(Outcome.THROTTLED, 2.0)
    clock.now += 2
    assert guard.attempt(OPS, "alice", PASSWORD, client="s1").ok
    # Success clears the name's failures; the client keeps its own.
    assert guard.attempt(OPS, "alice", PASSWORD, client="s3").ok


def lock_out(guard: LoginGuard, clock: FakeClock, name: str = "alice") -> Attempt:
    """Five wrong passwords for ``name``, each from a fresh client once the last one's wait is
    over (30 s covers it); the fifth's answer."""
    for n in range(4):
        assert guard.attempt(OPS, name, f"guess{n}", client=f"c{n}").outcome is Outcome.WRONG
        clock.now += 30
    return guard.attempt(OPS, name, "guess4", client="c4")


def test_five_failures_lock_the_account_for_a_minute_even_for_the_right_password():
    """A trader who mistypes five times on a phone still answers an approval that waits
    15 min: the first lockout is one minute (it was 15 min, the whole approval)."""
    clock = FakeClock()
    guard = LoginGuard(clock=clock)
    assert lock_out(guard, clock) == Attempt(Outcome.LOCKED, 60.0)
    clock.now += 59
    assert guard.attempt(OPS, "alice", PASSWORD, client="c5") == Attempt(Outcome.LOCKED, 1.0)
    clock.now += 1
    assert guard.attempt(OPS, "alice", PASSWORD, client="c5").ok


def test_each_lockout_in_a_row_doubles_up_to_an_hour():
    clock = FakeClock()
    guard = LoginGuard(clock=clock)
    lengths = []
    for _ in range(9):
        attempt = lock_out(guard, clock)
        assert attempt.outcome is Outcome.LOCKED
        lengths.append(attempt.wait_seconds)
        clock.now += attempt.wait_seconds
    assert lengths == [60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 3600.0, 3600.0, 3600.0]
    # After a lockout, five tries again (not one): the failures before it are spent.
    assert guard.attempt(OPS, "alice", "guess", client="c9").outcome is Outcome.WRONG
    # Another name starts at one minute.
    assert lock_out(guard, clock, name="carol") == Attempt(Outcome.LOCKED, 60.0)


def test_a_login_makes_the_next_lockout_a_first_one_again():
    clock = FakeClock()
    guard = LoginGuard(clock=clock)
    assert lock_out(guard, clock) == Attempt(Outcome.LOCKED, 60.0)
    clock.now += 60
    assert lock_out(guard, clock) == Attempt(Outcome.LOCKED, 120.0)
    clock.now += 120
    assert guard.attempt(OPS, "alice", PASSWORD, client="c5").ok
    clock.now += 30
    assert lock_out(guard, clock) == Attempt(Outcome.LOCKED, 60.0)


def test_lockouts_are_forgotten_a_day_after_the_last_one_ended():
    clock = FakeClock()
    guard = LoginGuard(clock=clock)
    assert lock_out(guard, clock) == Attempt(Outcome.LOCKED, 60.0)
    clock.now += 60 + 24 * 3600 - 121  # the next lockout starts 1 s before the day is over
    assert lock_out(guard, clock) == Attempt(Outcome.LOCKED, 120.0)
    clock.now += 120 + 24 * 3600 - 120  # this one starts just as the day is over
    assert lock_out(guard, clock) == Attempt(Outcome.LOCKED, 60.0)


def test_failures_older_than_the_window_are_forgotten():
    clock = FakeClock()
    guard = LoginGuard(LoginPolicy(max_failures=3, window=60, lockout=600), clock=clock)
    for n in range(2):
        guard.attempt(OPS, "alice", "guess", client=f"c{n}")
        clock.now += 50
    # The first failure is 100 s old: only one counts, so the third is not a lockout.
    assert guard.attempt(OPS, "alice", "guess", client="c2").outcome is Outcome.WRONG


def test_every_failure_is_logged_with_the_name_tried_never_the_password(caplog):
    clock = FakeClock()
    guard = LoginGuard(LoginPolicy(max_failures=2), clock=clock)
    with caplog.at_level(logging.INFO, logger="signalops.dashboard"):
        guard.attempt(OPS, "CEO (not really)\nforged line", "hunter2-guess", client="c1")
        guard.attempt(OPS, "alice", "pa55-guess", client="c2")
        clock.now += 5
        guard.attempt(OPS, "alice", "pa55-guess-2", client="c2")
        guard.attempt(OPS, "alice", PASSWORD, client="c3")
    assert [r.name for r in caplog.records] == ["signalops.dashboard"] * 5
    assert [r.getMessage() for r in caplog.records] == [
        "login failed for operator 'CEO (not really)\\nforged line' from client c1 "
        "(1 failure(s) in 15 min)",
        "login failed for operator 'alice' from client c2 (1 failure(s) in 15 min)",
        "login failed for operator 'alice' from client c2 (2 failure(s) in 15 min)",
        "operator 'alice' locked out for 1 min after 2 failed logins (lockout 1 in a row)",
        "login refused for operator 'alice' from client c3: locked (next attempt in 60s)",
    ]
    assert not [
        r for r in caplog.records if "guess" in r.getMessage() or PASSWORD in r.getMessage()
    ]


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


def test_an_answer_needs_the_name_of_an_operator_account(tmp_path):
    config = tmp_path / "signalops.yaml"
    config.write_text(OPERATORS_YAML)
    s = settings(SIGNALOPS_AUDIT=str(tmp_path / "a.db"), SIGNALOPS_CONFIG=str(config))
    with pytest.raises(SignalOpsError, match="say who you are"):
        answer_approval(s, "apv-x", approve=False, by="  ")
    with pytest.raises(SignalOpsError, match="'CEO \\(not really\\)' is not an operator account"):
        answer_approval(s, "apv-x", approve=False, by="CEO (not really)")
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
    assert [r["side"] for r in tables.fill_rows(fills, now, "USDT")] == ["BUY"]


def test_durations_read_like_the_cli_and_numbers_keep_their_digits():
    from datetime import timedelta

    assert tables.signed_duration(timedelta(minutes=10)) == "10m"
    assert tables.signed_duration(timedelta(hours=-2, minutes=-30)) == "-2.5h"
    # Quantities keep every recorded digit (signalops.numbers.quantity; was plain_number).
    assert numbers.quantity("0.34785224") == "0.34785224"
    assert numbers.quantity("12.500") == "12.5"
    assert numbers.quantity(None) == "—"
