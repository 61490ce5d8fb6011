"""Tests for the strategy compiler: schema-valid YAML in, ``Strategy`` and its logic tree out.

The first half shows what each form compiles to (the original README form, structured metrics,
markets, ``when:`` expressions, groups, vetoes, exits, params and defaults, max_age precedence);
the second half is the table of compile errors with their exact message, line and column.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from signalops.catalogue.builtin import TECHNICAL
from signalops.catalogue.spec import Catalogue, MetricSpec, SourceCatalogue
from signalops.errors import StrategyError
from signalops.evaluation.nodes import (
    AllOf,
    Arith,
    AtLeast,
    Const,
    Metric,
    Neg,
    Node,
    Not,
    Predicate,
)
from signalops.evaluation.tree import confirmation_text
from signalops.side import Side
from signalops.strategy import Strategy, load, loads
from signalops.strategy.compiler import MAX_EXPRESSION_DEPTH, parse_number

ROOT = Path(__file__).resolve().parents[1]
STRATEGY_FILES = sorted((ROOT / "strategies").glob("*.yaml"))

HOUR = 3600
DAY = 86400


def compile_text(text: str, catalogue: Catalogue | None = None) -> Strategy:
    if catalogue is None:
        return loads(textwrap.dedent(text), "s.yaml")
    return loads(textwrap.dedent(text), "s.yaml", catalogue)


def errors_of(text: str, catalogue: Catalogue | None = None) -> list[str]:
    with pytest.raises(StrategyError) as info:
        compile_text(text, catalogue)
    return [str(error) for error in info.value.errors]


def one_condition(condition: str, *, source: str | None = "technical") -> str:
    """A strategy whose only rule has ``condition`` (YAML, without the leading '- ')."""
    lines = condition.strip("\n").split("\n")
    body = "\n".join(["        - " + lines[0], *("          " + line for line in lines[1:])])
    rule_source = f"      source: {source}\n" if source else ""
    return (
        "strategy:\n"
        "  name: T\n"
        "  assets: [BTC]\n"
        "  params: {oversold: 30, limit: -1B, market: some-market, long: 200}\n"
        "  rules:\n"
        "    - id: r\n"
        f"{rule_source}"
        "      conditions:\n"
        f"{body}\n"
    )


def first_node(condition: str, *, source: str | None = "technical") -> Node:
    strategy = loads(one_condition(condition, source=source), "s.yaml")
    (rule,) = strategy.tree.entry.children
    return rule.children[0]


def leaf(condition: str, *, source: str | None = "technical") -> Predicate:
    node = first_node(condition, source=source)
    assert isinstance(node, Predicate), node
    return node


def metric_summary(metric: Metric) -> tuple[str, str, dict]:
    return metric.source, metric.name, dict(metric.params)


def shape(node: Node) -> object:
    """A node as nested tuples: group type and children, or a leaf's rendered text."""
    if isinstance(node, Predicate):
        return node.text
    if isinstance(node, AtLeast):
        return ("AtLeast", node.n, tuple(shape(child) for child in node.children))
    return (type(node).__name__, tuple(shape(child) for child in node.children))


# --- the original README form --------------------------------------------------------------------


def test_original_readme_strategy_compiles_unchanged():
    strategy = load(ROOT / "tests" / "fixtures" / "original_readme.yaml")

    assert strategy.name == "Multi_Source_Momentum"
    assert strategy.description is None
    assert strategy.assets == ("BTC", "ETH", "SOL")
    assert strategy.params == {}
    assert (strategy.execution.require_confirmations, strategy.execution.position_size) == (2, 0.03)
    assert strategy.execution.action_mode == "notify"
    assert strategy.tree.exit is None
    assert strategy.exit_confirmations is None
    assert strategy.tree.vetoes == ()


def test_original_readme_tree_is_two_of_two_rules_with_one_leaf_each():
    strategy = load(ROOT / "tests" / "fixtures" / "original_readme.yaml")
    entry = strategy.tree.entry

    assert shape(entry) == (
        "AtLeast",
        2,
        (
            ("AllOf", ("price_to_sales < 3",)),
            ("AllOf", ("polymarket('crypto_regulation_crackdown_2025').yes < 0.2",)),
        ),
    )
    assert entry.text == confirmation_text("BUY", 2, 2)
    assert [(rule.label, rule.source) for rule in entry.children] == [
        ("value_screen", "fundamental"),
        ("event_filter", "polymarket"),
    ]


def test_original_readme_leaves_have_their_metrics_thresholds_and_max_ages():
    strategy = load(ROOT / "tests" / "fixtures" / "original_readme.yaml")
    value, event = strategy.tree.leaves()

    assert [metric_summary(m) for m in value.metrics] == [("fundamental", "price_to_sales", {})]
    assert (value.op, value.right, value.max_ages) == ("<", (Const(3.0, "3"),), (7 * DAY,))
    assert [metric_summary(m) for m in event.metrics] == [
        ("polymarket", "yes", {"market": "crypto_regulation_crackdown_2025"})
    ]
    assert (event.op, event.right, event.max_ages) == ("<", (Const(0.2, "0.2"),), (HOUR,))
    assert (value.rule, event.rule) == ("value_screen", "event_filter")


def test_original_readme_leaves_point_at_their_conditions_in_the_file():
    path = ROOT / "tests" / "fixtures" / "original_readme.yaml"
    strategy = load(path)
    lines = path.read_text(encoding="utf-8").splitlines()

    value, event = strategy.tree.leaves()

    assert (value.span.line, value.span.column, value.path) == (9, 11, "rules[0].conditions[0]")
    assert (event.span.line, event.span.column, event.path) == (15, 11, "rules[1].conditions[0]")
    assert lines[value.span.line - 1].strip().startswith('- metric: "price_to_sales"')
    assert lines[event.span.line - 1].strip().startswith('- market: "crypto_regulation')


@pytest.mark.parametrize("path", STRATEGY_FILES, ids=lambda p: p.name)
def test_every_example_strategy_compiles(path):
    strategy = load(path)

    assert strategy.name
    assert strategy.assets
    assert strategy.tree.leaves()
    assert strategy.content_hash.startswith("sha256:")
    for node in strategy.tree.nodes:
        assert node.span.file == str(path)
        assert node.span.line >= 1


@pytest.mark.parametrize("path", STRATEGY_FILES, ids=lambda p: p.name)
def test_every_example_strategy_leaf_points_at_a_condition_line(path):
    strategy = load(path)
    lines = path.read_text(encoding="utf-8").splitlines()

    for node in strategy.tree.leaves():
        line = lines[node.span.line - 1]
        assert any(key in line for key in ("when:", "metric:", "market:")), line


def test_example_strategies_have_the_documented_shapes():
    shapes = {path.stem: shape(load(path).tree.entry) for path in STRATEGY_FILES}

    assert shapes["banking_crisis_dip"] == ("AtLeast", 1, (("AllOf", ("rsi(14) < 30",)),))
    assert shapes["event_filter"] == (
        "AtLeast",
        1,
        (
            (
                "AllOf",
                (
                    (
                        "AtLeast",
                        2,
                        ("rsi(14) between 40 and 70", "macd_hist > 0", "volume_z(20) > 1.5"),
                    ),
                    ("Not", ("close < bb_lower(20, 2)",)),
                ),
            ),
        ),
    )


