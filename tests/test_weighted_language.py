"""Weighted votes in the strategy language: what compiles, what each form means, and every
mistake reported at its file, line and column (``str(error)``: ``file:line:column: path: message
(hint)``), in source order.

A vote is a ``weighted:`` condition (``of``, ``pass_at``, ``weights``) or ``execution.weighted`` /
``exit.weighted`` over the rules; ``weights`` is a list (fixed) or ``hit_rate(...)``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from signalops.cli import cli
from signalops.errors import StrategyError
from signalops.evaluation.nodes import DOWN, UP, AllOf, AtLeast, HitRate, Not, Weighted
from signalops.explain import strategy_lines, tree_to_dict
from signalops.strategy import load, loads

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "strategies" / "weighted_sources.yaml"
DAY = 86400

HEAD = """\
strategy:
  name: x
  assets: [BTC]
  rules:
    - id: r
      conditions:
"""


def errors_of(text: str) -> list[str]:
    with pytest.raises(StrategyError) as info:
        loads(textwrap.dedent(text), "s.yaml")
    return [str(error) for error in info.value.errors]


def first_vote(text: str) -> Weighted:
    tree = loads(textwrap.dedent(text), "s.yaml").tree
    return next(n for n in tree.nodes if isinstance(n, Weighted))


# --- what compiles -------------------------------------------------------------------------------


def test_a_weighted_condition_votes_over_its_children_with_the_weights_written():
    vote = first_vote(
        HEAD
        + """\
        - weighted:
            pass_at: 60%
            weights: [0.5, 0.3, $small]
            of:
              - when: "rsi(14) < 30"
              - when: "macd_hist > 0"
              - not:
                  when: "close > sma(50)"
  params:
    small: 0.2
"""
    )
    assert vote.pass_at == 0.6
    assert vote.weights == (0.5, 0.3, 0.2)
    assert vote.hit_rate is None and vote.metrics == ()  # fixed weights read no data
    assert [type(c) for c in vote.items][2] is Not
    assert vote.path == "rules[0].conditions[0]"
    assert str(vote.span) == "s.yaml:7:11"


def test_hit_rate_weights_take_defaults_and_both_argument_spellings():
    equals = first_vote(
        HEAD
        + """\
        - weighted:
            pass_at: 0.6
            weights: hit_rate(window=180d)
            of: [{when: "rsi(14) < 30"}, {when: "macd_hist > 0"}]
"""
    )
    assert equals.hit_rate == HitRate(
        window=180 * DAY,
        horizon=DAY,  # one step: did the next bar close higher
        step=DAY,
        min_samples=10,
        prior=0.5,
        min_return=0.0,
        direction=UP,
    )
    # The spelling, quoted (YAML reads an unquoted ': ' as a mapping).
    colons = first_vote(
        HEAD
        + """\
        - weighted:
            pass_at: 0.6
            weights: "hit_rate(window: 30d, horizon: 4h, step: 1h, min_samples: 3, prior: 40%,
              min_return: 0.2%, direction: down)"
            of: [{when: "rsi(14) < 30"}]
