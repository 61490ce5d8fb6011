"""signalops.yaml and risk sections: what a valid file gives, the exact errors a broken one gets
(file:line:column, "did you mean"), and how a strategy's limits merge with the global ones."""

from __future__ import annotations

import json
import textwrap
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from signalops.config import (
    DEFAULT_CONFIG_FILE,
    AuditConfig,
    Config,
    NotifyConfig,
    PaperConfig,
    Webhook,
    config_schema,
    limits_for,
    load_config,
    loads_config,
    looser_than_global,
    tighten,
)
from signalops.errors import ConfigError, ConfigErrors, StrategyError
from signalops.risk import DEFAULT_LIMITS, Kelly, RiskLimits, TradingState
from signalops.strategy import Strategy, loads, strategy_schema
from signalops.strategy._yaml import MAX_DEPTH

D = Decimal

RULES = {"rules": [{"id": "r", "conditions": [{"when": "rsi(14) < 30"}]}]}


def strategy(risk: dict[str, Any] | None = None) -> Strategy:
    spec: dict[str, Any] = {"name": "s", "assets": ["BTC"], **RULES}
    if risk is not None:
        spec["risk"] = risk
    return loads(json.dumps({"strategy": spec}), "s.yaml")


def config(risk: dict[str, Any] | None = None, **sections: Any) -> Config:
    data = dict(sections)
    if risk is not None:
        data["risk"] = risk
    return loads_config(json.dumps(data), "signalops.yaml")


def errors_of(text: str, file: str = "signalops.yaml") -> list[str]:
    with pytest.raises(ConfigError) as info:
        loads_config(textwrap.dedent(text), file)
    return [str(error) for error in info.value.errors]


# --- a valid file -------------------------------------------------------------------------------

FULL = """\
# every section, as an operator would write them
risk:
  trading_state: REDUCING
  max_data_age: 30m
  max_position: 0.2
  max_exposure: 0.6
  max_daily_loss: 0.05
  max_orders_per_hour: 4
  cooldown: 2h
  min_notional: 25
  max_notional: 2500.50
  kelly: {fraction: 0.5, win_rate: 0.55, payoff: 1.2}
paper:
  starting_cash: 50000
  fee_bps: 7.5
  slippage_bps: 2
notify:
  approval_ttl: 20m
  webhooks:
    - kind: slack
      url_env: SLACK_WEBHOOK_URL
    - kind: telegram
      url_env: TELEGRAM_BOT_TOKEN
      chat_id: -1001234
audit:
  path: data/audit.sqlite
kill_switch: KILL
"""


def test_full_config_file_gives_every_value_as_decimals_and_seconds(tmp_path: Path):
    file = tmp_path / DEFAULT_CONFIG_FILE
    file.write_text(FULL, encoding="utf-8")
    loaded = load_config(file)
    assert loaded.limits == RiskLimits(
        kill_switch_file=str(tmp_path / "KILL"),
        trading_state=TradingState.REDUCING,
        max_data_age=1800,
        max_position=D("0.2"),
        max_exposure=D("0.6"),
        max_daily_loss=D("0.05"),
        max_orders_per_hour=4,
        cooldown=7200,
        min_notional=D("25"),
        max_notional=D("2500.5"),
        kelly=Kelly(D("0.5"), D("0.55"), D("1.2")),
    )
    assert loaded.paper == PaperConfig(D("50000"), D("7.5"), D("2"))
    assert loaded.notify == NotifyConfig(
        approval_ttl=1200,
        webhooks=(
            Webhook("slack", "SLACK_WEBHOOK_URL"),
            Webhook("telegram", "TELEGRAM_BOT_TOKEN", chat_id="-1001234"),
        ),
    )
    assert loaded.audit == AuditConfig(str(tmp_path / "data" / "audit.sqlite"))
    assert loaded.kill_switch == str(tmp_path / "KILL")
    assert loaded.file == str(file)
    assert loaded.risk["max_position"] == 0.2
    assert isinstance(loaded.risk, MappingProxyType)


def test_no_config_file_gives_the_defaults():
    assert load_config(None) == Config()
    assert Config().limits == DEFAULT_LIMITS
    assert Config().paper == PaperConfig(D("10000"), D("10"), D("5"))
    assert Config().notify == NotifyConfig(900, ())
    assert Config().audit.path is None and Config().kill_switch is None