# --- structured metric form ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "source", "metric", "text"),
    [
        (
            "metric: rsi\noperator: '<'\nthreshold: 30",
            "technical",
            ("technical", "rsi", {"n": 14, "timeframe": DAY}),
            "rsi < 30",
        ),
        (
            "metric: rsi_14\noperator: '<'\nthreshold: 30",
            "technical",
            ("technical", "rsi", {"n": 14, "timeframe": DAY}),
            "rsi(14) < 30",
        ),
        (
            "metric: sma_50\noperator: '>'\nthreshold: 100",
            "technical",
            ("technical", "sma", {"n": 50, "timeframe": DAY}),
            "sma(50) > 100",
        ),
        (
            "metric: ema_20\noperator: '>'\nthreshold: 100",
            None,
            ("technical", "ema", {"n": 20, "timeframe": DAY}),
            "ema(20) > 100",
        ),
        (
            "metric: volume_z_20\noperator: '>'\nthreshold: 2",
            "technical",
            ("technical", "volume_z", {"n": 20, "timeframe": DAY}),
            "volume_z(20) > 2",
        ),
        (
            "metric: pe_ratio\noperator: '<'\nthreshold: 15",
            "fundamental",
            ("fundamental", "trailing_pe", {}),
            "trailing_pe < 15",
        ),
        (
            "metric: pe\noperator: '<'\nthreshold: 15",
            None,
            ("fundamental", "trailing_pe", {}),
            "trailing_pe < 15",
        ),
        (
            "metric: price_to_sales\noperator: '<'\nthreshold: 3.0",
            "fundamental",
            ("fundamental", "price_to_sales", {}),
            "price_to_sales < 3",
        ),
        (
            "metric: price_to_book\noperator: '<'\nthreshold: 1.5",
            None,
            ("fundamental", "price_to_book", {}),
            "price_to_book < 1.5",
        ),
        (
            "metric: exchange_net_flow_24h\noperator: '<'\nthreshold: -100M",
            "onchain",
            ("onchain", "exchange_net_flow_24h", {"exchange": "default"}),
            "exchange_net_flow_24h < -100M",
        ),
        (
            "metric: price\noperator: '>'\nthreshold: 1.5k",
            "technical",
            ("technical", "close", {"timeframe": DAY}),
            "close > 1.5k",
        ),
        (
            "metric: rsi\nparams: {n: 7, timeframe: 4h}\noperator: '<'\nthreshold: 25",
            "technical",
            ("technical", "rsi", {"n": 7, "timeframe": 4 * HOUR}),
            "rsi(7, 4h) < 25",
        ),
        (
            "metric: stablecoin_net_flow\nparams: {stablecoin: USDC, window: 7d}\n"
            "operator: '>'\nthreshold: 500M",
            "onchain",
            (
                "onchain",
                "stablecoin_net_flow",
                {"stablecoin": "USDC", "window": 7 * DAY, "chain": "all"},
            ),
            "stablecoin_net_flow('USDC', 7d) > 500M",
        ),
        (
            "metric: return\nparams: {window: 7d}\noperator: '<'\nthreshold: -15%",
            "technical",
            ("technical", "return", {"window": 7 * DAY, "timeframe": DAY}),
            "return(7d) < -15%",
        ),
        (
            "metric: news_count\nparams: {query: hack}\noperator: '>='\nthreshold: 3",
            "news",
            ("news", "news_count", {"query": "hack", "window": DAY, "feeds": "all"}),
            "news_count('hack') >= 3",
        ),
        (
            "metric: close\nsource: technical\noperator: '>'\nthreshold: 1",
            "fundamental",  # the condition's own source overrides the rule's
            ("technical", "close", {"timeframe": DAY}),
            "close > 1",
        ),
    ],
)
def test_structured_metric_condition_compiles_to_one_leaf(condition, source, metric, text):
    node = leaf(condition, source=source)

    assert [metric_summary(m) for m in node.metrics] == [metric]
    assert node.text == text


@pytest.mark.parametrize(
    ("threshold", "value", "text"),
    [
        ("30", 30.0, "30"),
        ("3.0", 3.0, "3"),
        ("-0.5", -0.5, "-0.5"),
        ("'5%'", 0.05, "5%"),
        ("5%", 0.05, "5%"),
        ("1.5k", 1500.0, "1.5k"),
        ("100M", 1e8, "100M"),
        ("-1B", -1e9, "-1B"),
        ("2T", 2e12, "2T"),
        ("1e3", 1000.0, "1e3"),
        ("'1_000'", 1000.0, "1_000"),
        ("$oversold", 30.0, "30"),
        ("$limit", -1e9, "-1B"),
    ],
)
def test_threshold_forms_become_a_constant_with_the_text_written(threshold, value, text):
    # A percent is no amount in a currency (macd's): it is compared with a ratio instead.
    metric, source = ("current_ratio", "fundamental") if "%" in threshold else ("macd", None)
    condition = f"metric: {metric}\noperator: '<'\nthreshold: {threshold}"
    node = leaf(condition) if source is None else leaf(condition, source=source)

    assert node.right == (Const(value, text),)


def test_between_threshold_is_a_low_and_a_high_constant():
    node = leaf("metric: rsi_14\noperator: between\nthreshold: [30, $oversold]")

    assert node.op == "between"
    assert node.right == (Const(30.0, "30"), Const(30.0, "30"))
    assert node.text == "rsi(14) between 30 and 30"


# --- market form ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "name", "params", "text"),
    [
        ("market: slug", "yes", {"market": "slug"}, "polymarket('slug').yes > 0.5"),
        ("market: slug\noutcome: no", "no", {"market": "slug"}, "polymarket('slug').no > 0.5"),
        ("market: slug\noutcome: Yes", "yes", {"market": "slug"}, "polymarket('slug').yes > 0.5"),
        (
            "market: slug\noutcome: Trump",
            "outcome",
            {"market": "slug", "name": "Trump"},
            "polymarket('slug').outcome('Trump') > 0.5",
        ),
        (
            "market: slug\nmetric: outcome\noutcome: Trump",
            "outcome",
            {"market": "slug", "name": "Trump"},
            "polymarket('slug').outcome('Trump') > 0.5",
        ),
        (
            "market: slug\nmetric: spread",
            "spread",
            {"market": "slug", "outcome": "yes"},
            "polymarket('slug').spread > 0.5",
        ),
        (
            "market: slug\nmetric: spread\noutcome: no",
            "spread",
            {"market": "slug", "outcome": "no"},
            "polymarket('slug').spread('no') > 0.5",
        ),
        (
            "market: slug\nmetric: change\nparams: {window: 7d}",
            "change",
            {"market": "slug", "window": 7 * DAY, "outcome": "yes"},
            "polymarket('slug').change(7d) > 0.5",
        ),
        (
            "market: slug\nmetric: liquidity",
            "liquidity",
            {"market": "slug"},
            "polymarket('slug').liquidity > 0.5",
        ),
        (
            "market: $market",
            "yes",
            {"market": "some-market"},
            "polymarket('some-market').yes > 0.5",
        ),
        ("market: '511754'", "yes", {"market": "511754"}, "polymarket('511754').yes > 0.5"),
    ],
)
def test_market_condition_reads_the_polymarket_metric_named(condition, name, params, text):
    node = leaf(condition + "\noperator: '>'\nthreshold: 0.5", source=None)

    assert [metric_summary(m) for m in node.metrics] == [("polymarket", name, params)]
    assert node.text == text
    assert node.max_ages == (HOUR,)


def test_market_condition_is_polymarket_whatever_the_rule_source():
    node = leaf("market: slug\noperator: '<'\nthreshold: 0.2", source="technical")

    assert node.metrics[0].source == "polymarket"


def test_market_metrics_are_global_not_per_asset():
    node = leaf("market: slug\noperator: '<'\nthreshold: 0.2", source=None)

    assert node.metrics[0].asset_scoped is False
    assert node.metrics[0].request("BTC").asset is None


