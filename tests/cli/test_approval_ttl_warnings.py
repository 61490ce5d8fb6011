"""Approvals that stay open longer than a strategy's data may be old are warned about, per
strategy; a config without ``risk.max_data_age`` no longer refuses a TTL over 15 minutes.

Regression: a trader approving a daily strategy from their phone set ``approval_ttl: 4h`` and
the config was refused ("longer than risk.max_data_age 15m"), though without a configured
``max_data_age`` each strategy's limit follows its leaves (2d on daily candles) and a 4h-old
approval passes its re-check. Only a strategy whose limit is shorter than the TTL needs a word.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import invoke as run

DAILY = """\
strategy:
  name: Daily_Dip
  assets: [BTC]
  defaults: {params: {timeframe: 1d}}
  rules:
    - {id: dip, source: technical, conditions: [{when: "rsi(14) < 30"}]}
  exit:
    rules:
      - {id: recovered, source: technical, conditions: [{when: "rsi(14) > 60"}]}
  execution: {position_size: 0.1, action_mode: notify}
"""
HOURLY = DAILY.replace("timeframe: 1d", "timeframe: 1h").replace("Daily_Dip", "Hourly_Dip")
CONFIG = """\
notify:
  approval_ttl: 4h
  webhooks: [{kind: slack, url_env: SLACK_WEBHOOK_URL}]
"""


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("SIGNALOPS_AUDIT", "SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "signalops.yaml").write_text(CONFIG, encoding="utf-8")
    for name, text in (("daily.yaml", DAILY), ("hourly.yaml", HOURLY)):
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


HOURLY_WARNING = (
    "warning: hourly.yaml: approvals stay open 4h (notify.approval_ttl), but its orders are "
    "denied DATA_STALE once their data is 2h old: one approved later fails its re-check; "
    "shorten approval_ttl or raise the max_age of its leaves\n"
)


def test_a_four_hour_ttl_is_a_valid_config_and_warns_only_of_the_hourly_strategy(in_tmp: Path):
    result = run("validate", "daily.yaml", "hourly.yaml")

    assert result.stdout.endswith("2 files: 2 valid\n")
    assert (result.exit_code, result.stderr) == (0, HOURLY_WARNING)


def test_a_strategy_in_paper_mode_asks_no_approval_and_is_not_warned_about(in_tmp: Path):
    (in_tmp / "hourly.yaml").write_text(
        HOURLY.replace("action_mode: notify", "action_mode: paper"), encoding="utf-8"
    )
    result = run("validate", "hourly.yaml")
    assert (result.exit_code, result.stderr) == (0, "")


def test_a_strategys_own_max_data_age_is_the_one_named(in_tmp: Path):
    text = DAILY.replace("  execution:", "  risk: {max_data_age: 10m}\n  execution:")
    (in_tmp / "daily.yaml").write_text(text, encoding="utf-8")

    result = run("validate", "daily.yaml")

    assert (result.exit_code, result.stderr) == (
        0,
        "warning: daily.yaml: approvals stay open 4h (notify.approval_ttl), but its orders are "
        "denied DATA_STALE once their data is 10m old: one approved later fails its re-check; "
        "shorten approval_ttl or raise its risk.max_data_age\n",
    )


def test_a_configured_max_data_age_shorter_than_the_ttl_is_still_a_config_error(in_tmp: Path):
    (in_tmp / "signalops.yaml").write_text(CONFIG + "risk:\n  max_data_age: 1h\n", "utf-8")

    result = run("validate", "daily.yaml")

    assert result.exit_code == 1
    assert "approval_ttl 4h is longer than risk.max_data_age 1h" in result.stderr


def test_run_in_notify_mode_warns_as_it_starts(in_tmp: Path, replay_dir: Path):
    (in_tmp / "hourly.yaml").write_text(
        HOURLY.replace("action_mode: notify", "action_mode: paper"), encoding="utf-8"
    )
    result = run(
        "run", "hourly.yaml", "--mode", "notify", "--replay", str(replay_dir), "--from",
        "2024-03-01T00:00", "--to", "2024-03-01T00:00", "--audit", "run.db",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert HOURLY_WARNING in result.stderr


def test_a_strategys_own_max_data_age_above_the_configs_is_told_to_go(in_tmp: Path):
    """It was told to raise its risk.max_data_age 3d, which a strategy cannot: its risk section
    only tightens the config's limits (15 minutes when the config sets none), so 3d became 15m,
    while without it the limit follows its leaves (2d on daily candles)."""
    text = DAILY.replace("  execution:", "  risk: {max_data_age: 3d}\n  execution:")
    (in_tmp / "daily.yaml").write_text(text, encoding="utf-8")

    result = run("validate", "daily.yaml")

    assert result.exit_code == 0
    warned = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warned[0] == (
        "warning: daily.yaml: approvals stay open 4h (notify.approval_ttl), but its orders are "
        "denied DATA_STALE once their data is 15m old: one approved later fails its re-check; "
        "shorten approval_ttl or remove its risk.max_data_age 3d: a strategy's risk section "
        "only tightens the config's limits, so it is cut to the config's 15m, and without it "
        "the limit follows its leaves' max_age"
    )
    assert warned[1].startswith("warning: daily.yaml:10:24: risk.max_data_age: max_data_age 3d")
    assert len(warned) == 2