def test_empty_sections_keep_the_defaults():
    assert config({}, paper={}, notify={}, audit={}).limits == DEFAULT_LIMITS


def test_global_config_may_loosen_a_default():
    assert config({"max_position": 0.25, "max_notional": None}).limits == RiskLimits(
        max_position=D("0.25"), max_notional=None
    )


def test_absolute_paths_are_kept_and_home_is_expanded(tmp_path: Path):
    file = tmp_path / "c.yaml"
    file.write_text("kill_switch: /run/KILL\naudit: {path: ~/audit.sqlite}\n", encoding="utf-8")
    loaded = load_config(file)
    assert loaded.kill_switch == "/run/KILL"
    assert loaded.audit.path == str(Path("~/audit.sqlite").expanduser())


def test_webhook_url_is_read_from_the_environment_only_when_asked():
    hook = Webhook("slack", "SLACK_WEBHOOK_URL")
    assert hook.url({"SLACK_WEBHOOK_URL": "https://hooks.example/T0"}) == "https://hooks.example/T0"
    assert hook.url({}) is None
    assert hook.url({"SLACK_WEBHOOK_URL": ""}) is None
    assert "https" not in repr(config(notify={"webhooks": [{"kind": "slack", "url_env": "X"}]}))


def test_lowercase_trading_state_is_accepted():
    assert config({"trading_state": "halted"}).limits.trading_state is TradingState.HALTED


def test_fractional_durations_round_towards_the_stricter_side():
    limits = config({"max_data_age": "1.5s", "cooldown": "1.5s"}).limits
    assert (limits.max_data_age, limits.cooldown) == (1, 2)


def test_default_approval_ttl_shrinks_to_a_shorter_max_data_age():
    assert config({"max_data_age": "5m"}).notify.approval_ttl == 300
    assert config({"max_data_age": "1h"}).notify.approval_ttl == 900


def test_any_approval_ttl_is_accepted_whatever_max_data_age_is():
    """It refused one longer than max_data_age ("would be denied DATA_STALE"), but an
    approval's re-check fetches fresh data when it is answered: a daily strategy approved two
    days later fills (``tests/test_approvals.py``)."""
    assert config({}, notify={"approval_ttl": "4h"}).notify.approval_ttl == 4 * 3600
    assert config({"max_data_age": "5m"}, notify={"approval_ttl": "10m"}).notify.approval_ttl == 600


def test_approval_ttl_equal_to_max_data_age_is_accepted():
    loaded = config({"max_data_age": "10m"}, notify={"approval_ttl": "10m"})
    assert loaded.notify.approval_ttl == 600


# --- errors -------------------------------------------------------------------------------------

