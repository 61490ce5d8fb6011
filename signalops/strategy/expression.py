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
from typing import TypeAlias, cast

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
    "children",
    "duration_slip",
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

# The fields of each node that hold nodes (one, or a tuple of them), in field order.
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {
    Num: (),
    Duration: (),
    Str: (),
    Param: (),
    Arg: ("value",),
    Segment: ("args",),
    Ref: ("segments",),
    Neg: ("operand",),
    BinOp: ("left", "right"),
    Compare: ("left", "right"),
    Between: ("subject", "low", "high"),
    And: ("operands",),
    Or: ("operands",),
    Not: ("operand",),
}


def children(node: Node) -> list[Node]:
    """The nodes directly inside ``node``, left to right."""
    found: list[Node] = []
    for name in _CHILD_FIELDS[type(node)]:
        value = getattr(node, name)
        if isinstance(value, tuple):
            found.extend(value)
        elif value is not None:
            found.append(value)
    return found


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
    # lark keeps the analysed grammar in the temp dir keyed by its hash: ~3x faster imports
    cache=True,
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
        return _FastParser(text).parse()
    except Exception:  # lark below parses it again and words any error
        pass
    return _parse_with_lark(text)


def _parse_with_lark(text: str) -> BoolExpr:
    """The reference parser: the grammar in ``expression.lark`` and its error messages."""
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


def _scaled(text: str, offset: int, scale: dict[str, Decimal]) -> float:
    digits, unit = (text[:-1], text[-1]) if text[-1] in scale else (text, "")
    # Checked before Decimal arithmetic, which raises its own Overflow for absurd exponents.
    if math.isinf(float(digits)):
        raise ExpressionSyntaxError("number is too large", offset)
    # Decimal keeps the suffix exact: 0.3k is 300.0, not 300.00000000000006.
    value = float(Decimal(digits) * scale[unit]) if unit else float(digits)
    if math.isinf(value):
        raise ExpressionSyntaxError("number is too large", offset)
    return value


def _string(text: str, start: int, end: int) -> Str:
    """A STRING token's text, quotes included, as a ``Str``."""
    body = text[1:-1]
    for escape in _STRING_ESCAPE.finditer(body):
        if escape.group(1) not in "'\"\\":
            # Reserved rather than passed through, so that `\n` can gain a meaning later.
            offset = start + 1 + escape.start()
            raise ExpressionSyntaxError(
                f"invalid escape '{escape.group()}' in string", offset, ("\\'", '\\"', "\\\\")
            )
    return Str(_STRING_ESCAPE.sub(r"\1", body), start, end)


@v_args(meta=True, inline=True)
class _ToAst(Transformer_NonRecursive):
    """Build AST nodes from lark's tree, checking condition/value types on the way up.

    Non-recursive so that deeply nested input cannot exhaust the Python stack.
    """

    def number(self, meta: Meta, token: Token) -> Num:
        value = _scaled(str(token), _offset(token), _NUMBER_SCALE)
        return Num(value, str(token), meta.start_pos, meta.end_pos)

    def duration(self, meta: Meta, token: Token) -> Duration:
        seconds = _scaled(str(token), _offset(token), _DURATION_SECONDS)
        return Duration(seconds, str(token), meta.start_pos, meta.end_pos)

    def string(self, meta: Meta, token: Token) -> Str:
        return _string(str(token), meta.start_pos, meta.end_pos)

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


# --- The fast path --------------------------------------------------------------------------------
#
# lark's LALR parser builds a parse tree that the transformer then walks: ~0.2 ms a condition, most
# of a large strategy's compile time. The recursive-descent parser below follows the grammar rule by
# rule and gives the same AST, positions included, ~10x faster. It only ever *accepts*: at the first
# thing it does not expect, or any check the transformer would fail, it gives up and ``parse`` runs
# lark, so every error message is lark's and the transformer's, exactly as before
# (tests/test_compile_scaling.py compares the two parsers on generated and mutated expressions).
#
# Positions follow lark's ``propagate_positions``: a node spans from its first child to its last,
# and a child written in parentheses counts with its parentheses (its "container"), while the
# child's own span excludes them. Each parse method returns (node, container start, container end).


class _GiveUp(Exception):
    """The fast parser met something it leaves to lark."""


def _lexer_terminals() -> tuple[re.Pattern[str], dict[str, dict[str, str]]]:
    """One regular expression over lark's terminals, tried in lark's order, and the keywords
    that lark's basic lexer turns a whole match of a pattern into (``and`` is a NAME's text)."""
    terminals = sorted(
        _PARSER.terminals,
        key=lambda t: (-t.priority, -t.pattern.max_width, -len(t.pattern.value), t.name),
    )
    patterns = [t for t in terminals if t.pattern.type == "re"]
    keywords: dict[str, dict[str, str]] = {}
    embedded = set()
    for regex in patterns:
        for literal in terminals:
            value = literal.pattern.value
            if literal.pattern.type != "str" or literal.priority != regex.priority:
                continue
            whole = re.match(regex.pattern.to_regexp(), value)
            if whole is not None and whole.group() == value:
                keywords.setdefault(regex.name, {})[value] = literal.name
                if frozenset(literal.pattern.flags) <= frozenset(regex.pattern.flags):
                    embedded.add(literal.name)
    kept = [t for t in terminals if t.name not in embedded]
    master = "|".join(f"(?P<{t.name}>{t.pattern.to_regexp()})" for t in kept)
    return re.compile(master), keywords