# --- when: expressions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "metrics", "text"),
    [
        (
            "sma(20) > sma(50)",
            [
                ("technical", "sma", {"n": 20, "timeframe": DAY}),
                ("technical", "sma", {"n": 50, "timeframe": DAY}),
            ],
            "sma(20) > sma(50)",
        ),
        (
            "close > sma(200) * 0.9",
            [
                ("technical", "close", {"timeframe": DAY}),
                ("technical", "sma", {"n": 200, "timeframe": DAY}),
            ],
            "close > sma(200) * 0.9",
        ),
        (
            "(close - sma(20)) / sma(20) > 5%",
            [
                ("technical", "close", {"timeframe": DAY}),
                ("technical", "sma", {"n": 20, "timeframe": DAY}),
            ],
            "(close - sma(20)) / sma(20) > 5%",
        ),
        (
            "rsi(14) between 40 and 70",
            [("technical", "rsi", {"n": 14, "timeframe": DAY})],
            "rsi(14) between 40 and 70",
        ),
        (
            "return(7d) < -15%",
            [("technical", "return", {"window": 7 * DAY, "timeframe": DAY})],
            "return(7d) < -15%",
        ),
        (
            "rsi(n=14, timeframe=4h) < 30",
            [("technical", "rsi", {"n": 14, "timeframe": 4 * HOUR})],
            "rsi(14, 4h) < 30",
        ),
        (
            "rsi(timeframe=1h) < 30",
            [("technical", "rsi", {"n": 14, "timeframe": HOUR})],
            "rsi(timeframe=1h) < 30",
        ),
        (
            "technical.rsi(14) < 35",
            [("technical", "rsi", {"n": 14, "timeframe": DAY})],
            "rsi(14) < 35",
        ),
        (
            "fundamental.pe_ratio < 15",
            [("fundamental", "trailing_pe", {})],
            "trailing_pe < 15",
        ),
        (
            "polymarket('us-recession-in-2025').yes >= 60%",
            [("polymarket", "yes", {"market": "us-recession-in-2025"})],
            "polymarket('us-recession-in-2025').yes >= 60%",
        ),
        (
            "polymarket('slug').change(1d) > 0.15",
            [("polymarket", "change", {"market": "slug", "window": DAY, "outcome": "yes"})],
            "polymarket('slug').change(1d) > 0.15",
        ),
        (
            "polymarket(market='slug').outcome(name='Trump') > 0.5",
            [("polymarket", "outcome", {"market": "slug", "name": "Trump"})],
            "polymarket('slug').outcome('Trump') > 0.5",
        ),
        (
            "polymarket($market).yes > 0.5",
            [("polymarket", "yes", {"market": "some-market"})],
            "polymarket('some-market').yes > 0.5",
        ),
        (
            "stablecoin_net_flow('USDC', '24h') > 100M",
            [
                (
                    "onchain",
                    "stablecoin_net_flow",
                    {"stablecoin": "USDC", "window": DAY, "chain": "all"},
                )
            ],
            "stablecoin_net_flow('USDC', 1d) > 100M",
        ),
        (
            "stablecoin_net_flow('USDC', 2d) < $limit",
            [
                (
                    "onchain",
                    "stablecoin_net_flow",
                    {"stablecoin": "USDC", "window": 2 * DAY, "chain": "all"},
                )
            ],
            "stablecoin_net_flow('USDC', 2d) < -1B",
        ),
        (
            "onchain.chain_tvl('Ethereum') > 50B",
            [("onchain", "chain_tvl", {"chain": "Ethereum"})],
            "chain_tvl('Ethereum') > 50B",
        ),
        (
            "news_count('/hack|exploit/', 24h) >= 3",
            [("news", "news_count", {"query": "/hack|exploit/", "window": DAY, "feeds": "all"})],
            "news_count('/hack|exploit/', 1d) >= 3",
        ),
        (
            "close > sma($long)",
            [
                ("technical", "close", {"timeframe": DAY}),
                ("technical", "sma", {"n": 200, "timeframe": DAY}),
            ],
            "close > sma(200)",
        ),
        (
            "rsi(14) < $oversold",
            [("technical", "rsi", {"n": 14, "timeframe": DAY})],
            "rsi(14) < 30",
        ),
    ],
)
def test_when_comparison_compiles_to_one_leaf_reading_these_metrics(expression, metrics, text):
    node = leaf(f'when: "{expression}"', source=None)

    assert [metric_summary(m) for m in node.metrics] == metrics
    assert node.text == text


def test_when_arithmetic_keeps_the_operand_tree():
    node = leaf('when: "close - open > 2 * atr(14)"')

    close, open_, atr = node.metrics
    assert node.left == Arith("-", close, open_)
    assert node.right == (Arith("*", Const(2.0, "2"), atr),)


def test_when_negated_metric_is_a_neg_operand_and_negated_number_a_constant():
    node = leaf('when: "-macd_hist > -1.5"')

    assert node.left == Neg(node.metrics[0])
    assert node.right == (Const(-1.5, "-1.5"),)


def test_when_metric_read_twice_in_one_leaf_is_fetched_once():
    node = leaf('when: "(close - sma(20)) / sma(20) > 0"')

    assert [m.name for m in node.metrics] == ["close", "sma"]
    assert node.max_ages == (2 * DAY, 2 * DAY)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("rsi(14) < 35 and volume_z(20) > 2", ("AllOf", ("rsi(14) < 35", "volume_z(20) > 2"))),
        (
            "rsi(14) < 30 or close < bb_lower(20, 2)",
            ("AnyOf", ("rsi(14) < 30", "close < bb_lower(20, 2)")),
        ),
        ("not rsi(14) > 70", ("Not", ("rsi(14) > 70",))),
        (
            "rsi(14) < 30 and (macd_hist > 0 or volume_z(20) > 2)",
            ("AllOf", ("rsi(14) < 30", ("AnyOf", ("macd_hist > 0", "volume_z(20) > 2")))),
        ),
        (
            "not (rsi(14) > 70 and close > 1)",
            ("Not", (("AllOf", ("rsi(14) > 70", "close > 1")),)),
        ),
    ],
)
def test_when_boolean_operators_become_group_nodes(expression, expected):
    assert shape(first_node(f'when: "{expression}"')) == expected


def test_when_leaves_point_at_their_own_sub_expression_in_the_file():
    text = """\
        strategy:
          name: T
          assets: [BTC]
          rules:
            - id: r
              source: technical
              conditions:
                - when: "rsi(14) < 35 and volume_z(20) > 2"
        """

    first, second = compile_text(text).tree.leaves()

    assert (first.span.line, first.span.column) == (8, 18)
    assert (second.span.line, second.span.column) == (8, 35)
    assert first.path == second.path == "rules[0].conditions[0]"
    assert first.rule == second.rule == "r"


def test_when_condition_keeps_its_description_on_every_leaf():
    node = leaf('when: "rsi(14) < 30"\ndescription: oversold')

    assert node.description == "oversold"


# --- groups --------------------------------------------------------------------------------------


def test_groups_nest_all_any_at_least_and_not():
    text = """\
        strategy:
          name: T
          assets: [BTC]
          rules:
            - id: r
              source: technical
              conditions:
                - all:
                    - when: "rsi(14) < 30"
                    - any:
                        - when: "close < bb_lower(20, 2)"
                        - not:
                            at_least:
                              n: 2
                              of:
                                - when: "macd_hist > 0"
                                - metric: volume_z_20
                                  operator: ">"
                                  threshold: 2
                                - market: slug
                                  operator: "<"
                                  threshold: 0.3
        """

    (rule,) = compile_text(text).tree.entry.children

    assert shape(rule) == (
        "AllOf",
        (
            (
                "AllOf",
                (
                    "rsi(14) < 30",
                    (
                        "AnyOf",
                        (
                            "close < bb_lower(20, 2)",
                            (
                                "Not",
                                (
                                    (
                                        "AtLeast",
                                        2,
                                        (
                                            "macd_hist > 0",
                                            "volume_z(20) > 2",
                                            "polymarket('slug').yes < 0.3",
                                        ),
                                    ),
                                ),
                            ),
                        ),
                    ),
                ),
            ),
        ),
    )


def test_group_nodes_know_their_path_text_and_span():
    text = """\
        strategy:
          name: T
          assets: [BTC]
          rules:
            - id: r
              source: technical
              conditions:
                - at_least:
                    n: 1
                    of:
                      - when: "rsi(14) < 30"
                - not:
                    when: "rsi(14) > 70"
        """

    at_least, not_ = compile_text(text).tree.entry.children[0].children

    assert isinstance(at_least, AtLeast)
    assert (at_least.path, at_least.text, at_least.span.line) == (
        "rules[0].conditions[0]",
        "at least 1 of",
        8,
    )
    assert isinstance(not_, Not)
    assert (not_.path, not_.text, not_.span.line) == ("rules[0].conditions[1]", "not", 12)
    assert not_.item.path == "rules[0].conditions[1].not"


def test_node_indexes_number_every_node_once_in_tree_order():
    strategy = load(ROOT / "strategies" / "event_filter.yaml")

    assert [node.index for node in strategy.tree.nodes] == list(range(len(strategy.tree.nodes)))
    assert strategy.tree.entry.index == 0


# --- rules, exits, vetoes, execution -------------------------------------------------------------


def test_entry_requires_every_rule_and_execution_is_cautious_by_default():
    text = """\
        strategy:
          name: T
          assets: [BTC]
          rules:
            - id: a
              conditions: [{when: "rsi(14) < 30"}]
            - id: b
              conditions: [{when: "macd_hist > 0"}]
            - id: c
              conditions: [{when: "volume_z(20) > 2"}]
        """

    strategy = compile_text(text)

    assert strategy.tree.entry.n == 3
    assert strategy.tree.entry.text == confirmation_text("BUY", 3, 3)
    assert strategy.execution.require_confirmations == 3
    assert (strategy.execution.position_size, strategy.execution.action_mode) == (0.01, "paper")
    assert [rule.label for rule in strategy.tree.entry.children] == ["a", "b", "c"]


