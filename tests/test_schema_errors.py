"""Golden tests for schema errors: the exact text and position a trader sees for a broken file.

Each case is a whole strategy with one or more mistakes and the complete list of errors, as
``str(error)`` renders them (``file:line:column: path: message (hint)``), in source order. The
schema pass runs before the compiler, so none of these files gets as far as metric checks.
"""

from __future__ import annotations

import textwrap

import pytest

from signalops.errors import StrategyError, StrategyErrors
from signalops.strategy import loads


def errors_of(text: str) -> list[str]:
    with pytest.raises(StrategyError) as info:
        loads(textwrap.dedent(text), "s.yaml")
    return [str(error) for error in info.value.errors]


GOLDEN = [
    # --- unknown keys ----------------------------------------------------------------------------
    pytest.param(
        """\
        stratgy:
          name: x
        """,
        ["s.yaml:1:1: unknown key 'stratgy' (did you mean 'strategy'?)"],
        id="misspelt_root_key_suggests_strategy_and_hides_missing_strategy",
    ),
    pytest.param(
        """\
        strategy:
          name: x
          asets: [BTC]
          rules:
            - id: r
              conditions:
                - when: "rsi(14) < 30"
        """,
        ["s.yaml:3:3: unknown key 'asets' (did you mean 'assets'?)"],
        id="misspelt_strategy_key_suggests_the_closest_key",
    ),
    pytest.param(
        """\
        strategy:
          name: x
          assets: [BTC]
          frobnicate: 1
          rules:
            - id: r
              conditions:
                - when: "rsi(14) < 30"
        """,
        [
            "s.yaml:4:3: unknown key 'frobnicate' (allowed keys: name, description, assets, "
            "params, defaults, rules, exit, vetoes, execution, risk)"
        ],
        id="unknown_key_without_a_close_match_lists_the_allowed_keys",
    ),
    pytest.param(
        """\
        strategy:
          name: x
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - metric: rsi
                  operater: "<"
                  treshold: 30
        """,
        [
            "s.yaml:8:11: rules[0].conditions[0]: unknown key 'operater' "
            "(did you mean 'operator'?)",
            "s.yaml:9:11: rules[0].conditions[0]: unknown key 'treshold' "
            "(did you mean 'threshold'?)",
        ],
        id="unknown_condition_key_suggests_the_closest_key_and_hides_the_missing_key",
    ),
    pytest.param(
        """\
        strategy:
          name: x
          assets: [BTC]
          rules:
            - id: r
              condition:
                - when: "rsi(14) < 30"
        """,
        ["s.yaml:6:7: rules[0]: unknown key 'condition' (did you mean 'conditions'?)"],
        id="singular_conditions_key_suggests_the_plural",
    ),
    pytest.param(
        """\
        strategy:
          name: x
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - whne: "rsi(14) < 30"
                - markt: some-market
                  operator: "<"
                  threshold: 0.5
                - al:
                    - when: "rsi(14) < 30"
        """,
        [
            "s.yaml:7:11: rules[0].conditions[0]: unknown key 'whne' (did you mean 'when'?)",
            "s.yaml:8:11: rules[0].conditions[1]: unknown key 'markt' (did you mean 'market'?)",
            "s.yaml:11:11: rules[0].conditions[2]: unknown key 'al' (did you mean 'all'?)",
        ],
        id="misspelt_condition_form_key_suggests_it_without_metric_form_noise",
    ),
    pytest.param(
        """\
        strategy:
          name: x
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - when: "rsi(14) < 30"
                  operator: "<"
        """,
        [
            "s.yaml:8:11: rules[0].conditions[0]: unknown key 'operator' "
            "(allowed keys: when, source, max_age, description)"
        ],
        id="structured_key_next_to_when_is_unknown_in_the_when_form",
    ),
    pytest.param(
        """\
        strategy:
          name: x
          assets: [BTC]
          defaults: {max_age: 1h, timeframe: 1d}
          rules:
            - id: r
              conditions:
                - when: "rsi(14) < 30"
        """,
        ["s.yaml:4:27: defaults: unknown key 'timeframe' (allowed keys: max_age, params)"],
        id="parameter_default_outside_defaults_params_is_an_unknown_key",
    ),
    # --- missing required keys -------------------------------------------------------------------
    pytest.param(
        """\
        strategy:
          description: no name, no assets, no rules
        """,
        [
            "s.yaml:2:3: missing required key 'name'",
            "s.yaml:2:3: missing required key 'assets'",
            "s.yaml:2:3: missing required key 'rules'",
        ],
        id="strategy_without_its_required_keys_names_each_one",
    ),
    pytest.param(
        """\
        strategy:
          name: x
          assets: [BTC]
          rules:
            - source: technical
              conditions:
                - when: "rsi(14) < 30"
            - id: r2
        """,
        [
            "s.yaml:5:7: rules[0]: missing required key 'id'",
            "s.yaml:8:7: rules[1]: missing required key 'conditions'",
        ],
        id="rule_without_id_or_conditions",
    ),
    pytest.param(
        """\
        strategy:
          name: x
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - metric: rsi
                  threshold: 30
                - market: some-market
                  operator: "<"
        """,
        [
            "s.yaml:7:11: rules[0].conditions[0]: missing required key 'operator'",
            "s.yaml:9:11: rules[0].conditions[1]: missing required key 'threshold'",
        ],
        id="metric_and_market_conditions_without_operator_or_threshold",
    ),
    pytest.param(
        """\
        strategy:
          name: x
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - at_least: {of: [{when: "rsi(14) < 30"}]}
          exit: {require_confirmations: 1}
        """,
        [
            "s.yaml:7:21: rules[0].conditions[0].at_least: missing required key 'n'",
            "s.yaml:8:9: exit: missing required key 'rules'",
        ],
        id="at_least_without_n_and_exit_without_rules",
    ),
    # --- wrong types -----------------------------------------------------------------------------
    pytest.param(
        """\
        strategy:
          name: 3
          description: [a]
          assets: BTC
          rules: {id: r}
        """,
        [
            "s.yaml:2:9: name: expected a string, got 3",
            "s.yaml:3:16: description: expected a string, got a list",
            "s.yaml:4:11: assets: expected a list, got 'BTC'",
            "s.yaml:5:10: rules: expected a list, got a mapping",
        ],
        id="scalars_lists_and_mappings_in_the_wrong_place",
    ),
    pytest.param(
        """\
        strategy:
          name: x
          assets: [1, true]
          rules:
            - id: r
              conditions:
                - metric: rsi
                  operator: "<"
                  threshold: true
                - metric: rsi
                  operator: "<"
                  threshold: {value: 30}
                - metric: rsi
                  operator: between
                  threshold: [1, [2]]
        """,
        [
            "s.yaml:3:12: assets[0]: expected a string, got 1",
            "s.yaml:3:15: assets[1]: expected a string, got true",
            "s.yaml:9:22: rules[0].conditions[0].threshold: expected a number or a string or a "
            "list, got true",
            "s.yaml:12:22: rules[0].conditions[1].threshold: expected a number or a string or a "
            "list, got a mapping",
            "s.yaml:15:26: rules[0].conditions[2].threshold[1]: expected a number or a string, "
            "got a list",
        ],
        id="asset_and_threshold_types",
    ),
    pytest.param(
        """\
        strategy:
          name: x
          assets: [BTC]
          params: {levels: [30, 70], on: true}
          rules:
            - id: r
              conditions: ["rsi(14) < 30"]
        """,
        [
            "s.yaml:4:20: params.levels: expected a number or a string, got a list",
            "s.yaml:4:34: params.on: expected a number or a string, got true",
            "s.yaml:7:20: rules[0].conditions[0]: expected a mapping, got 'rsi(14) < 30'",
        ],
        id="param_values_and_a_condition_written_as_a_bare_string",
    ),
    pytest.param(
        """\
        strategy:
          name: x
          assets: [BTC]
          rules:
            - id: 7
              conditions:
                - when: 42
        """,
        [
            "s.yaml:5:11: rules[0].id: expected a string, got 7",
            "s.yaml:7:17: rules[0].conditions[0].when: expected a string, got 42",
        ],
        id="numeric_rule_id_and_expression",
    ),
    # --- enum typos ------------------------------------------------------------------------------
    pytest.param(
        """\
        strategy:
          name: x
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - metric: rsi
                  operator: "=<"
                  threshold: 30
                - metric: rsi
                  operator: "=>"
                  threshold: 70
                - metric: rsi
                  operator: "lt"
                  threshold: 30
        """,
        [
            "s.yaml:8:21: rules[0].conditions[0].operator: '=<' is not one of: <, <=, >, >=, ==, "
            "!=, between (did you mean '<='?)",
            "s.yaml:11:21: rules[0].conditions[1].operator: '=>' is not one of: <, <=, >, >=, "
            "==, !=, between (did you mean '>='?)",
            "s.yaml:14:21: rules[0].conditions[2].operator: 'lt' is not one of: <, <=, >, >=, "
            "==, !=, between",
        ],
        id="reversed_operators_suggest_the_right_spelling",
    ),
    pytest.param(
        """\
        strategy:
          name: x
          assets: [BTC]
          rules:
            - id: r
              source: fundamentals
              conditions:
                - metric: rsi
                  operator: "<"
                  threshold: 30
          execution:
            action_mode: papr
        """,
        [
            "s.yaml:6:15: rules[0].source: 'fundamentals' is not one of: fundamental, "
            "polymarket, onchain, technical, news (did you mean 'fundamental'?)",
            "s.yaml:12:18: execution.action_mode: 'papr' is not one of: notify, auto, paper "
            "(did you mean 'paper'?)",
        ],
        id="source_and_action_mode_typos",
    ),
    pytest.param(
        """\
        strategy:
          name: x
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - market: some-market
                  metric: price
                  source: technical
                  operator: "<"
                  threshold: 0.5
          vetoes:
            - id: v
              blocks: [buy, HOLD]
              conditions:
                - when: "rsi(14) > 70"
        """,
        [
            "s.yaml:8:19: rules[0].conditions[0].metric: 'price' is not one of: yes, no, "
            "outcome, spread, liquidity, volume_24h, change",
            "s.yaml:9:19: rules[0].conditions[0].source: must be 'polymarket', got 'technical'",
            "s.yaml:14:21: vetoes[0].blocks[1]: 'HOLD' is not one of: BUY, SELL, buy, sell",
        ],
        id="market_metric_market_source_and_veto_blocks",
    ),
    # --- durations -------------------------------------------------------------------------------
    pytest.param(
        """\
        strategy:
          name: x
          assets: [BTC]
          defaults: {max_age: 5 minutes}
          rules:
            - id: r
              max_age: 5min
              conditions:
                - when: "rsi(14) < 30"
                  max_age: 2
                - when: "rsi(14) < 30"
                  max_age: -1h
        """,
        [
            "s.yaml:4:23: defaults.max_age: '5 minutes' must be a duration such as '30m', '4h', "
            "'2d' or '1w' (write 5m)",
            "s.yaml:7:16: rules[0].max_age: '5min' must be a duration such as '30m', '4h', '2d' "
            "or '1w' (write 5m)",
            "s.yaml:10:20: rules[0].conditions[0].max_age: expected a string, got 2",
            "s.yaml:12:20: rules[0].conditions[1].max_age: '-1h' must be a duration such as "
            "'30m', '4h', '2d' or '1w'",
        ],
        id="durations_that_are_not_number_and_unit",
    ),
    # --- numeric ranges --------------------------------------------------------------------------
    pytest.param(
        """\
        strategy:
          name: x
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - when: "rsi(14) < 30"
          execution:
            position_size: 1.5
        """,
        ["s.yaml:9:20: execution.position_size: must be <= 1, got 1.5"],
        id="position_size_above_one",
    ),
    pytest.param(
        """\
        strategy:
          name: x
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - when: "rsi(14) < 30"
          execution:
            position_size: 0
        """,
        ["s.yaml:9:20: execution.position_size: must be > 0, got 0"],
        id="position_size_zero",
    ),
    pytest.param(
        """\
        strategy:
          name: x
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - when: "rsi(14) < 30"
          execution:
            position_size: -0.5
        """,
        ["s.yaml:9:20: execution.position_size: must be > 0, got -0.5"],
        id="position_size_negative",
    ),
    pytest.param(
        """\
        strategy:
          name: x
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - when: "rsi(14) < 30"
          execution:
            position_size: "3%"
        """,
        [
            "s.yaml:9:20: execution.position_size: expected a number, got '3%' (write 0.03: a "
            "fraction, not a percentage)"
        ],
        id="position_size_as_a_percentage_string",
    ),
    pytest.param(
        """\
        strategy:
          name: x
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - at_least: {n: 0, of: [{when: "rsi(14) < 30"}]}
          exit:
            require_confirmations: -1
            rules:
              - id: e
                conditions:
                  - when: "rsi(14) > 70"
          execution:
            require_confirmations: 0
        """,
        [
            "s.yaml:7:25: rules[0].conditions[0].at_least.n: must be >= 1, got 0",
            "s.yaml:9:28: exit.require_confirmations: must be >= 1, got -1",
            "s.yaml:15:28: execution.require_confirmations: must be >= 1, got 0",
        ],
        id="require_confirmations_and_at_least_n_not_positive",
    ),
    pytest.param(
        """\
        strategy:
          name: x
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - when: "rsi(14) < 30"
          execution:
            require_confirmations: 1.5
        """,
        ["s.yaml:9:28: execution.require_confirmations: expected a whole number, got 1.5"],
        id="require_confirmations_fractional",
    ),
    pytest.param(
        """\
        strategy:
          name: x
          assets: [BTC]
          params: {level: .nan}
          rules:
            - id: r
              conditions:
                - metric: rsi
                  operator: "<"
                  threshold: .inf
          execution:
            position_size: .nan
        """,
        [
            "s.yaml:4:19: params.level: must be a finite number, got nan",
            "s.yaml:10:22: rules[0].conditions[0].threshold: must be a finite number, got inf",
            "s.yaml:12:20: execution.position_size: must be a finite number, got nan",
        ],
        id="nan_and_infinity_anywhere",
    ),
    # --- empty things ----------------------------------------------------------------------------
    pytest.param(
        """\
        strategy:
          name: ""
          assets: []
          rules: []
        """,
        [
            "s.yaml:2:9: name: must not be empty",
            "s.yaml:3:11: assets: must not be empty",
            "s.yaml:4:10: rules: must not be empty",
        ],
        id="empty_name_assets_and_rules",
    ),
    pytest.param(
        """\
        strategy:
          name: x
          assets: [BTC]
          rules:
            - id: r
              conditions: []
            - id: s
              conditions:
                - all: []
                - any: []
                - when: ""
                - at_least: {n: 1, of: []}
          exit:
            rules: []
          vetoes:
            - id: v
              blocks: []
              conditions:
                - when: "rsi(14) > 70"
        """,
        [
            "s.yaml:6:19: rules[0].conditions: must not be empty",
            "s.yaml:9:16: rules[1].conditions[0].all: must not be empty",
            "s.yaml:10:16: rules[1].conditions[1].any: must not be empty",
            "s.yaml:11:17: rules[1].conditions[2].when: must not be empty",
            "s.yaml:12:32: rules[1].conditions[3].at_least.of: must not be empty",
            "s.yaml:14:12: exit.rules: must not be empty",
            "s.yaml:17:15: vetoes[0].blocks: must not be empty",
        ],
        id="empty_conditions_groups_expressions_exit_rules_and_blocks",
    ),
    # --- identifiers and symbols -----------------------------------------------------------------
    pytest.param(
        """\
        strategy:
          name: x
          assets: [BTC, BTC, "b t c"]
          params: {1st: 3}
          rules:
            - id: 1r
              conditions:
                - when: "rsi(14) < 30"
        """,
        [
            "s.yaml:3:17: assets: BTC is listed twice",
            "s.yaml:3:22: assets[2]: 'b t c' must be an asset symbol such as BTC or AAPL",
            "s.yaml:4:12: params: '1st' is not a valid parameter name (letters, digits and _, "
            "not starting with a digit)",
            "s.yaml:6:11: rules[0].id: '1r' must be an identifier (letters, digits, _ . -), "
            "starting with a letter or _",
        ],
        id="duplicate_and_malformed_symbols_param_names_and_rule_ids",
    ),
    # --- several different mistakes at once ------------------------------------------------------
    pytest.param(
        """\
        strategy:
          name: Several
          assets: [BTC]
          rules:
            - id: r
              source: technicl
              conditions:
                - metric: rsi
                  operator: "=<"
                  treshold: 30
          execution:
            position_size: 2
            action_mode: live
        """,
        [
            "s.yaml:6:15: rules[0].source: 'technicl' is not one of: fundamental, polymarket, "
            "onchain, technical, news (did you mean 'technical'?)",
            "s.yaml:9:21: rules[0].conditions[0].operator: '=<' is not one of: <, <=, >, >=, "
            "==, !=, between (did you mean '<='?)",
            "s.yaml:10:11: rules[0].conditions[0]: unknown key 'treshold' "
            "(did you mean 'threshold'?)",
            "s.yaml:12:20: execution.position_size: must be <= 1, got 2",
            "s.yaml:13:18: execution.action_mode: 'live' is not one of: notify, auto, paper",
        ],
        id="several_errors_are_reported_together_in_source_order",
    ),
]