_MASTER, _KEYWORD_OF = _lexer_terminals()
_IGNORED = frozenset(_PARSER.lexer_conf.ignore)
_COMPARE_OPS = frozenset({"LE", "GE", "EQ", "NE", "LT", "GT"})
_END = "$END"
# Nesting (parentheses, arguments, 'not', unary minus) the fast parser recurses into; deeper text
# goes to lark, which does not recurse (and MAX_EXPRESSION_DEPTH refuses it later anyway).
_FAST_DEPTH = 40

_Parsed = tuple[Node, int, int]  # node, container start, container end


class _FastParser:
    __slots__ = ("depth", "ends", "i", "kinds", "starts", "values")

    def __init__(self, text: str) -> None:
        kinds: list[str] = []
        values: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        match = _MASTER.match
        pos, size = 0, len(text)
        while pos < size:
            found = match(text, pos)
            if found is None:
                raise _GiveUp
            kind = cast(str, found.lastgroup)
            end = found.end()
            if kind not in _IGNORED:
                value = found.group()
                if kind in _KEYWORD_OF:
                    kind = _KEYWORD_OF[kind].get(value, kind)
                kinds.append(kind)
                values.append(value)
                starts.append(pos)
                ends.append(end)
            pos = end
        kinds.append(_END)
        values.append("")
        starts.append(size)
        ends.append(size)
        self.kinds, self.values, self.starts, self.ends = kinds, values, starts, ends
        self.i = 0
        self.depth = 0

    def parse(self) -> BoolExpr:
        node = self.or_expr()[0]
        if self.kinds[self.i] != _END or not isinstance(node, BoolExpr):
            raise _GiveUp
        return node

    def expect(self, kind: str) -> int:
        """Consume a token of ``kind``; its end offset."""
        i = self.i
        if self.kinds[i] != kind:
            raise _GiveUp
        self.i = i + 1
        return self.ends[i]

    def nest(self) -> None:
        self.depth += 1
        if self.depth > _FAST_DEPTH:
            raise _GiveUp

    def or_expr(self) -> _Parsed:
        self.nest()
        first = self.and_expr()
        if self.kinds[self.i] != "_OR":
            self.depth -= 1
            return first
        items = [first]
        while self.kinds[self.i] == "_OR":
            self.i += 1
            items.append(self.and_expr())
        self.depth -= 1
        node = Or(tuple(_bool(item) for item in items), items[0][1], items[-1][2])
        return node, node.start, node.end

    def and_expr(self) -> _Parsed:
        first = self.not_expr()
        if self.kinds[self.i] != "_AND":
            return first
        items = [first]
        while self.kinds[self.i] == "_AND":
            self.i += 1
            items.append(self.not_expr())
        node = And(tuple(_bool(item) for item in items), items[0][1], items[-1][2])
        return node, node.start, node.end

    def not_expr(self) -> _Parsed:
        if self.kinds[self.i] != "_NOT":
            return self.comparison()
        start = self.starts[self.i]
        self.i += 1
        self.nest()
        operand = self.not_expr()
        self.depth -= 1
        node = Not(_bool(operand), start, operand[2])
        return node, start, operand[2]

    def comparison(self) -> _Parsed:
        left = self.sum()
        kind = self.kinds[self.i]
        if kind in _COMPARE_OPS:
            op = self.values[self.i]
            self.i += 1
            right = self.sum()
            if self.kinds[self.i] in _COMPARE_OPS:
                raise _GiveUp  # a chain: the transformer refuses it
            node: Node = Compare(op, _val(left), _val(right), left[1], right[2])
            return node, left[1], right[2]
        if kind == "_BETWEEN":
            self.i += 1
            low = self.sum()
            self.expect("_AND")
            high = self.sum()
            node = Between(_val(left), _val(low), _val(high), left[1], high[2])
            return node, left[1], high[2]
        return left

    def sum(self) -> _Parsed:
        left = self.product()
        while self.kinds[self.i] in ("PLUS", "MINUS"):
            op = self.values[self.i]
            self.i += 1
            right = self.product()
            node = BinOp(op, _val(left), _val(right), left[1], right[2])
            left = (node, left[1], right[2])
        return left

    def product(self) -> _Parsed:
        left = self.unary()
        while self.kinds[self.i] in ("STAR", "SLASH"):
            op = self.values[self.i]
            self.i += 1
            right = self.unary()
            node = BinOp(op, _val(left), _val(right), left[1], right[2])
            left = (node, left[1], right[2])
        return left

    def unary(self) -> _Parsed:
        if self.kinds[self.i] != "MINUS":
            return self.atom()
        start = self.starts[self.i]
        self.i += 1
        self.nest()
        operand = self.unary()
        self.depth -= 1
        return Neg(_val(operand), start, operand[2]), start, operand[2]

    def atom(self) -> _Parsed:
        i = self.i
        kind = self.kinds[i]
        start, end, text = self.starts[i], self.ends[i], self.values[i]
        node: Node
        if kind == "NAME":
            return self.ref()
        if kind == "_LPAR":
            self.i += 1
            inner = self.or_expr()
            return inner[0], start, self.expect("_RPAR")
        if kind == "NUMBER":
            node = Num(_scaled(text, start, _NUMBER_SCALE), text, start, end)
        elif kind == "DURATION":
            node = Duration(_scaled(text, start, _DURATION_SECONDS), text, start, end)
        elif kind == "STRING":
            node = _string(text, start, end)
        elif kind == "PARAM":
            node = Param(text[1:], start, end)
        else:
            raise _GiveUp
        self.i = i + 1
        return node, start, end

    def ref(self) -> _Parsed:
        segments = [self.segment()]
        while self.kinds[self.i] == "_DOT":
            self.i += 1
            segments.append(self.segment())
        node = Ref(tuple(segments), segments[0].start, segments[-1].end)
        return node, node.start, node.end

    def segment(self) -> Segment:
        i = self.i
        if self.kinds[i] != "NAME":
            raise _GiveUp
        name, start = self.values[i], self.starts[i]
        if self.kinds[i + 1] != "_LPAR":
            self.i = i + 1
            return Segment(name, None, start, self.ends[i])
        self.i = i + 2
        args: list[Arg] = []
        if self.kinds[self.i] != "_RPAR":
            args.append(self.argument())
            while self.kinds[self.i] == "_COMMA":
                self.i += 1
                args.append(self.argument())
        end = self.expect("_RPAR")
        seen: set[str] = set()
        for arg in args:  # the transformer's checks: no positional after a keyword, no repeats
            if (arg.name is None and seen) or arg.name in seen:
                raise _GiveUp
            if arg.name is not None:
                seen.add(arg.name)
        return Segment(name, tuple(args), start, end)

    def argument(self) -> Arg:
        i = self.i
        if self.kinds[i] == "NAME" and self.kinds[i + 1] == "_EQUALS":
            self.i = i + 2
            value = self.or_expr()
            return Arg(self.values[i], _val(value), self.starts[i], value[2])
        value = self.or_expr()
        return Arg(None, _val(value), value[1], value[2])