"""
    )
    assert colons.hit_rate == HitRate(30 * DAY, 4 * 3600, 3600, 3, 0.4, 0.002, DOWN)
    # Each child asks the hit_rate source two questions, carrying the child itself.
    hits, signals = colons.metrics
    assert (hits.source, hits.name, signals.name) == ("hit_rate", "hits", "signals")
    params = dict(hits.params)
    assert params["window"] == 30 * DAY and params["direction"] == DOWN
    assert '"op":"<"' in params["condition"] and "min_samples" not in params


def test_execution_and_exit_votes_weigh_the_rules_themselves():
    tree = loads(
        textwrap.dedent(
            """\
            strategy:
              name: x
              assets: [BTC]
              rules:
                - id: a
                  conditions: [{when: "rsi(14) < 30"}]
                - id: b
                  conditions: [{when: "macd_hist > 0"}]
              exit:
                rules:
                  - id: c
                    conditions: [{when: "rsi(14) > 70"}]
                weighted: {pass_at: 1, weights: "hit_rate(window: 90d, horizon: 3d)"}
              execution:
                weighted: {pass_at: 0.5, weights: [2, 1]}
            """
        ),
        "s.yaml",
    ).tree
    entry, exit_ = tree.entry, tree.exit
    assert isinstance(entry, Weighted) and isinstance(exit_, Weighted)
    assert [rule.text for rule in entry.items] == ["a", "b"]
    assert all(isinstance(rule, AllOf) for rule in entry.items)
    assert entry.text == "BUY when the rules that pass carry 50% of the weight"
    assert (entry.weights, entry.label) == ((2.0, 1.0), "rules")
    assert exit_.text == "SELL when the rules that pass carry 100% of the weight"
    assert exit_.hit_rate is not None and exit_.hit_rate.direction == DOWN  # a SELL rule is
    # right when the price falls


def test_a_hit_rate_counts_the_move_the_vote_argues_for():
    def direction(where: str) -> str:
        tree = loads(textwrap.dedent(where), "s.yaml").tree
        vote = next(n for n in tree.nodes if isinstance(n, Weighted))
        assert vote.hit_rate is not None
        return vote.hit_rate.direction

    weighted = '{weighted: {pass_at: 0.5, weights: "hit_rate(window: 9d)", of: [{when: "c"}]}}'
    weighted = weighted.replace('"c"', '"close > 1"')
    entry = "strategy:\n  name: x\n  assets: [BTC]\n  rules:\n    - id: r\n      conditions:\n"
    assert direction(entry + f"        - {weighted}\n") == UP
    assert direction(entry + f"        - not: {weighted}\n") == DOWN  # a PASS argues against
    vetoed = entry + '        - when: "close > 1"\n  vetoes:\n    - id: v\n'
    assert direction(vetoed + f"      conditions: [{weighted}]\n") == DOWN  # blocks a BUY
    sell_veto = vetoed + "      blocks: [SELL]\n"
    assert direction(sell_veto + f"      conditions: [{weighted}]\n") == UP


def test_the_example_strategy_validates_and_explains_its_weights():
    strategy = load(EXAMPLE)
    entry = strategy.tree.entry
    assert isinstance(entry, Weighted) and entry.hit_rate is not None
    assert [rule.text for rule in entry.items] == ["oversold", "momentum", "stablecoin_inflow"]
    assert {m.source for m in strategy.tree.metrics} == {"hit_rate", "technical", "onchain"}
    console = Console(width=200, no_color=True, record=True)
    for line in strategy_lines(tree_to_dict(strategy)):
        console.print(line)
    text = console.export_text()
    assert "BUY when the rules that pass carry 60% of the weight" in text
    assert (
        "weights: hit rate over 180d: a PASS then a rise of more than 0% within 5d (1d bars); "
        "under 10 signals: prior 0.5"
    ) in text
    result = CliRunner().invoke(cli, ["validate", str(EXAMPLE)], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def test_explain_json_lists_a_fixed_votes_weights():
    strategy = loads(
        textwrap.dedent(
            HEAD
            + """\
            - weighted: {pass_at: 0.5, weights: [3, 1],
                of: [{when: "close > 1"}, {when: "close < 9"}]}
            """
        ),
        "s.yaml",
    )
    entry = tree_to_dict(strategy)["entry"]
    assert isinstance(strategy.tree.entry, AtLeast)
    vote = entry["children"][0]["children"][0]
    assert vote["kind"] == "weighted"
    assert vote["pass_at"] == 0.5
    assert vote["weights"] == [
        {"weight": 3.0, "source": "fixed"},
        {"weight": 1.0, "source": "fixed"},
    ]


# --- mistakes, each at its place ------------------------------------------------------------------

ERRORS = [
    pytest.param(
        """\
        - weighted:
            pass_at: 0.6
            weights: [0.5, 0.5]
            of:
              - when: "rsi(14) < 30"
              - when: "close > 1"
              - when: "close > 2"
        """,
        [
            "s.yaml:9:22: rules[0].conditions[0].weighted.weights: weights lists 2 numbers for 3 "
            "conditions (give one weight per condition, in their order)"
        ],
        id="one_weight_per_child",
    ),
    pytest.param(
        """\
        - weighted: {pass_at: 0.6, weights: [1, -1],
            of: [{when: "rsi(14) < 30"}, {when: "close > 1"}]}
        """,
        [
            "s.yaml:7:49: rules[0].conditions[0].weighted.weights[1]: a weight cannot be "
            "negative, got -1"
        ],
        id="negative_weight",
    ),
    pytest.param(
        """\
        - weighted: {pass_at: 0.6, weights: [0, 0],
            of: [{when: "rsi(14) < 30"}, {when: "close > 1"}]}
        """,
        [
            "s.yaml:7:45: rules[0].conditions[0].weighted.weights: the weights add up to 0: the "
            "vote could never pass"
        ],
        id="weights_that_add_up_to_nothing",
    ),
    pytest.param(
        """\
        - weighted: {pass_at: 1.5, weights: [1, 1],
            of: [{when: "rsi(14) < 30"}, {when: "close > 1"}]}
        """,
        [
            "s.yaml:7:31: rules[0].conditions[0].weighted.pass_at: pass_at must be above 0 and at "
            "most 1, got 1.5 (the share of the total weight the passing children must carry, "
            "e.g. 0.6)"
        ],
        id="pass_at_above_one",
    ),
    pytest.param(
        """\
        - weighted: {pass_at: lots, weights: [1, 1],
            of: [{when: "rsi(14) < 30"}, {when: "close > 1"}]}
        """,
        [
            "s.yaml:7:31: rules[0].conditions[0].weighted.pass_at: pass_at must be a number, got "
            "'lots' (e.g. 0.6 or 60%)"
        ],
        id="pass_at_not_a_number",
    ),
    pytest.param(
        """\
        - weighted:
            pass_at: $share
            weights: [$w, 1]
            of: [{when: "rsi(14) < 30"}, {when: "close > 1"}]
        """,
        [
            "s.yaml:8:22: rules[0].conditions[0].weighted.pass_at: unknown parameter '$share' "
            "(define it under strategy.params)",
            "s.yaml:9:23: rules[0].conditions[0].weighted.weights[0]: unknown parameter '$w' "
            "(define it under strategy.params)",
        ],
        id="unknown_params",
    ),
    pytest.param(
        """\
        - weighted:
            pass_at: 0.6
            weights: hit_rate(windw=180d, horizon=5d)
            of: [{when: "rsi(14) < 30"}]
        """,
        [
            "s.yaml:9:31: rules[0].conditions[0].weighted.weights: hit_rate has no parameter "
            "'windw' (did you mean 'window'?)"
        ],
        id="misspelt_hit_rate_parameter_at_its_column",
    ),
    pytest.param(
        """\
        - weighted:
            pass_at: 0.6
            weights: hit_rate(horizon=5d)
            of: [{when: "rsi(14) < 30"}]
        """,
        [
            "s.yaml:9:22: rules[0].conditions[0].weighted.weights: hit_rate needs a window (e.g. "
            "hit_rate(window=180d, horizon=5d): the history the rate is measured on)"
        ],
        id="hit_rate_without_window",
    ),
    pytest.param(
        """\
        - weighted:
            pass_at: 0.6
            weights: hit_rate(window=180d, horizon=36h)
            of: [{when: "rsi(14) < 30"}]
        """,
        [
            "s.yaml:9:52: rules[0].conditions[0].weighted.weights: horizon must be a whole number "
            "of steps (1d)"
        ],
        id="horizon_between_bars",
    ),
    pytest.param(
        """\
        - weighted:
            pass_at: 0.6
            weights: hit_rate(window=5d, horizon=5d)
            of: [{when: "rsi(14) < 30"}]
        """,
        [
            "s.yaml:9:38: rules[0].conditions[0].weighted.weights: window 5d holds no bar whose "
            "5d horizon has ended (make the window longer than the horizon)"
        ],
        id="window_no_longer_than_horizon",
    ),
    pytest.param(
        """\
        - weighted:
            pass_at: 0.6
            weights: hit_rate(window=180d, step=2d, horizon=4d)
            of: [{when: "rsi(14) < 30"}]
        """,
        [
            "s.yaml:9:49: rules[0].conditions[0].weighted.weights: step must be a candle "
            "timeframe, got 2d (1m, 5m, 15m, 30m, 1h, 4h, 1d, 7d)"
        ],
        id="step_not_a_candle",
    ),
    pytest.param(
        """\
        - weighted:
            pass_at: 0.6
            weights: "hit_rate(window: 180d, horizon: 5d, min_samples: 0)"
            of: [{when: "rsi(14) < 30"}]
        """,
        [
            "s.yaml:9:72: rules[0].conditions[0].weighted.weights: min_samples must be a whole "
            "number of at least 1, got 0"
        ],
        id="min_samples_zero_inside_a_quoted_call",
    ),
    pytest.param(
        """\
        - weighted:
            pass_at: 0.6
            weights: hit_rate(window=30d, window=20d, direction=sideways)
            of: [{when: "rsi(14) < 30"}]
        """,
        [
            "s.yaml:9:43: rules[0].conditions[0].weighted.weights: parameter 'window' is given "
            "twice",
            "s.yaml:9:65: rules[0].conditions[0].weighted.weights: direction must be up or down, "
            "got 'sideways' (up: a hit is a rise after a PASS; down: a fall)",
        ],
        id="parameter_twice_and_bad_direction",
    ),
    pytest.param(
        """\
        - weighted:
            pass_at: 0.6
            weights: hitrate(window=180d)
            of: [{when: "rsi(14) < 30"}]
        """,
        [
            "s.yaml:9:22: rules[0].conditions[0].weighted.weights: weights must be a list of "
            "numbers or hit_rate(...), got 'hitrate' (did you mean 'hit_rate'?)"
        ],
        id="not_hit_rate",
    ),
    pytest.param(
        """\
        - weighted:
            pass_at: 0.6
            weights: hit_rate(window=180d
            of: [{when: "rsi(14) < 30"}]
        """,
        [
            "s.yaml:9:42: rules[0].conditions[0].weighted.weights: missing ')' at the end of "
            "hit_rate(...)"
        ],
        id="unclosed_call",
    ),
    pytest.param(
        """\
        - weighted:
            pass_at: 0.6
            weights: hit_rate(window=30d)
            of:
              - weighted:
                  pass_at: 0.5
                  weights: hit_rate(window=10d)
                  of: [{when: "rsi(14) < 30"}]
        """,
        [
            "s.yaml:13:28: rules[0].conditions[0].weighted.of[0].weighted.weights: a hit-rate "
            "vote cannot be inside another hit-rate vote's child (the outer vote measures its "
            "children on past bars; give this one fixed weights)"
        ],
        id="hit_rate_inside_a_measured_child",
    ),
    pytest.param(
        """\
        - weighted:
            pass: 0.6
            weights: [1]
            of: [{when: "rsi(14) < 30"}]
        """,
        [
            "s.yaml:8:13: rules[0].conditions[0].weighted: unknown key 'pass' (did you mean "
            "'pass_at'?)"
        ],
        id="schema_unknown_key_suggests_pass_at",
    ),
]


@pytest.mark.parametrize(("body", "expected"), ERRORS)
def test_a_mistake_in_a_vote_is_reported_at_its_line_and_column(body, expected):
    assert errors_of(HEAD + textwrap.indent(textwrap.dedent(body), "        ")) == expected


def test_rule_votes_refuse_a_second_way_to_confirm_and_a_measured_rule():
    assert errors_of(
        HEAD
        + """\
        - when: "close > 1"
  execution:
    require_confirmations: 1
    weighted: {pass_at: 0.5, weights: [1]}
"""
    ) == [
        "s.yaml:10:5: execution.weighted: give either require_confirmations or weighted, not "
        "both (weighted replaces the count of rules by a vote of their weights)"
    ]
    assert errors_of(
        HEAD
        + """\
        - weighted: {pass_at: 0.6, weights: "hit_rate(window: 10d)", of: [{when: "rsi(14) < 30"}]}
  execution:
    weighted: {pass_at: 0.5, weights: 'hit_rate(window=30d)'}
"""
    ) == [
        "s.yaml:9:39: execution.weighted.weights: rule 'r' has a hit-rate vote, and the rules "
        "are weighed by hit rate: a measured rule cannot measure again (give the rules fixed "
        "weights, or the inner vote fixed weights)"
    ]


def test_a_veto_that_blocks_both_sides_must_say_which_move_is_a_hit():
    assert errors_of(
        HEAD
        + """\
        - when: "close > 1"
  vetoes:
    - id: v
      blocks: [BUY, SELL]
      conditions:
        - weighted: {pass_at: 0.5, weights: 'hit_rate(window=30d)', of: [{when: 'close > 1'}]}
"""
    ) == [
        "s.yaml:12:65: vetoes[0].conditions[0].weighted.weights: say which move makes a hit: "
        "direction=up or direction=down (a vote in a veto that blocks both BUY and SELL has no "
        "default direction)"
    ]