def test_require_confirmations_sets_n_of_the_entry_rules():
    text = """\
        strategy:
          name: T
          assets: [BTC]
          rules:
            - id: a
              conditions: [{when: "rsi(14) < 30"}]
            - id: b
              conditions: [{when: "macd_hist > 0"}]
          execution: {require_confirmations: 1, position_size: 0.25, action_mode: auto}
        """

    strategy = compile_text(text)

    assert strategy.tree.entry.n == 1
    assert strategy.execution.require_confirmations == 1
    assert (strategy.execution.position_size, strategy.execution.action_mode) == (0.25, "auto")


def test_exit_rules_sell_on_any_one_by_default():
    text = """\
        strategy:
          name: T
          assets: [BTC]
          rules:
            - id: a
              conditions: [{when: "rsi(14) < 30"}]
          exit:
            rules:
              - id: recovered
                conditions: [{when: "rsi(14) > 55"}]
              - id: stop
                conditions: [{when: "return(7d) < -15%"}]
        """

    strategy = compile_text(text)

    assert strategy.exit_confirmations == 1
    assert isinstance(strategy.tree.exit, AtLeast)
    assert strategy.tree.exit.n == 1
    assert strategy.tree.exit.text == confirmation_text("SELL", 1, 2)
    assert strategy.tree.exit.path == "exit.rules"
    assert [rule.label for rule in strategy.tree.exit.children] == ["recovered", "stop"]


def test_exit_require_confirmations_sets_n_of_the_exit_rules():
    text = """\
        strategy:
          name: T
          assets: [BTC]
          rules:
            - id: a
              conditions: [{when: "rsi(14) < 30"}]
          exit:
            require_confirmations: 2
            rules:
              - id: recovered
                conditions: [{when: "rsi(14) > 55"}]
              - id: stop
                conditions: [{when: "return(7d) < -15%"}]
        """

    strategy = compile_text(text)

    assert strategy.exit_confirmations == 2
    assert strategy.tree.exit.n == 2


@pytest.mark.parametrize(
    ("blocks", "expected"),
    [
        ("", {Side.BUY}),
        ("blocks: [BUY]", {Side.BUY}),
        ("blocks: [sell]", {Side.SELL}),
        ("blocks: [BUY, sell]", {Side.BUY, Side.SELL}),
    ],
)
def test_veto_blocks_buy_by_default_or_the_actions_it_lists(blocks, expected):
    text = f"""\
        strategy:
          name: T
          assets: [BTC]
          rules:
            - id: a
              conditions: [{{when: "rsi(14) < 30"}}]
          vetoes:
            - id: crisis
              description: the market prices a crisis
              {blocks}
              conditions:
                - when: "polymarket('slug').yes >= 60%"
        """

    (veto,) = compile_text(text).tree.vetoes

    assert veto.id == "crisis"
    assert veto.blocks == frozenset(expected)
    assert veto.description == "the market prices a crisis"
    assert isinstance(veto.node, AllOf)
    assert veto.node.label == "crisis"
    assert veto.node.path == "vetoes[0]"


def test_rule_and_veto_keep_their_description_and_source():
    text = """\
        strategy:
          name: T
          assets: [BTC]
          rules:
            - id: a
              source: technical
              description: oversold
              conditions: [{when: "rsi(14) < 30"}]
        """

    (rule,) = compile_text(text).tree.entry.children

    assert (rule.label, rule.source, rule.description) == ("a", "technical", "oversold")


# --- params and defaults -------------------------------------------------------------------------


def test_params_are_resolved_in_thresholds_markets_and_arguments():
    text = """\
        strategy:
          name: T
          assets: [BTC]
          params: {level: 25, odds: 25%, window: 7d, market: "511754", size: 50}
          rules:
            - id: a
              conditions:
                - metric: rsi_14
                  operator: "<"
                  threshold: $level
                - market: $market
                  operator: ">"
                  threshold: $odds
                - when: "return($window) < -10% and sma($size) > $level"
        """

    strategy = compile_text(text)

    assert [leaf.text for leaf in strategy.tree.leaves()] == [
        "rsi(14) < 25",
        "polymarket('511754').yes > 25%",
        "return(7d) < -10%",
        "sma(50) > 25",
    ]
    assert strategy.params == {
        "level": 25,
        "odds": "25%",
        "window": "7d",
        "market": "511754",
        "size": 50,
    }


def test_defaults_params_apply_to_every_metric_that_takes_the_parameter():
    text = """\
        strategy:
          name: T
          assets: [BTC]
          defaults:
            params: {timeframe: 4h, window: 3d}
          rules:
            - id: a
              conditions:
                - when: "rsi(14) < 30 and return() < 0"
                - metric: stablecoin_net_flow
                  operator: ">"
                  threshold: 0
        """

    rsi, ret, flow = compile_text(text).tree.leaves()

    assert dict(rsi.metrics[0].params) == {"n": 14, "timeframe": 4 * HOUR}
    assert dict(ret.metrics[0].params) == {"window": 3 * DAY, "timeframe": 4 * HOUR}
    assert dict(flow.metrics[0].params)["window"] == 3 * DAY


def test_explicit_parameter_beats_the_default():
    text = """\
        strategy:
          name: T
          assets: [BTC]
          defaults:
            params: {timeframe: 4h}
          rules:
            - id: a
              conditions:
                - when: "rsi(14, 1h) < 30"
        """

    (node,) = compile_text(text).tree.leaves()

    assert dict(node.metrics[0].params)["timeframe"] == HOUR
    assert node.max_ages == (2 * HOUR,)


@pytest.mark.parametrize(
    ("condition", "max_ages"),
    [
        ('when: "rsi(14) < 30"', (2 * DAY,)),  # technical: two bars of the 1d timeframe
        ('when: "rsi(14, 4h) < 30"', (8 * HOUR,)),
        ('when: "rsi(14, 15m) < 30"', (30 * 60,)),
        ('when: "price_to_book < 1"', (7 * DAY,)),
        ("market: slug\noperator: '<'\nthreshold: 0.5", (HOUR,)),
        ('when: "stablecoin_supply > 1B"', (2 * DAY,)),
        ("when: \"news_count('hack') > 1\"", (HOUR,)),
        ("when: \"close > polymarket('slug').yes\"", (2 * DAY, HOUR)),  # one per metric
    ],
)
def test_catalogue_default_max_age_depends_on_the_source_and_timeframe(condition, max_ages):
    assert leaf(condition, source=None).max_ages == max_ages


MAX_AGE_LAYERS = textwrap.dedent(
    """\
    strategy:
      name: T
      assets: [BTC]
      defaults:
        max_age: 6h
      rules:
        - id: with_rule_max_age
          max_age: 3h
          conditions:
            - when: "rsi(14) < 30"
              max_age: 30m
            - metric: rsi_14
              operator: "<"
              threshold: 30
              max_age: 45m
            - when: "close > sma(20)"
        - id: without
          conditions:
            - when: "rsi(14) < 30"
            - market: slug
              operator: "<"
              threshold: 0.5
    """
)


def test_max_age_precedence_is_condition_then_rule_then_defaults_then_catalogue():
    leaves = compile_text(MAX_AGE_LAYERS).tree.leaves()

    assert [(leaf.text, leaf.max_ages) for leaf in leaves] == [
        ("rsi(14) < 30", (30 * 60,)),  # condition
        ("rsi(14) < 30", (45 * 60,)),  # condition, structured form
        ("close > sma(20)", (3 * HOUR, 3 * HOUR)),  # rule, for every metric of the leaf
        ("rsi(14) < 30", (6 * HOUR,)),  # defaults
        ("polymarket('slug').yes < 0.5", (6 * HOUR,)),  # defaults, even above the catalogue's 1h
    ]


def test_without_any_max_age_the_catalogue_default_applies():
    text = MAX_AGE_LAYERS.replace("  defaults:\n    max_age: 6h\n", "")

    leaves = compile_text(text).tree.leaves()

    assert [leaf.max_ages for leaf in leaves][3:] == [(2 * DAY,), (HOUR,)]