GOLDEN = [
    pytest.param(
        """\
        rsk:
          max_position: 0.1
        """,
        ["signalops.yaml:1:1: unknown key 'rsk' (did you mean 'risk'?)"],
        id="misspelt_section_suggests_risk",
    ),
    pytest.param(
        """\
        risk:
          max_postion: 0.1
          max_exposure: 1.5
          cooldown: 1 hour
          trading_state: paused
          kelly: {fraction: 0.5, win_rate: 0.55}
        """,
        [
            "signalops.yaml:2:3: risk: unknown key 'max_postion' (did you mean 'max_position'?)",
            "signalops.yaml:3:17: risk.max_exposure: must be <= 1, got 1.5",
            "signalops.yaml:4:13: risk.cooldown: '1 hour' must be a duration such as '30m', "
            "'4h', '2d' or '1w' (write 1h)",
            "signalops.yaml:5:18: risk.trading_state: 'paused' is not one of: ACTIVE, REDUCING, "
            "HALTED, active, reducing, halted",
            "signalops.yaml:6:10: risk.kelly: missing required key 'payoff'",
        ],
        id="every_risk_mistake_is_reported_at_its_position",
    ),
    pytest.param(
        """\
        notify:
          webhooks:
            - kind: slack
              url: https://hooks.slack.com/services/T000/B000/XXXX
            - kind: telegram
              url_env: telegram_token
            - kind: slak
              url_env: SLACK_URL
        """,
        [
            "signalops.yaml:4:7: notify.webhooks[0]: unknown key 'url' (did you mean 'url_env'?)",
            "signalops.yaml:5:7: notify.webhooks[1]: missing required key 'chat_id'",
            "signalops.yaml:6:16: notify.webhooks[1].url_env: 'telegram_token' must be the name "
            "of an environment variable such as SLACK_WEBHOOK_URL (the URL or token itself never "
            "goes in this file)",
            "signalops.yaml:7:13: notify.webhooks[2].kind: 'slak' is not one of: slack, discord, "
            "telegram (did you mean 'slack'?)",
        ],
        id="webhook_secrets_must_come_from_the_environment",
    ),
    pytest.param(
        """\
        paper:
          starting_cash: 0
          fee_bps: -1
        audit:
          path: ""
        kill_switch: 5
        """,
        [
            "signalops.yaml:2:18: paper.starting_cash: must be > 0, got 0",
            "signalops.yaml:3:12: paper.fee_bps: must be >= 0, got -1",
            "signalops.yaml:5:9: audit.path: must not be empty",
            "signalops.yaml:6:14: kill_switch: expected a string, got 5",
        ],
        id="paper_audit_and_kill_switch_values_are_checked",
    ),
    pytest.param(
        """\
        risk:
          max_orders_per_hour: 2.5
          max_notional: .inf
        """,
        [
            "signalops.yaml:2:24: risk.max_orders_per_hour: expected a whole number, got 2.5",
            "signalops.yaml:3:17: risk.max_notional: must be a finite number, got inf",
        ],
        id="counts_are_whole_and_money_is_finite",
    ),
    pytest.param(
        """\
        risk:
          max_position: 0.1
          max_position: 0.2
        """,
        ["signalops.yaml:3:3: risk: duplicate key 'max_position' (first defined at line 2)"],
        id="duplicate_key_is_an_error_not_the_last_one_wins",
    ),
    pytest.param(
        """\
        breakers: {max_drawdown: 10}
        strategies: {Dip: {capital: 150%}}
        risk: {max_position: 10%}
        """,
        [
            "signalops.yaml:1:26: breakers.max_drawdown: must be a fraction above 0 and at most "
            '1 (0.1) or a percentage ("10%"), got 10',
            "signalops.yaml:2:29: strategies.Dip.capital: must be an amount above 0 (5000) or a "
            "percentage of the account up to 100% (\"25%\"), got '150%'",
            "signalops.yaml:3:22: risk.max_position: expected a number, got '10%' (write 0.1: a "
            "fraction, not a percentage)",
        ],
        id="a_value_in_neither_of_its_forms_says_both_and_a_percent_fraction_is_told_the_number",
    ),
    pytest.param(
        """\
        - risk
        """,
        ["signalops.yaml:1:1: expected a mapping, got a list"],
        id="file_that_is_not_a_mapping",
    ),
    pytest.param(
        """\
        notify:
          approval_ttl: 0s
        """,
        ["signalops.yaml:2:17: notify.approval_ttl: approval_ttl must be at least 1s"],
        id="approval_that_expires_at_once_is_refused",
    ),
    pytest.param(
        """\
        risk:
          min_notional: 20000
        """,
        [
            "signalops.yaml:2:17: risk.min_notional: min_notional 20000 is above max_notional "
            "10000: no order could pass"
        ],
        id="min_notional_above_max_notional_is_refused",
    ),
]


@pytest.mark.parametrize(("text", "expected"), GOLDEN)
def test_broken_config_reports_exactly_these_errors(text, expected):
    assert errors_of(text) == expected


def test_missing_config_file_is_an_error_naming_it(tmp_path: Path):
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yaml")
    assert str(info.value) == f"{tmp_path / 'nope.yaml'}: no such file"


def test_config_path_that_is_a_folder_is_an_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="is a directory, not a config file"):
        load_config(tmp_path)