def _bool(parsed: _Parsed) -> BoolExpr:
    node = parsed[0]
    if not isinstance(node, BoolExpr):
        raise _GiveUp
    return node


def _val(parsed: _Parsed) -> ValueExpr:
    node = parsed[0]
    if not isinstance(node, ValueExpr):
        raise _GiveUp
    return node


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


# A length in a unit the durations do not spell so (``4hours``, ``15min``, ``3y``): NUMBER WORD.
_LENGTH = re.compile(r"([0-9]+(?:\.[0-9]+)?|\.[0-9]+)([A-Za-z]+)")
# Each duration unit as people also write it. ``M`` is not a minute: a month, as for the CLI.
_UNIT_WORDS = {
    "s": ("S", "sec", "secs", "second", "seconds"),
    "m": ("min", "mins", "minute", "minutes"),
    "h": ("H", "hr", "hrs", "hour", "hours"),
    "d": ("D", "day", "days"),
    "w": ("W", "wk", "wks", "week", "weeks"),
}
_UNIT_OF = {
    word if len(word) == 1 else word.lower(): unit
    for unit, words in _UNIT_WORDS.items()
    for word in words
}
_YEARS = frozenset({"y", "yr", "yrs", "year", "years"})
_MONTHS = frozenset({"mo", "mos", "mon", "month", "months"})


def duration_slip(text: str) -> str | None:
    """How to write ``text``, a length in a unit durations do not spell so, as a duration
    (``4hours``: ``write 4h``); None when it is no length at all (``1.5x``). Years and months
    are not units, as for the command line's lengths (``--train 3y``): neither has one length,
    and days and weeks say exactly how long."""
    match = _LENGTH.fullmatch(text)
    if match is None:
        return None
    number, word = match[1], match[2]
    if word == "M" or word.lower() in _MONTHS:
        return "there is no month unit: write days or weeks, e.g. 90d or 13w"
    if word.lower() in _YEARS:
        amount = Decimal(number)
        whole = int(amount) if amount == amount.to_integral_value() else None
        shown = f"{whole * 365}d or {whole * 52}w" if whole else "365d or 52w"
        return f"there is no year unit: write {shown}"
    unit = _UNIT_OF.get(word if len(word) == 1 else word.lower())
    return None if unit is None else f"write {number}{unit}"


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
            written = bad_number.group()
            meant = duration_slip(written)
            if meant is not None:
                return ExpressionSyntaxError(f"invalid duration {written!r}: {meant}", offset)
            return ExpressionSyntaxError(f"invalid number {written!r}", offset)
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