def test_rule_max_age_applies_to_conditions_nested_in_groups():
    text = """\
        strategy:
          name: T
          assets: [BTC]
          rules:
            - id: r
              max_age: 2h
              conditions:
                - any:
                    - when: "rsi(14) < 30"
                    - not: {when: "macd_hist > 0"}
        """

    assert [leaf.max_ages for leaf in compile_text(text).tree.leaves()] == [
        (2 * HOUR,),
        (2 * HOUR,),
    ]


# --- content hash --------------------------------------------------------------------------------


HASHED = textwrap.dedent(
    """\
    strategy:
      name: "Hashed"
      assets: [BTC, ETH]
      rules:
        - id: r
          source: technical
          conditions:
            - when: "rsi(14) < 30"
      execution: {position_size: 0.05}
    """
)


def test_content_hash_ignores_comments_quoting_flow_style_and_key_order():
    reformatted = """\
        # a comment at the top
        strategy:
          execution:
            position_size: 0.050    # same number, other spelling
          rules: [{conditions: [{when: 'rsi(14) < 30'}], source: technical, id: r}]
          assets:
            - BTC
            - "ETH"
          name: Hashed
        """

    assert compile_text(reformatted).content_hash == compile_text(HASHED).content_hash


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('"rsi(14) < 30"', '"rsi(14) < 31"'),
        ("[BTC, ETH]", "[ETH, BTC]"),
        ("position_size: 0.05", "position_size: 0.06"),
        ('name: "Hashed"', 'name: "Hashed2"'),
        ("source: technical\n", "source: technical\n      description: x\n"),
    ],
)
def test_content_hash_changes_when_any_value_changes(old, new):
    changed = HASHED.replace(old, new)
    assert changed != HASHED

    assert compile_text(changed).content_hash != compile_text(HASHED).content_hash


def test_content_hash_is_sha256_of_the_document_and_the_document_is_kept():
    strategy = compile_text(HASHED)

    assert strategy.content_hash.startswith("sha256:")
    assert len(strategy.content_hash) == len("sha256:") + 64
    assert strategy.document["strategy"]["name"] == "Hashed"
    assert strategy.file == "s.yaml"


# --- compile errors ------------------------------------------------------------------------------


