"""Parse the condition expressions written in strategy YAML into a small, frozen AST.

A condition such as ``rsi(14) < 35 and close > sma(200) * 0.9`` is parsed with the LALR grammar in
``expression.lark`` and turned into the dataclasses below. Metric and parameter names are not
resolved here: that is the compiler's job, which is why a reference is only a chain of names and
arguments.

Every node records ``start`` and ``end`` (end exclusive) offsets into the expression text, so that
later stages can point at the exact sub-expression they reject.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum
from importlib import resources
from typing import TypeAlias

from lark import Lark, Token, Transformer_NonRecursive, v_args
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)
from lark.tree import Meta

from signalops.errors import ExpressionSyntaxError

__all__ = [
    "And",
    "Arg",
    "Between",
    "BinOp",
    "BoolExpr",
    "Compare",
    "Duration",
    "ExpressionSyntaxError",
    "Neg",
    "Node",
    "Not",
    "Num",
    "Or",
    "Param",
    "Ref",
    "Segment",
    "Str",
    "ValueExpr",
    "parse",
    "render",
    "source_text",
]


# --- AST ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Num:
    """A number; ``value`` has any suffix (``%``, ``k``, ``M``, ``B``, ``T``) applied."""

    value: float
    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Duration:
    """A span of time such as ``15m``; ``text`` is kept so that it renders as written."""

    seconds: float
    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Str:
    """A quoted string, unescaped."""

    value: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Param:
    """A ``$name`` reference to a strategy parameter, resolved by the compiler."""

    name: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Arg:
    """One argument of a call; ``name`` is None for a positional argument."""

    name: str | None
    value: ValueExpr
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Segment:
    """One dotted part of a reference.

    ``args`` is None when there were no parentheses at all, which is not the same as ``foo()``:
    the compiler may treat ``close`` as a field and ``close()`` as a call.
    """

    name: str
    args: tuple[Arg, ...] | None
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Ref:
    """A metric reference such as ``polymarket('us-recession-in-2025').yes``."""

    segments: tuple[Segment, ...]
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Neg:
    operand: ValueExpr
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class BinOp:
    """Arithmetic; ``op`` is one of ``+ - * /``."""

    op: str
    left: ValueExpr
    right: ValueExpr
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Compare:
    """A comparison; ``op`` is one of ``< <= > >= == !=``."""

    op: str
    left: ValueExpr
    right: ValueExpr
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Between:
    """``subject between low and high``, bounds included."""

    subject: ValueExpr
    low: ValueExpr
    high: ValueExpr
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class And:
    """A run of ``and``; ``a and b and c`` is one node with three operands."""

    operands: tuple[BoolExpr, ...]
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Or:
    """A run of ``or``; ``a or b or c`` is one node with three operands."""

    operands: tuple[BoolExpr, ...]
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Not:
    operand: BoolExpr
    start: int
    end: int


ValueExpr: TypeAlias = Num | Duration | Str | Param | Ref | Neg | BinOp
BoolExpr: TypeAlias = Compare | Between | And | Or | Not
Node: TypeAlias = ValueExpr | BoolExpr | Arg | Segment


# --- Parsing --------------------------------------------------------------------------------------

_GRAMMAR = resources.files(__package__).joinpath("expression.lark").read_text(encoding="utf-8")

# The basic lexer, unlike lark's default contextual one, sees every terminal in every state: that
# is what stops `a < 1 andy < 2` from lexing as `and` followed by `y`.
_PARSER = Lark(
    _GRAMMAR,
    parser="lalr",
    lexer="basic",
    propagate_positions=True,
    maybe_placeholders=False,
)

_NUMBER_SCALE = {
    "%": Decimal("0.01"),
    "k": Decimal(1_000),
    "K": Decimal(1_000),
    "M": Decimal(1_000_000),
    "B": Decimal(1_000_000_000),
    "T": Decimal(1_000_000_000_000),
}
_DURATION_SECONDS = {
    "s": Decimal(1),
    "m": Decimal(60),
    "h": Decimal(3_600),
    "d": Decimal(86_400),
    "w": Decimal(604_800),
}
_STRING_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_EXAMPLE = "expected a comparison, e.g. 'rsi(14) < 30'"


def parse(text: str) -> BoolExpr:
    """Parse a condition.

    Raises ExpressionSyntaxError, and nothing else, for any text that is not a valid condition.
    """
    try:
        tree = _PARSER.parse(text)
    except UnexpectedInput as e:
        raise _syntax_error(text, e) from None
    try:
        node = _TO_AST.transform(tree)
    except VisitError as e:
        if isinstance(e.orig_exc, ExpressionSyntaxError):
            raise e.orig_exc from None
        raise
    return _boolean(node, _EXAMPLE)


def source_text(text: str, node: Node) -> str:
    """Return the part of ``text`` that ``node`` was parsed from."""
    return text[node.start : node.end]


def _boolean(node: Node, message: str) -> BoolExpr:
    if not isinstance(node, BoolExpr):
        raise ExpressionSyntaxError(message, node.start)
    return node


def _value(node: Node, message: str) -> ValueExpr:
    if not isinstance(node, ValueExpr):
        raise ExpressionSyntaxError(message, node.start)
    return node


def _offset(token: Token) -> int:
    # Lark leaves start_pos unset only on tokens it makes up itself (none reach these checks).
    return token.start_pos or 0


def _scaled(token: Token, scale: dict[str, Decimal]) -> float:
    digits, unit = (token[:-1], token[-1]) if token[-1] in scale else (str(token), "")
    # Checked before Decimal arithmetic, which raises its own Overflow for absurd exponents.
    if math.isinf(float(digits)):
        raise ExpressionSyntaxError("number is too large", _offset(token))
    # Decimal keeps the suffix exact: 0.3k is 300.0, not 300.00000000000006.
    value = float(Decimal(digits) * scale[unit]) if unit else float(digits)
    if math.isinf(value):
        raise ExpressionSyntaxError("number is too large", _offset(token))
    return value


@v_args(meta=True, inline=True)
class _ToAst(Transformer_NonRecursive):
    """Build AST nodes from lark's tree, checking condition/value types on the way up.

    Non-recursive so that deeply nested input cannot exhaust the Python stack.
    """

    def number(self, meta: Meta, token: Token) -> Num:
        return Num(_scaled(token, _NUMBER_SCALE), str(token), meta.start_pos, meta.end_pos)

    def duration(self, meta: Meta, token: Token) -> Duration:
        seconds = _scaled(token, _DURATION_SECONDS)
        return Duration(seconds, str(token), meta.start_pos, meta.end_pos)

    def string(self, meta: Meta, token: Token) -> Str:
        body = token[1:-1]
        for escape in _STRING_ESCAPE.finditer(body):
            if escape.group(1) not in "'\"\\":
                # Reserved rather than passed through, so that `\n` can gain a meaning later.
                offset = meta.start_pos + 1 + escape.start()
                raise ExpressionSyntaxError(
                    f"invalid escape '{escape.group()}' in string", offset, ("\\'", '\\"', "\\\\")
                )
        return Str(_STRING_ESCAPE.sub(r"\1", body), meta.start_pos, meta.end_pos)

    def param(self, meta: Meta, token: Token) -> Param:
        return Param(token[1:], meta.start_pos, meta.end_pos)

    def ref(self, meta: Meta, *segments: Segment) -> Ref:
        return Ref(segments, meta.start_pos, meta.end_pos)

    def bare_segment(self, meta: Meta, name: Token) -> Segment:
        return Segment(str(name), None, meta.start_pos, meta.end_pos)

    def call_segment(self, meta: Meta, name: Token, *args: Arg) -> Segment:
        seen: set[str] = set()
        for arg in args:
            if arg.name is None and seen:
                raise ExpressionSyntaxError("positional argument after keyword argument", arg.start)
            if arg.name in seen:
                raise ExpressionSyntaxError(f"duplicate keyword argument {arg.name!r}", arg.start)
            if arg.name is not None:
                seen.add(arg.name)
        return Segment(str(name), args, meta.start_pos, meta.end_pos)

    def keyword_argument(self, meta: Meta, name: Token, value: Node) -> Arg:
        value = _value(value, "an argument must be a value, not a condition")
        return Arg(str(name), value, meta.start_pos, meta.end_pos)

    def positional_argument(self, meta: Meta, value: Node) -> Arg:
        value = _value(value, "an argument must be a value, not a condition")
        return Arg(None, value, meta.start_pos, meta.end_pos)

    def neg(self, meta: Meta, _minus: Token, operand: Node) -> Neg:
        operand = _value(operand, "cannot negate a condition; use 'not'")
        return Neg(operand, meta.start_pos, meta.end_pos)

    def binop(self, meta: Meta, left: Node, op: Token, right: Node) -> BinOp:
        message = "cannot do arithmetic on a condition"
        return BinOp(
            str(op), _value(left, message), _value(right, message), meta.start_pos, meta.end_pos
        )

    def compare(
        self, meta: Meta, left: Node, op: Token, right: Node, *chain: Token | Node
    ) -> Compare:
        if chain:
            second_op = chain[0]  # the chain alternates operator, operand
            assert isinstance(second_op, Token)
            raise ExpressionSyntaxError(
                "comparisons cannot be chained; join them with 'and', e.g. 'a < b and b < c'",
                _offset(second_op),
            )
        message = "cannot compare a condition; join conditions with 'and' / 'or'"
        return Compare(
            str(op), _value(left, message), _value(right, message), meta.start_pos, meta.end_pos
        )

    def between(self, meta: Meta, subject: Node, low: Node, high: Node) -> Between:
        message = "'between' takes values, not conditions"
        return Between(
            _value(subject, message),
            _value(low, message),
            _value(high, message),
            meta.start_pos,
            meta.end_pos,
        )

    def and_expr(self, meta: Meta, *operands: Node) -> And:
        return And(tuple(_boolean(o, _EXAMPLE) for o in operands), meta.start_pos, meta.end_pos)

    def or_expr(self, meta: Meta, *operands: Node) -> Or:
        return Or(tuple(_boolean(o, _EXAMPLE) for o in operands), meta.start_pos, meta.end_pos)

    def not_(self, meta: Meta, operand: Node) -> Not:
        return Not(_boolean(operand, _EXAMPLE), meta.start_pos, meta.end_pos)


_TO_AST = _ToAst()


# --- Errors ---------------------------------------------------------------------------------------

_TOKEN_NAMES = {
    "NAME": "name",
    "PARAM": "'$param'",
    "NUMBER": "number",
    "DURATION": "duration",
    "STRING": "string",
    "LE": "'<='",
    "GE": "'>='",
    "EQ": "'=='",
    "NE": "'!='",
    "LT": "'<'",
    "GT": "'>'",
    "PLUS": "'+'",
    "MINUS": "'-'",
    "STAR": "'*'",
    "SLASH": "'/'",
    "_AND": "'and'",
    "_OR": "'or'",
    "_NOT": "'not'",
    "_BETWEEN": "'between'",
    "_LPAR": "'('",
    "_RPAR": "')'",
    "_COMMA": "','",
    "_DOT": "'.'",
    "_EQUALS": "'='",
    "$END": "end of expression",
}
# Words for the tokens whose text varies, so "unexpected name 'x'" can say what was found.
_VALUE_TOKENS = {"NAME": "name", "PARAM": "parameter", "NUMBER": "number", "DURATION": "duration"}
_KEYWORDS = frozenset({"and", "or", "not", "between"})
_BAD_NUMBER = re.compile(r"\.?[0-9][A-Za-z0-9_.%]*")
_PARAM_SIGIL = re.compile(r"\$(?![A-Za-z_])")


def _readable(terminals: Iterable[str]) -> tuple[str, ...]:
    return tuple(_TOKEN_NAMES.get(name, name) for name in terminals)


def _syntax_error(text: str, error: UnexpectedInput) -> ExpressionSyntaxError:
    """Translate a lark error into one phrased in the expression language's own terms."""
    if isinstance(error, UnexpectedToken):
        expected = _readable(error.accepts or error.expected)
        token = error.token
        if token.type == "$END":
            return ExpressionSyntaxError("unexpected end of expression", len(text), expected)
        if token.type == "STRING":
            message = f"unexpected string {token}"
        elif token.type in _VALUE_TOKENS:
            message = f"unexpected {_VALUE_TOKENS[token.type]} {str(token)!r}"
        else:
            message = f"unexpected {str(token)!r}"
        if token.type == "NAME" and token.lower() in _KEYWORDS:
            message += f" (keywords are lowercase: {token.lower()!r})"
        return ExpressionSyntaxError(message, _offset(token), expected)

    if isinstance(error, UnexpectedCharacters):
        offset = error.pos_in_stream or 0  # lark sets it for every character it rejects
        if text[offset] in "'\"":
            return ExpressionSyntaxError("unterminated string", offset)
        if _PARAM_SIGIL.match(text, offset):
            return ExpressionSyntaxError("expected a parameter name after '$'", offset)
        if bad_number := _BAD_NUMBER.match(text, offset):
            return ExpressionSyntaxError(f"invalid number {bad_number.group()!r}", offset)
        parser = getattr(error, "interactive_parser", None)
        expected = _readable(parser.accepts()) if parser else ()
        return ExpressionSyntaxError(f"unexpected character {text[offset]!r}", offset, expected)

    if isinstance(error, UnexpectedEOF):
        return ExpressionSyntaxError(
            "unexpected end of expression", len(text), _readable(error.expected)
        )
    # No other UnexpectedInput subclass is raised by an LALR parser; kept total regardless.
    return ExpressionSyntaxError("invalid expression", getattr(error, "pos_in_stream", 0) or 0)