@pytest.mark.parametrize(("text", "expected"), GOLDEN)
def test_broken_strategy_reports_exactly_these_errors(text, expected):
    assert errors_of(text) == expected


def test_required_key_error_is_suppressed_only_for_the_key_the_suggestion_names():
    text = """\
        strategy:
          name: x
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - metric: rsi
                  treshold: 30
        """

    assert errors_of(text) == [
        "s.yaml:7:11: rules[0].conditions[0]: missing required key 'operator'",
        "s.yaml:8:11: rules[0].conditions[0]: unknown key 'treshold' (did you mean 'threshold'?)",
    ]


def test_required_key_error_is_kept_when_the_suggestion_is_for_another_mapping():
    # 'treshold' sits in the rule, not in the condition: the condition still lacks 'threshold'.
    text = """\
        strategy:
          name: x
          assets: [BTC]
          rules:
            - id: r
              treshold: 30
              conditions:
                - metric: rsi
                  operator: "<"
        """

    assert errors_of(text) == [
        "s.yaml:6:7: rules[0]: unknown key 'treshold' (allowed keys: id, source, description, "
        "max_age, conditions)",
        "s.yaml:8:11: rules[0].conditions[0]: missing required key 'threshold'",
    ]


def test_several_errors_come_as_strategy_errors_that_behaves_as_the_first():
    text = textwrap.dedent(
        """\
        strategy:
          name: ""
          assets: []
          rules:
            - id: r
              conditions:
                - when: "rsi(14) < 30"
        """
    )

    with pytest.raises(StrategyErrors) as info:
        loads(text, "s.yaml")

    group = info.value
    assert len(group.errors) == 2
    assert (group.line, group.column, group.path, group.message) == (
        2,
        9,
        "name",
        "must not be empty",
    )
    assert str(group) == "\n".join(str(error) for error in group.errors)
    assert [(e.line, e.column) for e in group.errors] == [(2, 9), (3, 11)]