COMPILE_ERRORS = [
    # --- metric names ----------------------------------------------------------------------------
    pytest.param(
        """\
        strategy:
          name: T
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - metric: rsii
                  operator: "<"
                  threshold: 30
        """,
        [
            "s.yaml:7:19: rules[0].conditions[0].metric: unknown metric 'rsii' in any source "
            "(did you mean 'rsi'?)"
        ],
        id="unknown_metric_suggests_the_closest_name",
    ),
    pytest.param(
        """\
        strategy:
          name: T
          assets: [BTC]
          rules:
            - id: r
              source: technical
              conditions:
                - when: "rsi(14) < 30 and volume_zz(20) > 2"
        """,
        [
            "s.yaml:8:35: rules[0].conditions[0].when: unknown metric 'volume_zz' in source "
            "'technical' (did you mean 'volume_z'?)"
        ],
        id="unknown_metric_in_an_expression_is_reported_at_its_name",
    ),
    pytest.param(
        """\
        strategy:
          name: T
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - when: "foo > 1"
        """,
        [
            "s.yaml:7:18: rules[0].conditions[0].when: unknown metric 'foo' in any source "
            "(run 'signalops metrics' to list every metric)"
        ],
        id="unknown_metric_without_a_close_name_points_at_the_metrics_command",
    ),
    pytest.param(
        """\
        strategy:
          name: T
          assets: [AAPL]
          rules:
            - id: r
              source: fundamental
              conditions:
                - when: "price_to_earnings < 15"
        """,
        [
            "s.yaml:8:18: rules[0].conditions[0].when: unknown metric 'price_to_earnings' in "
            "source 'fundamental' (did you mean 'trailing_pe'?)"
        ],
        # Spelling alone led to price_to_sales, the nearest name.
        id="a_metric_under_the_name_traders_use_is_told_the_catalogues",
    ),
    pytest.param(
        """\
        strategy:
          name: T
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - metric: sma_fast
                  operator: ">"
                  threshold: 1
        """,
        [
            "s.yaml:7:19: rules[0].conditions[0].metric: unknown metric 'sma_fast' in any source "
            "(did you mean 'sma'?)"
        ],
        id="shorthand_with_a_bad_suffix_suggests_the_base_metric",
    ),
    pytest.param(
        """\
        strategy:
          name: T
          assets: [BTC]
          rules:
            - id: r
              source: fundamental
              conditions:
                - metric: rsi
                  operator: "<"
                  threshold: 30
                - when: "price_to_book < 1 and close > 1"
        """,
        [
            "s.yaml:8:19: rules[0].conditions[0].metric: metric 'rsi' belongs to source "
            "'technical', not 'fundamental' (use source: technical, or write technical.rsi in "
            "a when: expression)",
            "s.yaml:11:40: rules[0].conditions[1].when: metric 'close' belongs to source "
            "'technical', not 'fundamental' (use source: technical, or write technical.close in "
            "a when: expression)",
        ],
        id="metric_in_the_wrong_source_names_its_source",
    ),
    pytest.param(
        """\
        strategy:
          name: T
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - when: "news.rsi(14) < 30"
        """,
        [
            "s.yaml:7:23: rules[0].conditions[0].when: metric 'rsi' belongs to source 'technical', "
            "not 'news' (use source: technical, or write technical.rsi in a when: expression)"
        ],
        id="qualified_metric_in_the_wrong_source",
    ),
    pytest.param(
        """\
        strategy:
          name: T
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - when: "techincal.rsi(14) < 30"
                - when: "polymarket('slug').yes.price > 0.5"
        """,
        [
            "s.yaml:7:18: rules[0].conditions[0].when: 'techincal.rsi(14)' is not a metric "
            "reference (did you mean 'technical'?)",
            "s.yaml:8:18: rules[0].conditions[1].when: 'polymarket('slug').yes.price' is not a "
            "metric reference (write metric(args) or source(args).metric)",
        ],
        id="dotted_reference_that_is_not_source_dot_metric",
    ),
    pytest.param(
        """\
        strategy:
          name: T
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - when: "polymarket('slug') > 0.5"
        """,
        [
            "s.yaml:7:36: rules[0].conditions[0].when: 'polymarket(...)' names a source; add the "
            "metric, e.g. polymarket(...).yes"
        ],
        id="source_called_without_a_metric",
    ),
    # --- arguments and parameters ----------------------------------------------------------------
    pytest.param(
        """\
        strategy:
          name: T
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - when: "rsi(14, 1d, 3) < 30"
                - when: "price_to_book(1) < 1"
        """,
        [
            "s.yaml:7:30: rules[0].conditions[0].when: rsi takes at most 2 arguments, got 3 "
            "(signature: rsi(n=14, timeframe=1d))",
            "s.yaml:8:32: rules[0].conditions[1].when: price_to_book takes at most 0 arguments, "
            "got 1 (signature: price_to_book)",
        ],
        id="too_many_arguments_is_reported_at_the_first_extra_one",
    ),
    pytest.param(
        """\
        strategy:
          name: T
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - when: "rsi(nn=14) < 30"
                - when: "rsi(length=14) < 30"
                - metric: rsi
                  params: {period: 14}
                  operator: "<"
                  threshold: 30
        """,
        [
            "s.yaml:7:22: rules[0].conditions[0].when: rsi has no parameter 'nn' "
            "(did you mean 'n'?)",
            "s.yaml:8:22: rules[0].conditions[1].when: rsi has no parameter 'length' "
            "(signature: rsi(n=14, timeframe=1d))",
            "s.yaml:10:28: rules[0].conditions[2].params.period: rsi has no parameter 'period' "
            "(signature: rsi(n=14, timeframe=1d))",
        ],
        id="unknown_keyword_argument",
    ),
    pytest.param(
        """\
        strategy:
          name: T
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - when: "rsi(14, n=14) < 30"
                - metric: rsi_14
                  params: {n: 7}
                  operator: "<"
                  threshold: 30
                - when: "rsi_14(7) < 30"
        """,
        [
            "s.yaml:7:26: rules[0].conditions[0].when: parameter 'n' is given twice",
            "s.yaml:9:23: rules[0].conditions[1].params.n: parameter 'n' is given twice",
            "s.yaml:12:18: rules[0].conditions[2].when: 'rsi_14' already sets n; do not pass "
            "arguments too",
        ],
        id="parameter_given_twice",
    ),
    pytest.param(
        """\
        strategy:
          name: T
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - when: "return < 0"
                - metric: news_count
                  operator: ">"
                  threshold: 3
                - market: slug
                  metric: outcome
                  operator: ">"
                  threshold: 0.5
        """,
        [
            "s.yaml:7:18: rules[0].conditions[0].when: return needs parameter 'window' "
            "(signature: return(window, timeframe=1d))",
            "s.yaml:8:19: rules[0].conditions[1].metric: news_count needs parameter 'query' "
            "(signature: news_count(query, window=1d, feeds='all'))",
            "s.yaml:11:19: rules[0].conditions[2].market: outcome needs parameter 'name' "
            "(signature: outcome(market, name))",
        ],
        id="missing_required_parameter",
    ),
    pytest.param(
        """\
        strategy:
          name: T
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - when: "rsi(14.5) < 30"
                - when: "rsi('fast') < 30"
                - when: "rsi(0) < 30"
                - when: "rsi(14, 2h) < 30"
                - when: "return(7) < 0"
                - when: "news_count(3) > 1"
                - when: "polymarket(511754).yes < 80%"
                - when: "polymarket(0.5).yes < 80%"
                - when: "news_count('') > 1"
                - when: "polymarket(1234567).yes < 80%"
                - when: "sma(99999999) > 0"
        """,
        [
            "s.yaml:7:22: rules[0].conditions[0].when: parameter 'n' must be a whole number, "
            "got 14.5",
            "s.yaml:8:22: rules[0].conditions[1].when: parameter 'n' must be a whole number, "
            "got 'fast'",
            "s.yaml:9:22: rules[0].conditions[2].when: parameter 'n' must be >= 1, got 0",
            "s.yaml:10:26: rules[0].conditions[3].when: parameter 'timeframe' must be one of "
            "1m, 5m, 15m, 30m, 1h, 4h, 1d, 7d, got 2h",
            "s.yaml:11:25: rules[0].conditions[4].when: parameter 'window' must be a duration "
            "such as '24h' or '7d', got 7.0",
            "s.yaml:12:29: rules[0].conditions[5].when: parameter 'query' must be a string, "
            'got the number 3: write it in quotes ("3")',
            "s.yaml:13:29: rules[0].conditions[6].when: parameter 'market' must be a string, "
            'got the number 511754: write it in quotes ("511754")',
            "s.yaml:14:29: rules[0].conditions[7].when: parameter 'market' must be a string, "
            'got the number 0.5: write it in quotes ("0.5")',
            "s.yaml:15:29: rules[0].conditions[8].when: parameter 'query' must be a non-empty "
            "string, got ''",
            "s.yaml:16:29: rules[0].conditions[9].when: parameter 'market' must be a string, "
            'got the number 1234567: write it in quotes ("1234567")',
            "s.yaml:17:22: rules[0].conditions[10].when: parameter 'n' must be at most "
            "1,000,000, got 99,999,999",
        ],
        id="argument_of_the_wrong_type_or_range",
    ),
    pytest.param(
        """\
        strategy:
          name: T
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - metric: rsi
                  params: {n: fast, timeframe: 2h}
                  operator: "<"
                  threshold: 30
        """,
        [
            "s.yaml:8:23: rules[0].conditions[0].params.n: parameter 'n' must be a whole number, "
            "got 'fast'"
        ],
        id="structured_params_of_the_wrong_type_stop_at_the_first",
    ),
    pytest.param(
        """\
        strategy:
          name: T
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - when: "rsi(close) < 30"
        """,
        [
            "s.yaml:7:22: rules[0].conditions[0].when: an argument must be a number, a duration, "
            "a 'string' or a $param"
        ],
        id="metric_as_an_argument",
    ),
    # --- params ----------------------------------------------------------------------------------
    pytest.param(
        """\
        strategy:
          name: T
          assets: [BTC]
          params: {oversold: 30, market: some-market}
          rules:
            - id: r
              conditions:
                - metric: rsi
                  operator: "<"
                  threshold: $oversld
                - when: "rsi($period) < $oversold"
                - market: $markt
                  operator: "<"
                  threshold: 0.5
        """,
        [
            "s.yaml:10:22: rules[0].conditions[0].threshold: unknown parameter '$oversld' "
            "(did you mean '$oversold'?)",
            "s.yaml:11:22: rules[0].conditions[1].when: unknown parameter '$period' "
            "(defined params: $market, $oversold)",
            "s.yaml:12:19: rules[0].conditions[2].market: unknown parameter '$markt' "
            "(did you mean '$market'?)",
        ],
        id="unknown_param_suggests_the_closest_or_lists_them",
    ),
    pytest.param(
        """\
        strategy:
          name: T
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - when: "rsi(14) < $oversold"
        """,
        [
            "s.yaml:7:28: rules[0].conditions[0].when: unknown parameter '$oversold' "
            "(define it under strategy.params)"
        ],
        id="param_without_any_params_defined",
    ),
    pytest.param(
        """\
        strategy:
          name: T
          assets: [BTC]
          params: {market: some-market, window: 7d}
          rules:
            - id: r
              conditions:
                - metric: rsi
                  operator: "<"
                  threshold: $market
                - when: "rsi(14) < $window"
                - when: "rsi($market) < 30"
        """,
        [
            "s.yaml:10:22: rules[0].conditions[0].threshold: parameter '$market' is "
            "'some-market', not a number (see strategy.params.market)",
            "s.yaml:11:28: rules[0].conditions[1].when: parameter '$window' is '7d', not a "
            "number (see strategy.params.window)",
            "s.yaml:12:22: rules[0].conditions[2].when: parameter 'n' must be a whole number, "
            "got 'some-market'",
        ],
        id="param_of_the_wrong_type_where_it_is_used",
    ),
    pytest.param(
        """\
        strategy:
          name: T
          assets: [BTC]
          defaults:
            params: {timeframe: 2h, timefrme: 1h}
          rules:
            - id: a
              conditions:
                - when: "rsi(14) < 30"
            - id: b
              conditions:
                - when: "sma(20) > close"
        """,
        [
            "s.yaml:5:25: defaults.params.timeframe: parameter 'timeframe' must be one of 1m, "
            "5m, 15m, 30m, 1h, 4h, 1d, 7d, got 2h",
            "s.yaml:5:29: defaults.params.timefrme: no metric has a parameter 'timefrme' "
            "(did you mean 'timeframe'?)",
        ],
        id="bad_default_param_is_reported_once_and_a_misspelt_one_is_not_ignored",
    ),
    pytest.param(
        """\
        strategy:
          name: T
          assets: [BTC]
          defaults:
            params: {timeframe: 7x}
          rules:
            - id: r
              source: technical
              conditions:
                - when: "rsi(14) < 150"
                - when: "return(36h) < -5%"
                - metric: rsi
                  operator: "<"
                  threshold: 30%
                - when: "rsi(14) < $oversold"
        """,
        [
            "s.yaml:5:25: defaults.params.timeframe: parameter 'timeframe' must be a duration "
            "such as '24h' or '7d', got '7x'",
            "s.yaml:10:28: rules[0].conditions[0].when: rsi(14) < 150 is always true: rsi is "
            "from 0 to 100",
            # return(36h) is not refused: with the timeframe unknown, its candles are
            "s.yaml:14:22: rules[0].conditions[2].threshold: rsi < 30%: rsi is on a 0-100 "
            "scale, so 30% reads as 0.3 (did you mean 30?)",
            "s.yaml:15:28: rules[0].conditions[3].when: unknown parameter '$oversold' "
            "(define it under strategy.params)",
        ],
        id="bad_default_timeframe_hides_no_other_error_of_the_leaves",
    ),
    # --- windows of whole candles ----------------------------------------------------------------
    pytest.param(
        """\
        strategy:
          name: T
          assets: [BTC]
          params: {window: 90m}
          rules:
            - id: r
              source: technical
              conditions:
                - when: "return(36h) < -5%"
                - when: "return(window=4h) > 1%"
                - when: "return($window, timeframe=1h) > 1%"
                - when: "return(10d, timeframe=1w) > 1%"
                - metric: return
                  params: {window: 1.5d}
                  operator: "<"
                  threshold: -5%
                - when: "return(2d) < 1 and return(6h, timeframe=1h) < 1"
                - when: "return(2w, timeframe=1w) < 1"
            - id: flows
              source: onchain
              conditions:
                - when: "stablecoin_net_flow('USDC', 36h) < -1B"
                - when: "chain_tvl_change('Ethereum', window=2d) < -5%"
        """,
        [
            "s.yaml:9:25: rules[0].conditions[0].when: 36h is not a whole number of 1d candles: "
            "write 1d or 2d",
            "s.yaml:10:25: rules[0].conditions[1].when: 4h is not a whole number of 1d candles: "
            "write 1d",
            "s.yaml:11:25: rules[0].conditions[2].when: 90m is not a whole number of 1h candles: "
            "write 1h or 2h",
            "s.yaml:12:25: rules[0].conditions[3].when: 10d is not a whole number of 7d candles: "
            "write 7d or 14d",
            "s.yaml:14:28: rules[0].conditions[4].params.window: 36h is not a whole number of 1d "
            "candles: write 1d or 2d",
            "s.yaml:22:46: rules[1].conditions[0].when: 36h is not a whole number of 1d points "
            "of onchain data: write 1d or 2d",
        ],
        id="window_that_is_not_a_whole_number_of_candles_or_daily_points",
    ),
    pytest.param(
        """\
        strategy:
          name: T
          assets: [BTC]
          defaults:
            params: {timeframe: 4h, window: 10h}
          rules:
            - id: r
              source: technical
              conditions:
                - when: "return() < 1"
                - when: "return(timeframe=1d) < 1"
                - when: "return(1d) < 1"
        """,
        [
            "s.yaml:5:37: defaults.params.window: 10h is not a whole number of 4h candles: "
            "write 8h or 12h",
            "s.yaml:5:37: defaults.params.window: 10h is not a whole number of 1d candles: "
            "write 1d",
        ],
        id="default_window_is_checked_against_the_candles_of_each_metric_using_it",
    ),
    # --- confirmations and groups ----------------------------------------------------------------
    pytest.param(
        """\
        strategy:
          name: T
          assets: [BTC]
          rules:
            - id: a
              conditions: [{when: "rsi(14) < 30"}]
            - id: b
              conditions: [{when: "macd_hist > 0"}]
          exit:
            require_confirmations: 2
            rules:
              - id: e
                conditions: [{when: "rsi(14) > 70"}]
          execution:
            require_confirmations: 3
        """,
        [
            "s.yaml:10:28: exit.require_confirmations: require_confirmations is 2 but there is "
            "only 1 rule (use a number from 1 to 1)",
            "s.yaml:15:28: execution.require_confirmations: require_confirmations is 3 but "
            "there are only 2 rules (use a number from 1 to 2)",
        ],
        id="require_confirmations_above_the_number_of_rules",
    ),
    pytest.param(
        """\
        strategy:
          name: T
          assets: [BTC]
          rules:
            - id: a
              conditions:
                - at_least:
                    n: 3
                    of:
                      - when: "rsi(14) < 30"
                      - when: "macd_hist > 0"
        """,
        [
            "s.yaml:8:16: rules[0].conditions[0].at_least.n: at_least needs 3 but lists only 2 "
            "conditions (use a number from 1 to 2)"
        ],
        id="at_least_n_above_the_number_of_conditions",
    ),
    pytest.param(
        """\
        strategy:
          name: T
          assets: [BTC]
          rules:
            - id: same
              conditions: [{when: "rsi(14) < 30"}]
          exit:
            rules:
              - id: same
                conditions: [{when: "rsi(14) > 70"}]
          vetoes:
            - id: same
              conditions: [{when: "volume_z(20) > 3"}]
        """,
        [
            "s.yaml:9:13: exit.rules[0].id: duplicate rule id 'same' (first used at line 5)",
            "s.yaml:12:11: vetoes[0].id: duplicate rule id 'same' (first used at line 5)",
        ],
        id="duplicate_ids_across_rules_exits_and_vetoes",
    ),
    # --- thresholds ------------------------------------------------------------------------------
    pytest.param(
        """\
        strategy:
          name: T
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - metric: rsi_14
                  operator: between
                  threshold: [70, 30]
                - when: "rsi(14) between 70 and 30"
        """,
        [
            "s.yaml:9:22: rules[0].conditions[0].threshold: the range [70, 30] is empty",
            "s.yaml:10:34: rules[0].conditions[1].when: the range 70 to 30 is empty",
        ],
        id="between_with_an_empty_range",
    ),
    pytest.param(
        """\
        strategy:
          name: T
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - metric: rsi_14
                  operator: between
                  threshold: 30
                - metric: rsi_14
                  operator: between
                  threshold: [10, 20, 30]
                - metric: rsi_14
                  operator: "<"
                  threshold: [30, 70]
        """,
        [
            "s.yaml:9:22: rules[0].conditions[0].threshold: 'between' needs a threshold of two "
            "numbers [low, high] (e.g. threshold: [30, 70])",
            "s.yaml:12:22: rules[0].conditions[1].threshold: 'between' needs a threshold of two "
            "numbers [low, high] (e.g. threshold: [30, 70])",
            "s.yaml:15:22: rules[0].conditions[2].threshold: operator '<' needs one threshold, "
            "got a list (a list is only for 'between')",
        ],
        id="threshold_list_only_for_between_and_only_two_long",
    ),
    pytest.param(
        """\
        strategy:
          name: T
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - metric: rsi_14
                  operator: "<"
                  threshold: abc
                - metric: rsi_14
                  operator: between
                  threshold: [low, 70]
                - metric: close
                  operator: ">"
                  threshold: sma_200
        """,
        [
            "s.yaml:9:22: rules[0].conditions[0].threshold: 'abc' is not a number (use a number, "
            "a suffixed number like 5%, 1.5k, 100M, 2B, or a $param; to compare two metrics write "
            "a when: expression)",
            "s.yaml:12:23: rules[0].conditions[1].threshold[0]: 'low' is not a number (use a "
            "number, a suffixed number like 5%, 1.5k, 100M, 2B, or a $param; to compare two "
            "metrics write a when: expression)",
            "s.yaml:15:22: rules[0].conditions[2].threshold: 'sma_200' is not a number (use a "
            "number, a suffixed number like 5%, 1.5k, 100M, 2B, or a $param; to compare two "
            "metrics write a when: expression)",
        ],
        id="threshold_that_is_not_a_number",
    ),
    pytest.param(
        """\
        strategy:
          name: T
          assets: [BTC]
          params: {huge: 1"""
        + "0" * 400
        + """}
          rules:
            - id: r
              conditions:
                - metric: rsi_14
                  operator: "<"
                  threshold: 1"""
        + "0" * 400
        + """
                - metric: bb_upper
                  params: {k: 1"""
        + "0" * 400
        + """}
                  operator: ">"
                  threshold: 1
        """,
        [
            "s.yaml:10:22: rules[0].conditions[0].threshold: a threshold must be a finite number",
            "s.yaml:12:23: rules[0].conditions[1].params.k: parameter 'k' must be finite, got 1"
            + "0" * 400,
        ],
        id="integers_too_large_for_a_float",
    ),
    # --- expressions that compare nothing --------------------------------------------------------
    pytest.param(
        """\
        strategy:
          name: T
          assets: [BTC]
          params: {oversold: 30}
          rules:
            - id: r
              conditions:
                - when: "3 < 4"
                - when: "rsi(14) < 30 and $oversold > 10"
                - when: "rsi(14) / 0 > 1"
                - when: "rsi(14) < 'low'"
                - when: "rsi(14) < 3d"
        """,
        [
            "s.yaml:8:18: rules[0].conditions[0].when: this comparison reads no metric, so it "
            "is always true or always false",
            "s.yaml:9:35: rules[0].conditions[1].when: this comparison reads no metric, so it "
            "is always true or always false",
            "s.yaml:10:28: rules[0].conditions[2].when: division by zero",
            "s.yaml:11:28: rules[0].conditions[3].when: text can only be an argument, e.g. "
            "polymarket('some-market').yes",
            "s.yaml:12:28: rules[0].conditions[4].when: a duration can only be an argument, "
            "e.g. return(7d)",
        ],
        id="comparisons_that_read_no_metric_or_mix_kinds",
    ),
    # --- max_age ---------------------------------------------------------------------------------
    pytest.param(
        """\
        strategy:
          name: T
          assets: [BTC]
          defaults: {max_age: 0s}
          rules:
            - id: r
              max_age: 0.5s
              conditions:
                - when: "rsi(14) < 30"
                  max_age: 1.5s
                - metric: rsi_14
                  operator: "<"
                  threshold: 30
                  max_age: 0h
        """,
        [
            "s.yaml:4:23: defaults.max_age: max_age '0s' is not a whole number of seconds above "
            "0 (e.g. 30m, 4h, 2d)",
            "s.yaml:7:16: rules[0].max_age: max_age '0.5s' is not a whole number of seconds "
            "above 0 (e.g. 30m, 4h, 2d)",
            "s.yaml:10:20: rules[0].conditions[0].max_age: max_age '1.5s' is not a whole number "
            "of seconds above 0 (e.g. 30m, 4h, 2d)",
            "s.yaml:14:20: rules[0].conditions[1].max_age: max_age '0h' is not a whole number "
            "of seconds above 0 (e.g. 30m, 4h, 2d)",
        ],
        id="max_age_of_zero_or_a_fraction_of_a_second_is_not_silently_ignored",
    ),
    # --- several errors in one file --------------------------------------------------------------
    pytest.param(
        """\
        strategy:
          name: T
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - when: "rsii(14) < 30"
                - when: "rsi(14) < < 30"
            - id: r
              conditions:
                - metric: pe_ratoi
                  operator: "<"
                  threshold: 15
          execution: {require_confirmations: 3}
        """,
        [
            "s.yaml:7:18: rules[0].conditions[0].when: unknown metric 'rsii' in any source "
            "(did you mean 'rsi'?)",
            "s.yaml:8:28: rules[0].conditions[1].when: unexpected '<'",
            "s.yaml:9:11: rules[1].id: duplicate rule id 'r' (first used at line 5)",
            "s.yaml:11:19: rules[1].conditions[0].metric: unknown metric 'pe_ratoi' in any "
            "source (did you mean 'pe_ratio'?)",
            "s.yaml:14:38: execution.require_confirmations: require_confirmations is 3 but there "
            "are only 2 rules (use a number from 1 to 2)",
        ],
        id="every_compile_error_in_the_file_is_reported_in_source_order",
    ),
]