def test_invalid_yaml_in_the_config_points_at_the_line(tmp_path: Path):
    file = tmp_path / "c.yaml"
    file.write_text("risk:\n  max_position: [0.1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(file)
    assert info.value.location.startswith(f"{file}:3:")


def test_several_problems_in_the_config_are_config_errors_each(tmp_path: Path):
    file = tmp_path / "c.yaml"
    file.write_text("risk:\n  max_positon: 0.1\npaper: {fee_bp: 1}\n", encoding="utf-8")

    with pytest.raises(ConfigErrors) as info:
        load_config(file)

    assert len(info.value.errors) == 2
    assert all(isinstance(error, ConfigError) for error in info.value.errors)
    assert [error.path for error in info.value.errors] == ["risk", "paper"]


def test_config_nested_past_the_depth_limit_is_a_config_error_at_once(tmp_path: Path):
    file = tmp_path / "c.yaml"
    file.write_text("risk: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(file)

    # Refused by the depth guard where the 33rd level opens (its column).
    assert info.value.message == f"the document is nested too deeply (more than {MAX_DEPTH} levels)"
    assert info.value.location == f"{file}:1:{7 + MAX_DEPTH}"


# --- the strategy's risk section ----------------------------------------------------------------


def test_strategy_risk_section_is_kept_as_written():
    risk = {
        "max_position": 0.05,
        "cooldown": "4h",
        "kelly": {"fraction": 0.5, "win_rate": 0.6, "payoff": 1},
    }
    compiled = strategy(risk)
    assert dict(compiled.risk) == risk
    assert isinstance(compiled.risk, MappingProxyType)


def test_strategy_without_a_risk_section_has_an_empty_one():
    assert dict(strategy().risk) == {}


def test_strategy_risk_section_is_part_of_the_content_hash():
    assert strategy({"max_position": 0.05}).content_hash != strategy().content_hash


STRATEGY = """\
strategy:
  name: x
  assets: [BTC]
  rules:
    - id: r
      conditions:
        - when: "rsi(14) < 30"
"""

STRATEGY_GOLDEN = [
    pytest.param(
        """\
        rsik:
          max_position: 0.05
        """,
        ["s.yaml:8:3: unknown key 'rsik' (did you mean 'risk'?)"],
        id="misspelt_risk_section_suggests_risk",
    ),
    pytest.param(
        """\
        risk:
          max_positon: 0.05
          cooldown: 0.5 days
          max_daily_loss: -0.1
          trading_state: Halted
        """,
        [
            "s.yaml:9:5: risk: unknown key 'max_positon' (did you mean 'max_position'?)",
            "s.yaml:10:15: risk.cooldown: '0.5 days' must be a duration such as '30m', '4h', "
            "'2d' or '1w' (write 0.5d)",
            "s.yaml:11:21: risk.max_daily_loss: must be >= 0, got -0.1",
            "s.yaml:12:20: risk.trading_state: 'Halted' is not one of: ACTIVE, REDUCING, HALTED, "
            "active, reducing, halted (did you mean 'halted'?)",
        ],
        id="strategy_risk_mistakes_are_reported_at_their_positions",
    ),
    pytest.param(
        """\
        risk:
          kill_switch: KILL
        """,
        [
            "s.yaml:9:5: risk: unknown key 'kill_switch' (allowed keys: trading_state, "
            "max_data_age, max_position, max_exposure, max_daily_loss, max_orders_per_hour, "
            "cooldown, min_notional, max_notional, kelly, max_sector, max_var, max_cvar, "
            "kelly_from_trades)"
        ],
        id="kill_switch_is_global_only",
    ),
    pytest.param(
        """\
        risk:
          kelly: {fraction: 0, win_rate: 0.5, payoff: 1, edge: 2}
        """,
        [
            "s.yaml:9:23: risk.kelly.fraction: must be > 0, got 0",
            "s.yaml:9:52: risk.kelly: unknown key 'edge' (allowed keys: fraction, win_rate, "
            "payoff)",
        ],
        id="kelly_parameters_are_checked",
    ),
]


@pytest.mark.parametrize(("extra", "expected"), STRATEGY_GOLDEN)
def test_broken_strategy_risk_section_reports_exactly_these_errors(extra, expected):
    text = STRATEGY + textwrap.indent(textwrap.dedent(extra), "  ")
    with pytest.raises(StrategyError) as info:
        loads(text, "s.yaml")
    assert [str(error) for error in info.value.errors] == expected


def test_config_and_strategy_schemas_share_one_risk_shape():
    mine, theirs = config_schema()["$defs"], strategy_schema()["$defs"]
    for name in ("risk", "kelly", "fraction", "duration", "tail_limit"):
        assert mine[name] == theirs[name], name


# --- merge semantics: a strategy can only tighten -----------------------------------------------

KELLY_LOW = {"fraction": 0.25, "win_rate": 0.5, "payoff": 2}  # cap 0.0625
KELLY_HIGH = {"fraction": 1, "win_rate": 0.6, "payoff": 1}  # cap 0.2

MERGES = [
    # (global risk:, strategy risk:, field, effective value, strategy value ignored?)
    ({}, {"max_position": 0.05}, "max_position", D("0.05"), False),
    ({}, {"max_position": 0.2}, "max_position", D("0.10"), True),
    ({"max_position": 0.3}, {"max_position": 0.2}, "max_position", D("0.2"), False),
    ({}, {"max_exposure": 0.3}, "max_exposure", D("0.3"), False),
    ({}, {"max_exposure": 0.9}, "max_exposure", D("0.50"), True),
    ({}, {"max_daily_loss": 0.01}, "max_daily_loss", D("0.01"), False),
    ({}, {"max_daily_loss": 0.2}, "max_daily_loss", D("0.03"), True),
    ({}, {"max_data_age": "5m"}, "max_data_age", 300, False),
    ({}, {"max_data_age": "1h"}, "max_data_age", 900, True),
    ({}, {"max_orders_per_hour": 3}, "max_orders_per_hour", 3, False),
    ({}, {"max_orders_per_hour": 50}, "max_orders_per_hour", 10, True),
    ({}, {"cooldown": "4h"}, "cooldown", 14400, False),
    ({}, {"cooldown": "0s"}, "cooldown", 3600, True),
    ({}, {"min_notional": 50}, "min_notional", D("50"), False),
    ({}, {"min_notional": 1}, "min_notional", D("10"), True),
    ({}, {"max_notional": 500}, "max_notional", D("500"), False),
    ({}, {"max_notional": 50000}, "max_notional", D("10000"), True),
    ({}, {"max_notional": None}, "max_notional", D("10000"), True),
    ({"max_notional": None}, {"max_notional": 500}, "max_notional", D("500"), False),
    ({}, {"trading_state": "REDUCING"}, "trading_state", TradingState.REDUCING, False),
    ({"trading_state": "HALTED"}, {"trading_state": "ACTIVE"}, "trading_state", "HALTED", True),
    ({"trading_state": "REDUCING"}, {"trading_state": "halted"}, "trading_state", "HALTED", False),
    ({}, {"kelly": KELLY_HIGH}, "kelly", Kelly(D(1), D("0.6"), D(1)), False),
    ({"kelly": KELLY_LOW}, {"kelly": KELLY_HIGH}, "kelly", Kelly(D("0.25"), D("0.5"), D(2)), True),
    ({"kelly": KELLY_HIGH}, {"kelly": KELLY_LOW}, "kelly", Kelly(D("0.25"), D("0.5"), D(2)), False),
]


@pytest.mark.parametrize(
    ("global_risk", "strategy_risk", "name", "effective", "ignored"),
    MERGES,
    ids=[
        f"{name}_{'looser_is_ignored' if ignored else 'tighter_applies'}_{i}"
        for i, (_, _, name, _, ignored) in enumerate(MERGES)
    ],
)
def test_strategy_limit_applies_only_where_it_is_stricter_than_the_global_one(
    global_risk, strategy_risk, name, effective, ignored
):
    settings, compiled = config(global_risk), strategy(strategy_risk)
    limits = limits_for(compiled, settings)
    assert getattr(limits, name) == effective
    assert looser_than_global(compiled, settings) == ((name,) if ignored else ())
    others = {f: v for f, v in limits.to_dict().items() if f != name}
    assert others == {f: v for f, v in settings.limits.to_dict().items() if f != name}


def test_strategy_without_risk_runs_under_the_global_limits():
    settings = config({"max_position": 0.2}, kill_switch="KILL")
    assert limits_for(strategy(), settings) == settings.limits


def test_strategy_without_a_config_tightens_the_defaults():
    assert limits_for(strategy({"max_position": 0.02})) == RiskLimits(max_position=D("0.02"))


def test_several_strategy_limits_merge_key_by_key():
    compiled = strategy({"max_position": 0.05, "max_exposure": 0.9, "cooldown": "2h"})
    settings = config({"max_exposure": 0.4}, kill_switch="/run/KILL")
    assert limits_for(compiled, settings) == RiskLimits(
        kill_switch_file="/run/KILL",
        max_position=D("0.05"),
        max_exposure=D("0.4"),
        cooldown=7200,
    )
    assert looser_than_global(compiled, settings) == ("max_exposure",)


def test_tighten_keeps_the_global_value_on_a_tie():
    limits = tighten(DEFAULT_LIMITS, {"max_position": 0.1})
    assert limits.max_position == D("0.10")
    assert str(limits.max_position) == "0.10"