def test_single_schema_error_is_a_plain_strategy_error_that_is_its_own_group():
    text = textwrap.dedent(
        """\
        strategy:
          name: x
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - when: "rsi(14) < 30"
          execution: {position_size: 3}
        """
    )

    with pytest.raises(StrategyError) as info:
        loads(text, "s.yaml")

    assert type(info.value) is StrategyError
    assert info.value.errors == (info.value,)


def test_schema_error_excerpt_shows_the_line_and_a_caret_under_the_value():
    text = textwrap.dedent(
        """\
        strategy:
          name: x
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - metric: rsi
                  operator: "=<"
                  threshold: 30
        """
    )

    with pytest.raises(StrategyError) as info:
        loads(text, "s.yaml")

    assert info.value.excerpt == '            operator: "=<"\n                      ^'
    assert info.value.hint == "did you mean '<='?"
    assert info.value.path == "rules[0].conditions[0].operator"


def test_unknown_key_error_points_at_the_key_not_its_value():
    text = textwrap.dedent(
        """\
        strategy:
          name: x
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - metric: rsi
                  operator: "<"
                  threshold: 30
                  max_ag: 1h
        """
    )

    with pytest.raises(StrategyError) as info:
        loads(text, "s.yaml")

    assert (info.value.line, info.value.column) == (10, 11)
    assert info.value.excerpt == "            max_ag: 1h\n            ^"


def test_schema_errors_stop_before_the_compiler_reports_anything():
    # 'rsii' is an unknown metric, but the compiler never sees a file that fails the schema.
    text = """\
        strategy:
          name: x
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - metric: rsii
                  operator: "<"
                  threshold: 30
          execution: {position_size: 5}
        """

    assert errors_of(text) == ["s.yaml:10:30: execution.position_size: must be <= 1, got 5"]


def test_same_error_found_through_two_schema_branches_is_reported_once():
    # A non-mapping condition fails the type check of the condition and of its fallback form.
    text = """\
        strategy:
          name: x
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - 42
        """

    assert errors_of(text) == ["s.yaml:7:11: rules[0].conditions[0]: expected a mapping, got 42"]