@pytest.mark.parametrize(("text", "expected"), COMPILE_ERRORS)
def test_compile_error_has_exact_message_line_and_column(text, expected):
    assert errors_of(text) == expected


# --- ambiguous metric names (needs a catalogue where two sources share a name) -------------------

SHARED_CLOSE = Catalogue.of(
    [
        TECHNICAL,
        SourceCatalogue.of(
            "onchain", [MetricSpec("close", (), "USD", "a second 'close'", False, HOUR)]
        ),
    ]
)


def test_metric_name_in_two_sources_is_ambiguous_without_a_source():
    text = """\
        strategy:
          name: T
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - when: "close > 1"
                - metric: close
                  operator: ">"
                  threshold: 1
        """

    assert errors_of(text, SHARED_CLOSE) == [
        "s.yaml:7:18: rules[0].conditions[0].when: metric 'close' exists in several sources "
        "(technical, onchain) (set the rule's source, or qualify it, e.g. technical.close)",
        "s.yaml:8:19: rules[0].conditions[1].metric: metric 'close' exists in several sources "
        "(technical, onchain) (set the rule's source, or qualify it, e.g. technical.close)",
    ]


@pytest.mark.parametrize(
    ("where", "source"),
    [
        ('source: onchain\n      conditions:\n        - when: "close > 1"', "onchain"),
        ('conditions:\n        - when: "technical.close > 1"', "technical"),
        ('conditions:\n        - when: "onchain.close > 1"', "onchain"),
    ],
)
def test_ambiguous_metric_is_resolved_by_a_rule_source_or_a_qualifier(where, source):
    text = f"strategy:\n  name: T\n  assets: [BTC]\n  rules:\n    - id: r\n      {where}\n"

    (node,) = loads(text, "s.yaml", SHARED_CLOSE).tree.leaves()

    assert node.metrics[0].source == source