# --- Rendering ------------------------------------------------------------------------------------


class _Precedence(IntEnum):
    """Binding strength, loosest first.

    render() parenthesises a child that binds more loosely than its position requires.
    """

    OR = 1
    AND = 2
    NOT = 3
    COMPARE = 4
    SUM = 5
    PRODUCT = 6
    UNARY = 7
    ATOM = 8


_BINOP_PRECEDENCE = {
    "+": _Precedence.SUM,
    "-": _Precedence.SUM,
    "*": _Precedence.PRODUCT,
    "/": _Precedence.PRODUCT,
}


def render(node: Node) -> str:
    """Render ``node`` in a normalized form that parses back to the same tree.

    Spacing is canonical, numbers and durations keep the text they were written with, strings use
    single quotes, and parentheses appear only where precedence needs them, plus around the operand
    of ``not`` because ``not a < b`` is easily misread as ``(not a) < b``. Explicit grouping of
    nested ``and`` / ``or`` is preserved, since the tree keeps it as a separate node.
    """
    match node:
        case Num(text=text) | Duration(text=text):
            return text
        case Str(value=value):
            return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
        case Param(name=name):
            return f"${name}"
        case Ref(segments=segments):
            return ".".join(render(segment) for segment in segments)
        case Segment(name=name, args=None):
            return name
        case Segment(name=name, args=tuple() as args):
            return f"{name}({', '.join(render(arg) for arg in args)})"
        case Arg(name=None, value=value):
            return render(value)
        case Arg(name=name, value=value):
            return f"{name}={render(value)}"
        case Neg(operand=operand):
            return "-" + _wrap(operand, _Precedence.UNARY)
        case BinOp(op=op, left=left, right=right):
            precedence = _BINOP_PRECEDENCE[op]
            # Left-associative: only the right operand needs parentheses at equal precedence.
            return f"{_wrap(left, precedence)} {op} {_wrap(right, precedence + 1)}"
        case Compare(op=op, left=left, right=right):
            return f"{render(left)} {op} {render(right)}"
        case Between(subject=subject, low=low, high=high):
            return f"{render(subject)} between {render(low)} and {render(high)}"
        case And(operands=operands):
            return " and ".join(_wrap(operand, _Precedence.AND + 1) for operand in operands)
        case Or(operands=operands):
            return " or ".join(_wrap(operand, _Precedence.OR + 1) for operand in operands)
        case Not(operand=operand):
            return f"not ({render(operand)})"
    raise TypeError(f"not an expression node: {node!r}")


def _wrap(node: Node, minimum: int) -> str:
    """Render ``node``, parenthesised if it binds more loosely than ``minimum``."""
    text = render(node)
    return f"({text})" if _precedence(node) < minimum else text


def _precedence(node: Node) -> _Precedence:
    match node:
        case Or():
            return _Precedence.OR
        case And():
            return _Precedence.AND
        case Not():
            return _Precedence.NOT
        case Compare() | Between():
            return _Precedence.COMPARE
        case BinOp(op=op):
            return _BINOP_PRECEDENCE[op]
        case Neg():
            return _Precedence.UNARY
    return _Precedence.ATOM
