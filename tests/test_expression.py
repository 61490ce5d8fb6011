"""Tests for the condition expression parser (signalops.strategy.expression)."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from dataclasses import fields, is_dataclass, replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lark.exceptions import LarkError

from signalops.strategy.expression import (
    And,
    Arg,
    Between,
    BinOp,
    BoolExpr,
    Compare,
    Duration,
    ExpressionSyntaxError,
    Neg,
    Node,
    Not,
    Num,
    Or,
    Param,
    Ref,
    Segment,
    Str,
    ValueExpr,
    parse,
    render,
    source_text,
)

# --- Builders for expected trees -----------------------------------------------------------------
# Expected trees are written without offsets (all 0) and compared with strip_offsets(parse(...)),
# so that each table row states structure and values only; offsets have tests of their own.


def strip_offsets(node: Any) -> Any:
    """Return ``node`` with every start/end set to 0, recursively."""
    if isinstance(node, tuple):
        return tuple(strip_offsets(item) for item in node)
    if not is_dataclass(node):
        return node
    changes = {f.name: strip_offsets(getattr(node, f.name)) for f in fields(node)}
    return replace(node, **{**changes, "start": 0, "end": 0})


def walk(node: Any) -> Iterator[Node]:
    """Yield ``node`` and every node below it."""
    if isinstance(node, tuple):
        for item in node:
            yield from walk(item)
    elif is_dataclass(node):
        yield node
        for f in fields(node):
            yield from walk(getattr(node, f.name))


def num(text: str, value: float | None = None) -> Num:
    return Num(float(text) if value is None else value, text, 0, 0)


def dur(text: str, seconds: float) -> Duration:
    return Duration(seconds, text, 0, 0)


def string(value: str) -> Str:
    return Str(value, 0, 0)


def param(name: str) -> Param:
    return Param(name, 0, 0)


def seg(name: str, *args: Arg | ValueExpr) -> Segment:
    """A segment written with parentheses; bare values become positional arguments."""
    wrapped = tuple(a if isinstance(a, Arg) else Arg(None, a, 0, 0) for a in args)
    return Segment(name, wrapped, 0, 0)


def kw(name: str, value: ValueExpr) -> Arg:
    return Arg(name, value, 0, 0)


def ref(*segments: str | Segment) -> Ref:
    """A reference; a plain string is a segment without parentheses."""
    return Ref(tuple(Segment(s, None, 0, 0) if isinstance(s, str) else s for s in segments), 0, 0)


def call(name: str, *args: Arg | ValueExpr) -> Ref:
    return ref(seg(name, *args))


def cmp(left: ValueExpr, op: str, right: ValueExpr) -> Compare:
    return Compare(op, left, right, 0, 0)


def binop(left: ValueExpr, op: str, right: ValueExpr) -> BinOp:
    return BinOp(op, left, right, 0, 0)


def neg(operand: ValueExpr) -> Neg:
    return Neg(operand, 0, 0)


def between(subject: ValueExpr, low: ValueExpr, high: ValueExpr) -> Between:
    return Between(subject, low, high, 0, 0)


def and_(*operands: BoolExpr) -> And:
    return And(operands, 0, 0)


def or_(*operands: BoolExpr) -> Or:
    return Or(operands, 0, 0)


def not_(operand: BoolExpr) -> Not:
    return Not(operand, 0, 0)


def a_lt(n: str = "1") -> Compare:
    """``a < n``, for tests about boolean structure where the comparison itself is filler."""
    return cmp(ref("a"), "<", num(n))


def lt(name: str, n: str = "1") -> Compare:
    return cmp(ref(name), "<", num(n))


# --- Valid expressions ----------------------------------------------------------------------------

VALID = [
    ("rsi(14) < 35", cmp(call("rsi", num("14")), "<", num("35"))),
    (
        "rsi(14) < 35 and close > sma(200) * 0.9",
        and_(
            cmp(call("rsi", num("14")), "<", num("35")),
            cmp(ref("close"), ">", binop(call("sma", num("200")), "*", num("0.9"))),
        ),
    ),
    (
        "polymarket('us-recession-in-2025').yes < 0.25",
        cmp(ref(seg("polymarket", string("us-recession-in-2025")), "yes"), "<", num("0.25")),
    ),
    (
        "technical.rsi(14) <= 30",
        cmp(ref("technical", seg("rsi", num("14"))), "<=", num("30")),
    ),
    (
        "stablecoin_net_flow('USDC', '24h') >= 100M",
        cmp(
            call("stablecoin_net_flow", string("USDC"), string("24h")),
            ">=",
            num("100M", 1e8),
        ),
    ),
    (
        "polymarket($mkt).outcome('Trump') != 0.5",
        cmp(
            ref(seg("polymarket", param("mkt")), seg("outcome", string("Trump"))), "!=", num("0.5")
        ),
    ),
    ("sma(n=200) == close", cmp(call("sma", kw("n", num("200"))), "==", ref("close"))),
    (
        "bbands(close, 20, k=2.5) > 0",
        cmp(call("bbands", ref("close"), num("20"), kw("k", num("2.5"))), ">", num("0")),
    ),
    ("now() > 0", cmp(ref(seg("now")), ">", num("0"))),
    (
        "sma(n=$len * 2) > 1",
        cmp(call("sma", kw("n", binop(param("len"), "*", num("2")))), ">", num("1")),
    ),
    ("returns(7d) > 5%", cmp(call("returns", dur("7d", 604_800)), ">", num("5%", 0.05))),
    ("close > $threshold", cmp(ref("close"), ">", param("threshold"))),
    ("a + b * c < 1", cmp(binop(ref("a"), "+", binop(ref("b"), "*", ref("c"))), "<", num("1"))),
    ("(a + b) * c < 1", cmp(binop(binop(ref("a"), "+", ref("b")), "*", ref("c")), "<", num("1"))),
    ("a - b - c < 1", cmp(binop(binop(ref("a"), "-", ref("b")), "-", ref("c")), "<", num("1"))),
    ("a / b / c < 1", cmp(binop(binop(ref("a"), "/", ref("b")), "/", ref("c")), "<", num("1"))),
    ("-a * b < 1", cmp(binop(neg(ref("a")), "*", ref("b")), "<", num("1"))),
    ("a < -1", cmp(ref("a"), "<", neg(num("1")))),
    ("a - -b < 1", cmp(binop(ref("a"), "-", neg(ref("b"))), "<", num("1"))),
    ("--a < 1", cmp(neg(neg(ref("a"))), "<", num("1"))),
    ("x between 30 and 70", between(ref("x"), num("30"), num("70"))),
    ("x between -1 and a + 1", between(ref("x"), neg(num("1")), binop(ref("a"), "+", num("1")))),
    ("a < 1 or b < 1 and c < 1", or_(lt("a"), and_(lt("b"), lt("c")))),
    ("(a < 1 or b < 1) and c < 1", and_(or_(lt("a"), lt("b")), lt("c"))),
    ("not a < 1 and b < 1", and_(not_(lt("a")), lt("b"))),
    ("not not a < 1", not_(not_(lt("a")))),
    ("not (a < 1 or b < 1)", not_(or_(lt("a"), lt("b")))),
    ("((a < 1))", lt("a")),
    ("((a)) < (1)", lt("a")),
    ("android < 1 and notes < 1 and order_ < 1", and_(lt("android"), lt("notes"), lt("order_"))),
    ("AND < 1", lt("AND")),
    ("a\n<\t1", lt("a")),
    ("a < 1\u00a0and b < 1", and_(lt("a"), lt("b"))),
    ("'x' == \"x\"", cmp(string("x"), "==", string("x"))),
]


@pytest.mark.parametrize(("text", "expected"), VALID, ids=[text for text, _ in VALID])
def test_valid_expression_parses_to_expected_tree(text: str, expected: BoolExpr) -> None:
    assert strip_offsets(parse(text)) == expected


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("35", 35.0),
        ("0.9", 0.9),
        (".5", 0.5),
        ("1e6", 1e6),
        ("2.5E-3", 0.0025),
        ("5%", 0.05),
        ("0.5%", 0.005),
        ("1.5k", 1500.0),
        ("1.5K", 1500.0),
        ("0.3k", 300.0),
        ("100M", 1e8),
        ("2B", 2e9),
        ("1T", 1e12),
        ("1e3k", 1e6),
    ],
)
def test_number_literal_applies_its_suffix_and_keeps_its_text(literal: str, value: float) -> None:
    assert strip_offsets(parse(f"x < {literal}")) == cmp(ref("x"), "<", num(literal, value))


@pytest.mark.parametrize(
    ("literal", "seconds"),
    [
        ("30s", 30.0),
        ("15m", 900.0),
        ("4h", 14_400.0),
        ("2d", 172_800.0),
        ("1w", 604_800.0),
        ("1.5h", 5_400.0),
        ("0.1m", 6.0),
        (".5d", 43_200.0),
    ],
)
def test_duration_literal_is_converted_to_seconds(literal: str, seconds: float) -> None:
    assert strip_offsets(parse(f"x < {literal}")) == cmp(ref("x"), "<", dur(literal, seconds))


def test_lowercase_m_is_minutes_and_uppercase_m_is_millions() -> None:
    comparison = parse("15m < 15M")
    assert isinstance(comparison, Compare)
    assert comparison.left == Duration(900.0, "15m", 0, 3)
    assert comparison.right == Num(15e6, "15M", 6, 9)


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        (r"'plain'", "plain"),
        (r'"plain"', "plain"),
        (r"''", ""),
        (r"'it\'s'", "it's"),
        (r'"say \"hi\""', 'say "hi"'),
        (r'"it\'s"', "it's"),
        (r"'back\\slash'", "back\\slash"),
        (r"'\\'", "\\"),
        (r"""'a "quoted" word'""", 'a "quoted" word'),
        (r"'and or not between'", "and or not between"),
    ],
)
def test_string_literal_is_unescaped(literal: str, value: str) -> None:
    assert strip_offsets(parse(f"x == {literal}")) == cmp(ref("x"), "==", string(value))


def test_call_without_arguments_has_empty_args_and_bare_name_has_none() -> None:
    comparison = parse("f() < g")
    assert isinstance(comparison, Compare)
    assert isinstance(comparison.left, Ref)
    assert isinstance(comparison.right, Ref)
    assert comparison.left.segments[0].args == ()
    assert comparison.right.segments[0].args is None


def test_between_binds_its_own_and_before_boolean_and() -> None:
    tree = parse("rsi(14) between 30 and 70 and close > 1")
    assert strip_offsets(tree) == and_(
        between(call("rsi", num("14")), num("30"), num("70")),
        cmp(ref("close"), ">", num("1")),
    )


def test_between_bounds_take_arithmetic_before_the_boolean_and() -> None:
    tree = parse("x between a - 1 and a + 1 and y < 1")
    assert strip_offsets(tree) == and_(
        between(ref("x"), binop(ref("a"), "-", num("1")), binop(ref("a"), "+", num("1"))),
        lt("y"),
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a < 1 and b < 1 and c < 1", and_(lt("a"), lt("b"), lt("c"))),
        ("a < 1 or b < 1 or c < 1 or d < 1", or_(lt("a"), lt("b"), lt("c"), lt("d"))),
        (
            "a < 1 and b < 1 or c < 1 and d < 1",
            or_(and_(lt("a"), lt("b")), and_(lt("c"), lt("d"))),
        ),
    ],
)
def test_runs_of_and_or_are_flattened_into_one_node(text: str, expected: BoolExpr) -> None:
    assert strip_offsets(parse(text)) == expected


def test_explicit_parentheses_keep_a_nested_and_as_written() -> None:
    assert strip_offsets(parse("(a < 1 and b < 1) and c < 1")) == and_(
        and_(lt("a"), lt("b")), lt("c")
    )


# --- Offsets --------------------------------------------------------------------------------------


def test_offsets_cover_each_node_source_text() -> None:
    text = "rsi(14) < 35 and close > sma(n=200) * 0.9"
    tree = parse(text)
    assert isinstance(tree, And)
    first, second = tree.operands
    assert isinstance(first, Compare)
    assert isinstance(second, Compare)
    assert isinstance(second.right, BinOp)
    assert isinstance(second.right.left, Ref)
    sma = second.right.left.segments[0]
    assert sma.args is not None
    assert source_text(text, tree) == text
    assert source_text(text, first) == "rsi(14) < 35"
    assert source_text(text, first.left) == "rsi(14)"
    assert source_text(text, first.right) == "35"
    assert source_text(text, second) == "close > sma(n=200) * 0.9"
    assert source_text(text, second.right) == "sma(n=200) * 0.9"
    assert source_text(text, sma) == "sma(n=200)"
    assert source_text(text, sma.args[0]) == "n=200"
    assert source_text(text, sma.args[0].value) == "200"


def test_offsets_of_a_parenthesised_node_exclude_its_parentheses() -> None:
    text = "((a + b)) * 2 < 1"
    tree = parse(text)
    assert isinstance(tree, Compare)
    assert isinstance(tree.left, BinOp)
    assert source_text(text, tree.left) == "((a + b)) * 2"
    assert source_text(text, tree.left.left) == "a + b"


def test_offsets_of_chained_reference_span_all_segments() -> None:
    text = "polymarket('us-recession-in-2025').yes < 0.25"
    tree = parse(text)
    assert isinstance(tree, Compare)
    assert isinstance(tree.left, Ref)
    assert source_text(text, tree.left) == "polymarket('us-recession-in-2025').yes"
    assert [source_text(text, s) for s in tree.left.segments] == [
        "polymarket('us-recession-in-2025')",
        "yes",
    ]


def test_offsets_of_not_and_between_start_at_their_keyword_or_subject() -> None:
    text = "not  x between 1 and 2"
    tree = parse(text)
    assert isinstance(tree, Not)
    assert source_text(text, tree) == text
    assert source_text(text, tree.operand) == "x between 1 and 2"


# --- Rendering ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("rsi(14)<35", "rsi(14) < 35"),
        ("close>sma( 200 )*0.9", "close > sma(200) * 0.9"),
        (
            'polymarket("us-recession-in-2025") . yes<0.25',
            "polymarket('us-recession-in-2025').yes < 0.25",
        ),
        ("sma( n = 200 ) > close", "sma(n=200) > close"),
        ("f(1,n=2)>f()", "f(1, n=2) > f()"),
        ("x < 100M and y > 1.5k and z < 5%", "x < 100M and y > 1.5k and z < 5%"),
        ("t >= 15m", "t >= 15m"),
        ("a<1 and (b<1 or c<1)", "a < 1 and (b < 1 or c < 1)"),
        ("(a<1 and b<1) or c<1", "a < 1 and b < 1 or c < 1"),
        ("(a<1 and b<1) and c<1", "(a < 1 and b < 1) and c < 1"),
        ("((a<1))", "a < 1"),
        ("x between 1 and 2", "x between 1 and 2"),
        ("not a<b", "not (a < b)"),
        ("not a<1 and b<1", "not (a < 1) and b < 1"),
        ("(a+b)*c<1", "(a + b) * c < 1"),
        ("(a-b)-c<1", "a - b - c < 1"),
        ("a-(b-c)<1", "a - (b - c) < 1"),
        ("a/(b*c)<1", "a / (b * c) < 1"),
        ("(a*b)+c<1", "a * b + c < 1"),
        ("-(a+b)<1", "-(a + b) < 1"),
        ("a--1<1", "a - -1 < 1"),
        ('s == "it\'s \\\\ \\"ok\\""', "s == 'it\\'s \\\\ \"ok\"'"),
        ("$p>1", "$p > 1"),
    ],
)
def test_render_normalizes_spacing_quotes_and_parentheses(text: str, rendered: str) -> None:
    assert render(parse(text)) == rendered


@pytest.mark.parametrize("text", [text for text, _ in VALID])
def test_render_output_parses_back_to_the_same_tree(text: str) -> None:
    tree = parse(text)
    assert strip_offsets(parse(render(tree))) == strip_offsets(tree)


# --- Errors ---------------------------------------------------------------------------------------

CONDITION_EXAMPLE = "expected a comparison, e.g. 'rsi(14) < 30'"

INVALID = [
    # (text, message, offset, a token that `expected` must contain, or None for an empty tuple)
    ("", "unexpected end of expression", 0, "number"),
    ("   ", "unexpected end of expression", 3, "name"),
    ("rsi(14) <", "unexpected end of expression", 9, "'$param'"),
    ("(a < 1", "unexpected end of expression", 6, "')'"),
    ("x between 1", "unexpected end of expression", 11, "'and'"),
    ("rsi(14) < < 3", "unexpected '<'", 10, "number"),
    ("a < 1)", "unexpected ')'", 5, "end of expression"),
    ("a = 1", "unexpected '='", 2, "'=='"),
    ("a <> 1", "unexpected '>'", 3, "'('"),
    ("f(1,) > 1", "unexpected ')'", 4, "string"),
    ("a < 1 b < 2", "unexpected name 'b'", 6, "'and'"),
    ("a < 1 2", "unexpected number '2'", 6, "'or'"),
    ("a 'x'", "unexpected string 'x'", 2, "'<'"),
    ("x between 1 < 2 and 3", "unexpected '<'", 12, "'and'"),
    ("and < 1", "unexpected 'and'", 0, "'not'"),
    ("x.between < 1", "unexpected 'between'", 2, "name"),
    ("f(or=1) > 1", "unexpected 'or'", 2, "')'"),
    ("a < 1 AND b < 2", "unexpected name 'AND' (keywords are lowercase: 'and')", 6, "'and'"),
    ("close > #", "unexpected character '#'", 8, "'('"),
    ("a ! b", "unexpected character '!'", 2, "'!='"),
    ("name == 'abc", "unterminated string", 8, None),
    ('name == "abc\\"', "unterminated string", 8, None),
    ("x < $", "expected a parameter name after '$'", 4, None),
    ("x < $1", "expected a parameter name after '$'", 4, None),
    ("x < 5x", "invalid number '5x'", 4, None),
    ("x < 15min", "invalid duration '15min': write 15m", 4, None),
    ("x < 2Bn", "invalid number '2Bn'", 4, None),
    ("x < 1.5.3", "invalid number '1.5.3'", 4, None),
    ("x < 1.", "invalid number '1.'", 4, None),
    ("x < .5x", "invalid number '.5x'", 4, None),
    ("x < 1e", "invalid number '1e'", 4, None),
    ("x < 1e999", "number is too large", 4, None),
    ("x < 1e300T", "number is too large", 4, None),
    ("x == 'a\\nb'", "invalid escape '\\n' in string", 7, "\\\\"),
    ("rsi(14)", CONDITION_EXAMPLE, 0, None),
    ("(close)", CONDITION_EXAMPLE, 1, None),
    ("not close", CONDITION_EXAMPLE, 4, None),
    ("a < 1 and close", CONDITION_EXAMPLE, 10, None),
    ("close or a < 1", CONDITION_EXAMPLE, 0, None),
    ("(a < b) + 1 > 2", "cannot do arithmetic on a condition", 1, None),
    ("a * (b < c) > 2", "cannot do arithmetic on a condition", 5, None),
    ("-(a < b) < 1", "cannot negate a condition; use 'not'", 2, None),
    (
        "(a < b) == (c < d)",
        "cannot compare a condition; join conditions with 'and' / 'or'",
        1,
        None,
    ),
    ("x between (a < b) and 1", "'between' takes values, not conditions", 11, None),
    ("f(a < b) > 1", "an argument must be a value, not a condition", 2, None),
    ("f(n=a < b) > 1", "an argument must be a value, not a condition", 4, None),
    ("f(n=1, 2) > 1", "positional argument after keyword argument", 7, None),
    ("f(n=1, n=2) > 1", "duplicate keyword argument 'n'", 7, None),
    (
        "1 < x < 2",
        "comparisons cannot be chained; join them with 'and', e.g. 'a < b and b < c'",
        6,
        None,
    ),
]


@pytest.mark.parametrize(
    ("text", "message", "offset", "expected_token"), INVALID, ids=[row[0] for row in INVALID]
)
def test_invalid_expression_raises_syntax_error_with_message_and_offset(
    text: str, message: str, offset: int, expected_token: str | None
) -> None:
    with pytest.raises(ExpressionSyntaxError) as caught:
        parse(text)
    error = caught.value
    assert (error.message, error.offset) == (message, offset)
    assert str(error) == message
    if expected_token is None:
        assert error.expected == ()
    else:
        assert expected_token in error.expected


def test_expected_tokens_are_readable_sorted_and_unique() -> None:
    with pytest.raises(ExpressionSyntaxError) as caught:
        parse("close > ")
    assert caught.value.expected == (
        "'$param'",
        "'('",
        "'-'",
        "duration",
        "name",
        "number",
        "string",
    )


def test_syntax_error_survives_pickling() -> None:
    error = ExpressionSyntaxError("unexpected '<'", 3, ("name", "number"))
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.message, copy.offset, copy.expected) == ("unexpected '<'", 3, ("name", "number"))


def test_deeply_nested_expression_parses_without_recursion_error() -> None:
    depth = 5_000
    tree = parse("(" * depth + "a < " + "-" * depth + "1" + ")" * depth)
    assert isinstance(tree, Compare)


# --- Totality: nothing but ExpressionSyntaxError escapes ------------------------------------------

# Fragments that tend to reach the parser's corners: keywords, operators, quotes, suffixes.
FRAGMENTS = [
    "(", ")", ",", ".", "=", "==", "<", "<=", "!=", "+", "-", "*", "/", "and", "or", "not",
    "between", "'", '"', "\\", "$", "$p", "5%", "1e", "1.5k", "15m", "1e999", ".", "x", "f()",
    " ", "AND", "#", "\n",
]  # fmt: skip


@st.composite
def mutated_expressions(draw: st.DrawFn) -> str:
    """A valid expression with a few slices replaced by fragments or random text."""
    text = draw(st.sampled_from([text for text, _ in VALID]))
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, len(text)))
        stop = draw(st.integers(start, min(len(text), start + 6)))
        insert = draw(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=3)))
        text = text[:start] + insert + text[stop:]
    return text


def assert_parse_is_total(text: str) -> None:
    """Either a well-formed tree that survives rendering, or an ExpressionSyntaxError."""
    try:
        tree = parse(text)
    except ExpressionSyntaxError as error:
        assert not isinstance(error, LarkError)
        assert error.message
        assert 0 <= error.offset <= len(text)
        assert error.expected == tuple(sorted(set(error.expected)))
        return
    assert isinstance(tree, BoolExpr)
    for node in walk(tree):
        assert 0 <= node.start <= node.end <= len(text)
    assert strip_offsets(parse(render(tree))) == strip_offsets(tree)


@settings(max_examples=300)
@given(st.text())
def test_arbitrary_text_only_raises_expression_syntax_error(text: str) -> None:
    assert_parse_is_total(text)


@settings(max_examples=300)
@given(mutated_expressions())
def test_mutated_valid_expression_only_raises_expression_syntax_error(text: str) -> None:
    assert_parse_is_total(text)