# --- expression syntax errors point into the file ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected", "under_caret"),
    [
        pytest.param(
            """\
            strategy:
              name: T
              assets: [BTC]
              rules:
                - id: r
                  conditions:
                    - when: "rsi(14) < < 30"
            """,
            "s.yaml:7:28: rules[0].conditions[0].when: unexpected '<'",
            '< 30"',
            id="double_quoted",
        ),
        pytest.param(
            """\
            strategy:
              name: T
              assets: [BTC]
              rules:
                - id: r
                  conditions:
                    - when: 'rsi(14) < 30 andd close > 1'
            """,
            "s.yaml:7:31: rules[0].conditions[0].when: unexpected name 'andd'",
            "andd close",
            id="single_quoted",
        ),
        pytest.param(
            """\
            strategy:
              name: T
              assets: [BTC]
              rules:
                - id: r
                  conditions:
                    - when: rsi(14 < 30
            """,
            "s.yaml:7:28: rules[0].conditions[0].when: unexpected end of expression",
            "",
            id="plain_scalar_end_of_expression",
        ),
        pytest.param(
            """\
            strategy:
              name: T
              assets: [BTC]
              rules:
                - id: r
                  conditions:
                    - when: |
                        rsi(14) < 30
                        and close > sma(20) @ 2
            """,
            "s.yaml:9:33: rules[0].conditions[0].when: unexpected character '@'",
            "@ 2",
            id="literal_block_second_line",
        ),
        pytest.param(
            """\
            strategy:
              name: T
              assets: [BTC]
              rules:
                - id: r
                  conditions:
                    - when: "news_count('hack) > 3"
            """,
            "s.yaml:7:29: rules[0].conditions[0].when: unterminated string",
            "'hack) > 3",
            id="unterminated_string",
        ),
        pytest.param(
            """\
            strategy:
              name: T
              assets: [BTC]
              rules:
                - id: r
                  conditions:
                    - all:
                        - when: "rsi(14) < 30 AND close > 1"
            """,
            "s.yaml:8:35: rules[0].conditions[0].all[0].when: unexpected name 'AND' "
            "(keywords are lowercase: 'and')",
            "AND close",
            id="nested_condition_uppercase_keyword",
        ),
    ],
)
def test_expression_syntax_error_points_at_the_exact_file_column(text, expected, under_caret):
    with pytest.raises(StrategyError) as info:
        compile_text(text)

    error = info.value
    rest = error.source_line[error.column - 1 :]
    assert str(error) == expected
    assert rest.startswith(under_caret) if under_caret else rest == ""  # "" = just past the end
    assert error.excerpt.split("\n")[1] == "  " + " " * (error.column - 1) + "^"


def test_expression_syntax_error_lists_the_expected_tokens():
    text = """\
        strategy:
          name: T
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - when: "rsi(14) <"
        """

    with pytest.raises(StrategyError) as info:
        compile_text(text)

    assert info.value.expected == ("'$param'", "'('", "'-'", "duration", "name", "number", "string")
    assert info.value.excerpt.endswith(
        "expected one of: '$param', '(', '-', duration, name, number, string"
    )


def test_expression_nested_too_deeply_is_refused_at_the_first_too_deep_node():
    text = (
        """\
        strategy:
          name: T
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - when: "rsi(14)"""
        + " + 1" * 400
        + """ < 30"
        """
    )

    assert errors_of(text) == [
        f"s.yaml:7:18: rules[0].conditions[0].when: the expression is nested too deeply (more "
        f"than {MAX_EXPRESSION_DEPTH} levels) (split it into several conditions)"
    ]


def test_long_flat_conjunction_is_not_too_deep():
    conjunction = " and ".join(f"rsi({n}) < 30" for n in range(2, 200))

    strategy = loads(one_condition(f'when: "{conjunction}"'), "s.yaml")

    assert len(strategy.tree.leaves()) == 198


# --- parse_number --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3", 3.0),
        ("-0.5", -0.5),
        (".5", 0.5),
        ("+2", 2.0),
        ("5%", 0.05),
        ("1.5k", 1500.0),
        ("2K", 2000.0),
        ("100M", 1e8),
        ("2B", 2e9),
        ("1T", 1e12),
        ("1e3", 1000.0),
        ("1_000_000", 1e6),
        (" 7 ", 7.0),
        ("abc", None),
        ("5 %", None),
        ("1.2.3", None),
        ("", None),
        ("1e999", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_parse_number_reads_suffixed_numbers_and_refuses_the_rest(text, value):
    assert parse_number(text) == value
