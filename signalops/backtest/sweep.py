"""A parameter sweep: the vectorised evaluator over a small grid of ``strategy.params`` values.

    rows = sweep(text, grid={"oversold": [25, 30, 35]}, store=store, asset="BTC",
                 start=datetime(2022, 1, 1, tzinfo=UTC), end=datetime(2024, 12, 31, tzinfo=UTC))

For every combination of values the strategy document's ``strategy.params`` are replaced, the
document is compiled again (so a bad value fails exactly as it would in the file), and
``signalops.evaluation.vectorized`` evaluates the tree at every decision time at once. A simple
long-only position is then played through the verdict arrays:

- decision times are those of ``signalops backtest``: ``start`` to ``end`` inclusive, every
  ``every`` (default: the strategy's candle timeframe; for a stock, only those before a session
  opens, ``clock.session_decisions``);
- a BUY while flat puts all the cash into the asset at the open of the next bar (the bar that
  opens at or after the decision time, as ``Bars.next_open``), at ``open x (1 + slippage)`` plus
  ``fee_bps`` of the notional; a SELL while long sells everything at the next bar's open,
  ``open x (1 - slippage)`` minus the fee. BUY while long, SELL while flat, HOLD and BLOCKED do
  nothing; a decision with no next bar (the data ends) does not fill, nor one before the first
  close (the backtest's risk gate has no price to size it with);
- the equity curve is marked like the backtest's: the starting cash at the first decision time,
  then after each decision time ``t`` the portfolio at the last close at or before
  ``t + every``.

Metrics come from ``signalops.backtest.metrics`` (total return, max drawdown, Sharpe, win rate of
closed round trips with pnl > 0 after fees, exposure), plus the count of BLOCKED decision times.

How it stays fast (``bench/bench_sweep.py`` times it against vectorbt on the same grid):

- the strategy is compiled twice, not once per combination: with the first combination's values
  and with a second value for every parameter that varies. When the two trees differ only in
  constants that are exactly those values (a threshold ``$oversold``, ``-$x``, ``sma(50) *
  $k``), every combination is the first tree with its constants replaced; the compiler's checks
  on such a constant (a finite number, a non-empty ``between`` range, no division by zero, a
  threshold the metric can meet in the unit it is written in: ``signalops.strategy.thresholds``)
  are made for each combination, and any combination that fails them, or a parameter used anywhere
  else (a period ``rsi($n)``, a market), is compiled in full as before, so a bad value fails
  exactly as it would in the file. ``SweepRow.strategy`` compiles a combination when asked;
- the inputs are computed once per distinct set of metrics, a leaf once per distinct set of
  constants (``vectorized.SeriesEvaluator``), and fills and marks once per sweep;
- the position is played in Python only through the decisions that change it (a BUY while flat,
  a SELL while long), found with numpy; the curve, drawdown and Sharpe are numpy passes.

``sweep`` is ``CompiledGrid`` (the combinations, each compiled when asked) and ``Screen`` (one
asset over one period, what the combinations share) put together. ``signalops.research`` uses
the same two to screen chunks of a grid as tasks, in this process or on a Ray cluster; a task
sends back ``SweepRow`` (the scores), not the ``SweepRun`` with its curves.

THIS IS A FAST SCREEN, NOT A BACKTEST. It has no risk gate (no limits, cool-downs or kill
switch), no position sizing (one all-in entry per signal, ignoring ``execution.position_size``:
a BUY while long adds nothing, where the backtest buys ``position_size`` at every BUY up to
``max_position``, so their trades and win rates differ), no confirmation
rounds, no approvals and no audit log, and it computes in float64 rather than the paper broker's
Decimal. The technical fast path also warms recursive indicators up over the whole history (see
``signalops.evaluation.vectorized``). Its numbers are therefore *not* those of
``signalops backtest``: use it to pick candidates, then confirm them with the event-driven backtest.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cached_property, partial
from typing import Any

import numpy as np

from signalops.adapters import registry
from signalops.adapters.snapshots import SnapshotStore
from signalops.adapters.technical import SOURCE
from signalops.backtest.bars import Bars
from signalops.backtest.clock import (
    not_before,
    session_decisions,
    session_periods_per_year,
    stepped_seconds,
    window_end,
)
from signalops.backtest.coverage import end_note, start_note
from signalops.backtest.metrics import (
    WinRate,
    exposure,
    max_drawdown_depth,
    period_returns,
    periods_per_year,
    sharpe,
    total_return,
)
from signalops.backtest.runner import _check_coverage, _check_input, candle_timeframe
from signalops.canonical import iso
from signalops.catalogue import installed
from signalops.catalogue.builtin import POLYMARKET
from signalops.catalogue.spec import Catalogue, format_duration
from signalops.config import PaperConfig
from signalops.errors import InputError, StrategyError
from signalops.evaluation.nodes import Arith, Const, Neg, Node, Operand, Predicate, Span
from signalops.evaluation.tree import DecisionTree
from signalops.evaluation.vectorized import (
    BLOCKED,
    BUY,
    REASONS,
    SELL,
    UNKNOWN,
    SeriesEvaluator,
    SeriesResult,
    inputs_from_adapters,
    technical_inputs,
)
from signalops.numbers import counted
from signalops.observation import utc
from signalops.pipeline.loop import simulated_times
from signalops.strategy import loads
from signalops.strategy.compiler import _param_text
from signalops.strategy.literals import parse_number
from signalops.strategy.model import Strategy
from signalops.strategy.thresholds import refused
from signalops.venues import Venues

__all__ = [
    "AlwaysUnknown",
    "CompiledGrid",
    "Screen",
    "SweepRow",
    "SweepRun",
    "SweepTrade",
    "always_unknown",
    "check_grid",
    "check_inputs",
    "data_notes",
    "decision_times",
    "format_value",
    "grid_combinations",
    "grid_warnings",
    "parse_grid",
    "parse_grid_value",
    "plain_document",
    "simulate",
    "sweep",
    "with_params",
]

_PAPER = PaperConfig()
STARTING_CASH = float(_PAPER.starting_cash)


# --- the grid ------------------------------------------------------------------------------------


def parse_grid_value(text: str) -> int | float | str:
    """A value as a threshold reads it: '30' -> 30, '1.5k' -> 1500, '-1B', '5%' -> '5%'.

    Whole numbers become ints (so a value can also serve as a period). A percent stays the
    text it is, as YAML reads ``oversold: 30%`` in a file: the compiler checks a threshold's
    unit as written (``rsi(14) < 30%`` is refused, ``rsi(14) < 0.3`` is not), and the table
    shows it as written. Anything else that is not a number (a duration such as '4h', a word)
    stays the string it is too.
    """
    text = text.strip()
    number = parse_number(text)
    if number is None or text.endswith("%"):
        return text
    return int(number) if number.is_integer() else number


def format_value(value: Any) -> str:
    """A grid value as a threshold would be written: 30, 0.05, 1.5k, -1B, 4h."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    for suffix, scale in (("T", 10**12), ("B", 10**9), ("M", 10**6), ("k", 10**3)):
        if abs(value) >= scale and float(value * 10 / scale).is_integer():  # 1k, 1.5k
            return f"{value / scale:g}{suffix}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def parse_grid(specs: Sequence[str]) -> dict[str, list[Any]]:
    """``["oversold=25,30", "exit=55"]`` -> ``{"oversold": [25, 30], "exit": [55]}``.

    A leading ``$`` on the name is allowed (``$oversold=25``). Repeated values are kept once.
    """
    grid: dict[str, list[Any]] = {}
    for spec in specs:
        name, sep, values = spec.partition("=")
        name = name.strip().removeprefix("$")
        if not sep or not name:
            raise InputError(f"--grid '{spec}': expected NAME=V1,V2,... (e.g. oversold=25,30)")
        if name in grid:
            raise InputError(f"--grid: parameter '{name}' given twice")
        texts = [v.strip() for v in values.split(",")]
        if not values.strip() or any(not v for v in texts):
            raise InputError(f"--grid '{spec}': empty value (expected NAME=V1,V2,...)")
        parsed: list[Any] = []
        for value in map(parse_grid_value, texts):
            if value not in parsed:
                parsed.append(value)
        grid[name] = parsed
    return grid


def grid_combinations(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, the first name varying slowest."""
    names = list(grid)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*grid.values())]


# --- recompiling ---------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A document (mapping proxies, tuples) as plain JSON data."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def plain_document(strategy: Strategy) -> dict[str, Any]:
    """The strategy's document as plain JSON data (what a sweep task carries)."""
    return _plain(strategy.document)


def _document(source: str | Mapping[str, Any] | Strategy, catalogue: Catalogue) -> dict[str, Any]:
    if isinstance(source, Strategy):
        return _plain(source.document)
    if isinstance(source, str):
        return _plain(loads(source, catalogue=catalogue).document)
    return _plain(source)


def with_params(
    document: Mapping[str, Any],
    params: Mapping[str, Any],
    catalogue: Catalogue,
    file: str = "<sweep>",
) -> Strategy:
    """Compile ``document`` with ``strategy.params`` entries replaced by ``params``."""
    doc = _plain(document)
    _check_names(doc, params)
    spec = doc.get("strategy")
    assert isinstance(spec, dict)
    known = dict(spec.get("params") or {})
    # A param written as a string ("511754", a market id) stays a string: a grid value read as
    # a number goes back in as its text, which a numeric use parses again the same way.
    spec["params"] = {
        **known,
        **{
            name: format_value(value) if isinstance(known[name], str) else value
            for name, value in params.items()
        },
    }
    label = ", ".join(f"{k}={v}" for k, v in params.items())
    # JSON is YAML: the compiler checks the new values exactly as it checks a file. Its errors
    # point into that JSON text, so they are restated without the position.
    try:
        return loads(json.dumps(doc), file, catalogue)
    except StrategyError as exc:
        problems = "; ".join(map(_problem, exc.errors))
        raise InputError(f"{file} with {label}: {problems}") from None


def _problem(error: StrategyError) -> str:
    """A compiler's problem without its position (which points into the JSON of a document
    ``with_params`` made, not into the file)."""
    return f"{error.path + ': ' if error.path else ''}{error.message}" + (
        f" ({error.hint})" if error.hint else ""
    )


def grid_warnings(
    strategy: Strategy,
    grid: Mapping[str, Sequence[Any]],
    catalogue: Catalogue,
    file: str,
    unrecorded: Callable[[set[str]], Mapping[str, str]] | None = None,
) -> list[str]:
    """``NAME=VALUE: FILE: PROBLEM`` for each warning ``validate`` would give of a grid value
    in the file, in grid order: the compiler's, not of the file itself (``validate`` shows
    those), of a value that looks written in another unit (``oversold=0.3`` on rsi, a 0-100
    scale), which the sweep screens as written; and, with ``unrecorded`` (``validate``'s check
    of the data folder: market -> problem for the Polymarket markets no data is recorded of),
    of a value that names such a market (``election_market=511745``), whose conditions the
    sweep finds UNKNOWN at every bar. Each value is compiled alone with the strategy's other
    params (about a millisecond each); one that fails alone is left to the sweep, which lists
    it."""
    own = {_problem(warning) for warning in strategy.warnings}
    known = dict(strategy.params)
    found: list[tuple[str, str, list[str], list[str]]] = []  # NAME=VALUE, name, problems, markets
    for name, values in grid.items():
        if name not in known:  # the sweep names the strategy's params
            continue
        for value in values:
            try:
                compiled = with_params(strategy.document, {name: value}, catalogue, file)
            except InputError:
                continue
            problems = [_problem(w) for w in compiled.warnings if _problem(w) not in own]
            markets = _markets_named(compiled, _inserted(known[name], value))
            found.append((f"{name}={format_value(value)}", name, problems, markets))
    wanted = {market for *_, markets in found for market in markets}
    missing = unrecorded(wanted) if unrecorded is not None and wanted else {}
    return [
        f"{given}: {file}: {problem}"
        for given, name, problems, markets in found
        for problem in [
            *problems,
            *(f"params.{name}: {missing[m]}" for m in markets if m in missing),
        ]
    ]


def _markets_named(strategy: Strategy, value: Any) -> list[str]:
    """The Polymarket markets ``strategy``'s conditions name that are ``value``: those a param
    given that value names (``market: $election_market``)."""
    text = str(value)
    found = {
        str(market)
        for leaf in strategy.tree.leaves()
        for metric in leaf.metrics
        if metric.source == POLYMARKET.source
        and str(market := dict(metric.params).get("market")) == text
    }
    return sorted(found)


def _check_names(document: Mapping[str, Any], params: Iterable[str]) -> None:
    """``InputError`` naming the params the strategy does not have, and those it has."""
    spec = document.get("strategy")
    known = (spec.get("params") or {}) if isinstance(spec, Mapping) else {}
    unknown = [name for name in params if name not in known]
    if unknown:
        listed = ", ".join(sorted(known)) if known else "none (it has no params: section)"
        raise InputError(
            f"unknown parameter{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(u) for u in unknown)}: the strategy's params are {listed}"
        )


# --- compiling once --------------------------------------------------------------------------


def _inserted(original: Any, value: Any) -> Any:
    """The value ``with_params`` writes into the document for a param written as ``original``."""
    return format_value(value) if isinstance(original, str) else value


def _number(original: Any, value: Any) -> float | None:
    """The constant a ``$param`` with ``value`` compiles to (the compiler's ``param_number``), or
    None when the compiler would refuse it or the value is not a plain number or string."""
    value = _inserted(original, value)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    if isinstance(value, str):
        return parse_number(value)
    try:
        number = float(value)
    except OverflowError:  # an int beyond a float (10**400)
        return None
    return number if math.isfinite(number) else None


_NOWHERE = Span("", 0, 0)


def _skeleton(node: Node, found: dict[int, list[Const]]) -> Node | None:
    """``node`` without what a parameter's value may change in it (texts, spans, constants),
    the constants of each leaf collected in ``leaf_constants`` order; None for a node type
    this module does not know."""
    if isinstance(node, Predicate):
        values = found[node.index] = []
        return _replace(
            node,
            left=_bare(node.left, values),
            right=tuple(_bare(r, values) for r in node.right),
        )
    kids = [_skeleton(child, found) for child in node.children]
    if any(kid is None for kid in kids):
        return None
    if hasattr(node, "items"):
        return _replace(node, items=tuple(kids))
    if hasattr(node, "item"):
        return _replace(node, item=kids[0])
    return None


def _replace(node: Node, **changes: Any) -> Node:
    return replace(node, text="", span=_NOWHERE, **changes)


def _bare(operand: Operand, values: list[Const]) -> Operand:
    # The walk of ``leaf_constants``: left before right, depth first.
    if isinstance(operand, Const):
        values.append(operand)
        return Const(0.0, "")
    if isinstance(operand, Neg):
        return Neg(_bare(operand.operand, values))
    if isinstance(operand, Arith):
        return Arith(operand.op, _bare(operand.left, values), _bare(operand.right, values))
    return operand


def _skeletons(tree: DecisionTree) -> tuple[Any, dict[int, list[Const]]] | None:
    found: dict[int, list[Const]] = {}
    roots = [tree.entry, tree.exit, *(v.node for v in tree.vetoes)]
    shapes = [None if root is None else _skeleton(root, found) for root in roots]
    if any(shape is None for shape, root in zip(shapes, roots, strict=True) if root is not None):
        return None
    vetoes = tuple((v.id, v.blocks, v.description) for v in tree.vetoes)
    return (tuple(shapes), vetoes), found


def _checks(node: Predicate) -> tuple[list[tuple[int, int]], list[int]]:
    """Where the compiler checks a constant's value, as places in ``leaf_constants``: the
    ``between`` ranges of two constants (low <= high) and the constant divisors (not zero)."""
    ranges: list[tuple[int, int]] = []
    divisors: list[int] = []
    count = 0

    def walk(operand: Operand) -> None:
        nonlocal count
        if isinstance(operand, Const):
            count += 1
        elif isinstance(operand, Neg):
            walk(operand.operand)
        elif isinstance(operand, Arith):
            walk(operand.left)
            if operand.op == "/" and isinstance(operand.right, Const):
                divisors.append(count)
            walk(operand.right)

    walk(node.left)
    if node.op == "between" and all(isinstance(r, Const) for r in node.right):
        ranges.append((count, count + 1))
    for operand in node.right:
        walk(operand)
    return ranges, divisors


@dataclass(frozen=True)
class _Template:
    """A compiled tree whose constants follow the params: per leaf, for each constant in
    ``leaf_constants`` order, the param it is (and whether negated), or None for a literal."""

    tree: DecisionTree
    originals: Mapping[str, Any]  # the params as the file writes them
    varying: tuple[str, ...]  # the params whose value differs between combinations
    slots: Mapping[int, tuple[tuple[str, bool] | None, ...]]
    compiled: Mapping[int, tuple[Const, ...]]  # the constants the tree was compiled with
    checks: Mapping[int, tuple[list[tuple[int, int]], list[int]]]
    leaves: Mapping[int, Predicate]  # for the threshold checks (``thresholds.refused``)

    def constants(self, params: Mapping[str, Any]) -> dict[int, tuple[float, ...]] | None:
        """The constants of every leaf that reads a param, or None when the compiler would
        refuse a value (then the combination is compiled in full and fails as in the file)."""
        numbers: dict[str, Const] = {}
        for name in self.varying:  # used or not: the schema checks every param's value
            inserted = _inserted(self.originals[name], params[name])
            number = _number(self.originals[name], params[name])
            if number is None:
                return None
            numbers[name] = Const(number, _param_text(inserted, number))
        leaves = {}
        for index, slots in self.slots.items():
            constants = tuple(
                compiled if slot is None else _signed(numbers[slot[0]], slot[1])
                for compiled, slot in zip(self.compiled[index], slots, strict=True)
            )
            values = tuple(const.value for const in constants)
            ranges, divisors = self.checks[index]
            if any(values[low] > values[high] for low, high in ranges):
                return None
            if any(values[i] == 0 for i in divisors):
                return None
            if refused(self.leaves[index], constants):
                return None
            leaves[index] = values
        return leaves


def _signed(const: Const, negated: bool) -> Const:
    """``-$x`` as the compiler makes it of ``$x``."""
    return Const(-const.value, f"-{const.text}") if negated else const


def _template(
    document: Mapping[str, Any],
    grid: Mapping[str, Sequence[Any]],
    base: Strategy,
    compile_with: Callable[[Mapping[str, Any]], Strategy],
) -> _Template | None:
    """Compile a second combination and compare its tree with ``base`` (the first one's): a
    template when the params that vary change nothing but constants equal to their values."""
    spec = document.get("strategy")
    originals = dict(spec.get("params") or {}) if isinstance(spec, Mapping) else {}
    first = {name: values[0] for name, values in grid.items()}
    probe = dict(first)
    starts: dict[str, float] = {}
    seconds: dict[str, float] = {}
    for name, values in grid.items():
        if len({repr(_inserted(originals.get(name), v)) for v in values}) == 1:
            continue  # one value as the file will read it: the same in every combination
        number = partial(_number, originals.get(name))
        start = number(first[name])
        # The second tree takes another value of each param that varies: one of the grid's,
        # so the second tree is one of the combinations.
        other = next((v for v in values if number(v) not in (None, start)), None)
        second_number = None if other is None else number(other)
        if start is None or second_number is None:
            return None
        starts[name], seconds[name], probe[name] = start, second_number, other
    try:
        second = compile_with(probe)
    except Exception:
        return None  # the full compile of each combination raises it, in grid order
    shapes = _skeletons(base.tree), _skeletons(second.tree)
    if shapes[0] is None or shapes[1] is None or shapes[0][0] != shapes[1][0]:
        return None
    if base.assets != second.assets:
        return None
    # What the tree asks the sources for must not follow a param either: a hit-rate vote's
    # request carries its voted condition, constants and all (the template would screen every
    # combination with the first one's hit rates).
    if any(base.tree.requests(a) != second.tree.requests(a) for a in base.assets):
        return None
    compiled, changed = shapes[0][1], shapes[1][1]
    slots: dict[int, tuple[tuple[str, bool] | None, ...]] = {}
    for index, values in compiled.items():
        pairs = zip(values, changed[index], strict=True)
        places = [_slot(a.value, b.value, starts, seconds) for a, b in pairs]
        if any(place == () for place in places):
            return None  # a constant computed from a param, or two params alike
        if any(places):
            slots[index] = tuple(place or None for place in places)
    leaves = {n.index: n for n in base.tree.nodes if isinstance(n, Predicate)}
    return _Template(
        base.tree,
        originals,
        tuple(starts),
        slots,
        {i: tuple(compiled[i]) for i in slots},
        {i: _checks(leaves[i]) for i in slots},
        {i: leaves[i] for i in slots},
    )


def _slot(
    a: float, b: float, starts: Mapping[str, float], seconds: Mapping[str, float]
) -> tuple[str, bool] | tuple[()] | None:
    """What a constant compiled as ``a`` in the first tree and ``b`` in the second is: None for
    a literal (the same in both), (param, negated), or () when no single param explains it."""
    if a == b and math.copysign(1, a) == math.copysign(1, b):
        return None
    found = [(n, False) for n in starts if (a, b) == (starts[n], seconds[n])]
    found += [(n, True) for n in starts if (a, b) == (-starts[n], -seconds[n])]
    return found[0] if len(found) == 1 else ()


@dataclass(frozen=True)
class _Combination:
    params: Mapping[str, Any]
    tree: DecisionTree
    constants: Mapping[int, tuple[float, ...]] | None  # None: the tree's own
    strategy: Callable[[], Strategy]


class CompiledGrid:
    """Every combination of a grid, in grid order, each compiled when asked.

    The first combination is compiled in full when the grid is made, and a second one to find
    the template (see the module docstring); any other combination is then the template's tree
    with its constants, or (when the template cannot take its values) compiled in full. A bad
    value raises ``InputError`` as ``with_params`` does, when that combination is asked for, so a
    task screening part of a grid fails only for its own bad values.
    """

    def __init__(
        self,
        document: Mapping[str, Any],
        grid: Mapping[str, Sequence[Any]],
        catalogue: Catalogue,
        file: str,
    ) -> None:
        self.points = grid_combinations(grid)
        self._compile = partial(_compile, document, catalogue=catalogue, file=file)
        self._base: Strategy | Exception
        try:
            self._base = self._compile(self.points[0])
        except Exception as exc:  # raised again when the first combination is asked for
            self._base = exc
        self._template = None
        if isinstance(self._base, Strategy) and len(self.points) > 1:
            self._template = _template(document, grid, self._base, self._compile)

    def __len__(self) -> int:
        return len(self.points)

    def combination(self, index: int) -> _Combination:
        params = self.points[index]
        if index == 0:
            if isinstance(self._base, Exception):
                raise self._base
            return _Combination(params, self._base.tree, None, partial(_same, self._base))
        template = self._template
        constants = template.constants(params) if template else None
        if template is not None and constants is not None:
            return _Combination(params, template.tree, constants, partial(self._compile, params))
        strategy = self._compile(params)
        return _Combination(params, strategy.tree, None, partial(_same, strategy))


def _compile(
    document: Mapping[str, Any], params: Mapping[str, Any], *, catalogue: Catalogue, file: str
) -> Strategy:
    return with_params(document, params, catalogue, file)


def _same(strategy: Strategy) -> Strategy:
    return strategy


# --- the position --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepTrade:
    """One long round trip. Bars are indices into the decision times; prices are raw opens."""

    entry_bar: int  # the decision time that said BUY
    entry_time: datetime  # the open time of the bar it filled at
    entry_open: float  # that bar's open (before slippage)
    entry_price: float  # open x (1 + slippage)
    quantity: float
    cost: float  # what the position cost, fee included
    exit_bar: int | None = None
    exit_time: datetime | None = None
    exit_open: float | None = None
    exit_price: float | None = None  # open x (1 - slippage)
    proceeds: float | None = None  # what the sale brought, fee deducted

    @property
    def closed(self) -> bool:
        return self.exit_bar is not None

    @property
    def pnl(self) -> float | None:
        return None if self.proceeds is None else self.proceeds - self.cost

    @property
    def ret(self) -> float | None:
        return None if self.proceeds is None else self.proceeds / self.cost - 1


@dataclass(frozen=True)
class Simulation:
    equity: np.ndarray  # one point per decision time, after its fills, marked at t + every
    held: np.ndarray  # bool: a position was held during the period after that decision time
    fees: float
    fills: _Fills = field(repr=False, compare=False)

    @cached_property
    def trades(self) -> tuple[SweepTrade, ...]:
        """The round trips, in order (the last one open if a position is still held)."""
        return self.fills.trades()


@dataclass(frozen=True)
class _Fills:
    """The orders that moved the position, alternately BUY and SELL, as plain columns: the
    ``SweepTrade`` objects (with a datetime per fill) are only made when someone asks."""

    bars: Bars
    orders: list[int]  # decision time indices
    fill_bars: np.ndarray  # the bar each order filled at
    opens: list[float]  # that bar's open
    prices: list[float]  # the open with slippage
    cash: list[float]  # cash at the start, then after each order
    quantity: list[float]  # quantity held at the start (0), then after each order

    @property
    def closed(self) -> int:
        return len(self.orders) // 2

    @property
    def open_trade(self) -> bool:
        return len(self.orders) % 2 == 1

    def wins(self) -> int:
        """Closed round trips with a profit after fees (proceeds - cost > 0)."""
        cash = np.array(self.cash)
        trips = self.closed
        return int(np.count_nonzero(cash[2 : 2 * trips + 1 : 2] - cash[0 : 2 * trips : 2] > 0))

    def trades(self) -> tuple[SweepTrade, ...]:
        starts = self.bars.open_time[self.fill_bars].tolist()
        times = [datetime.fromtimestamp(float(t), UTC) for t in starts]
        o, opens, prices, cash = self.orders, self.opens, self.prices, self.cash
        out = []
        for j in range(0, len(o), 2):
            entry = (o[j], times[j], opens[j], prices[j], self.quantity[j + 1], cash[j])
            if j + 1 < len(o):
                exit_ = (o[j + 1], times[j + 1], opens[j + 1], prices[j + 1], cash[j + 2])
                out.append(SweepTrade(*entry, *exit_))
            else:
                out.append(SweepTrade(*entry))
        return tuple(out)


@dataclass(frozen=True)
class _Prices:
    """Where each decision time fills and is marked, the same for every combination."""

    bars: Bars
    fill_bar: np.ndarray  # the bar t fills at (``Bars.fill_bars``); len(bars) when none
    marks: np.ndarray  # the last close at or before t + every (0 before the first close)

    @classmethod
    def of(cls, bars: Bars, times: np.ndarray, step: float, until: float | None = None) -> _Prices:
        """``until``: where the last periods end at the latest (``clock.period_ends``)."""
        fill_bar = bars.fill_bars(times)  # as Bars.next_open
        if not bars.points and len(bars):
            # As in the backtest, whose risk gate has no price to size an order with before the
            # first close (NO_PRICE): such a decision does not fill at a later bar's open.
            fill_bar = np.where(times < bars.close_time[0], len(bars), fill_bar)
        ends = times + step if until is None else np.minimum(times + step, until)
        mark_bar = np.searchsorted(bars.close_time, ends, side="right") - 1
        marks = np.where(mark_bar >= 0, bars.close[np.maximum(mark_bar, 0)], np.nan)
        return cls(bars, fill_bar, np.nan_to_num(marks))


def simulate(
    verdicts: np.ndarray,
    times: np.ndarray,
    bars: Bars,
    step: float,
    *,
    fee_bps: float,
    slippage_bps: float,
    cash: float = STARTING_CASH,
    until: float | None = None,
) -> Simulation:
    """Play a long-only, all-in position through ``verdicts`` (codes of ``vectorized.VERDICTS``).

    ``times`` are the decision times (Unix seconds), ``step`` the period length in seconds,
    ``until`` where the last periods end at the latest (``clock.period_ends``).
    """
    prices = _Prices.of(bars, np.asarray(times, dtype=np.float64), step, until)
    return _play(np.asarray(verdicts), prices, fee_bps / 10_000, slippage_bps / 10_000, cash)


def _play(
    verdicts: np.ndarray, prices: _Prices, fee: float, slip: float, cash: float
) -> Simulation:
    bars, n = prices.bars, len(prices.fill_bar)
    orders = np.flatnonzero((verdicts == BUY) | (verdicts == SELL))
    fills = prices.fill_bar[orders]
    # No bar to fill at (the data ends, or an outcome's first price is still to come): the
    # order fails, as in the backtest.
    orders, fills = orders[fills < len(bars)], fills[fills < len(bars)]
    codes = verdicts[orders]
    # Position after an order = that order's side (a BUY while long and a SELL while flat do
    # nothing), so an order acts exactly when it differs from the one before (flat: a SELL).
    acts = codes != np.concatenate(([SELL], codes))[:-1]
    orders, fills, buys = orders[acts], fills[acts], codes[acts] == BUY
    opens = bars.open[fills]
    paid = np.where(buys, opens * (1 + slip), opens * (1 - slip))  # what one unit fills at

    # Only the cash runs through Python, one step per order, in the order of the original
    # arithmetic (each fill's amount depends on the cash the previous one left).
    cash_at, qty_at = [cash], [0.0]  # from the start, then from each order on
    quantity, fees = 0.0, 0.0
    for buy, price in zip(buys.tolist(), paid.tolist(), strict=True):
        if buy:
            quantity = cash / (price * (1 + fee))
            fees += quantity * price * fee
            cash = 0.0
        else:
            notional = quantity * price
            fees += notional * fee
            cash = notional * (1 - fee)
            quantity = 0.0
        cash_at.append(cash)
        qty_at.append(quantity)

    # Each decision time holds the state after the last order at or before it.
    lengths = np.diff(np.concatenate(([0], orders, [n])))
    qty = np.repeat(np.array(qty_at), lengths)
    held = qty > 0
    equity = np.repeat(np.array(cash_at), lengths) + np.where(held, qty * prices.marks, 0.0)
    record = _Fills(bars, orders.tolist(), fills, opens.tolist(), paid.tolist(), cash_at, qty_at)
    return Simulation(equity, held, fees, record)


# --- the sweep -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlwaysUnknown:
    """A condition UNKNOWN at every decision time of a screen: it never passed (a veto on it
    blocked every entry), which a row of 0 trades alone would not say."""

    metrics: str  # what it reads, as written: ``polymarket('511745').yes``
    source: str
    reasons: tuple[str, ...]  # why (``vectorized.REASONS``), the most frequent first
    decisions: int  # all of them

    def __str__(self) -> str:
        return (
            f"{self.metrics} ({self.source}) was UNKNOWN at all "
            f"{counted(self.decisions, 'decision')}: {', '.join(self.reasons)}"
        )


@dataclass(frozen=True)
class SweepRow:
    """One combination of parameter values and the scores the fast screen gave it: what the
    table shows, small and picklable (what a sweep task sends back; see ``SweepRun`` for the
    curves and trades behind it)."""

    params: Mapping[str, Any]
    total_return: float
    max_drawdown: float  # <= 0
    sharpe: float | None
    win_rate: WinRate  # of closed round trips
    exposure: float
    blocked: int  # decision times whose verdict was BLOCKED
    fees: float
    open_trade: bool  # a position is still held at the end
    # Conditions UNKNOWN at every decision time (the data is missing), in the tree's order.
    unknown: tuple[AlwaysUnknown, ...] = field(default=(), kw_only=True)

    @property
    def closed_trades(self) -> int:
        return self.win_rate.trades


@dataclass(frozen=True)
class SweepRun(SweepRow):
    """A row with what produced it: the decision times, verdicts, equity curve and trades."""

    times: np.ndarray  # decision times, Unix seconds
    verdicts: np.ndarray  # vectorized verdict codes, one per decision time
    equity: np.ndarray  # after each decision time (the starting cash precedes it)
    simulation: Simulation = field(repr=False, compare=False)
    compile_strategy: Callable[[], Strategy] = field(repr=False, compare=False)

    @cached_property
    def strategy(self) -> Strategy:
        """The strategy with these params, compiled (once) when asked."""
        return self.compile_strategy()

    @property
    def trades(self) -> tuple[SweepTrade, ...]:
        return self.simulation.trades

    def row(self) -> SweepRow:
        """The scores alone."""
        return SweepRow(**{f.name: getattr(self, f.name) for f in fields(SweepRow)})


def sweep(
    strategy_text_or_document: str | Mapping[str, Any] | Strategy,
    *,
    grid: Mapping[str, Sequence[Any]],
    store: SnapshotStore,
    asset: str | None = None,
    start: datetime,
    end: datetime,
    every: timedelta | None = None,
    fee_bps: float | Decimal = _PAPER.fee_bps,
    slippage_bps: float | Decimal = _PAPER.slippage_bps,
    catalogue: Catalogue | None = None,
    venues: Venues | None = None,
) -> list[SweepRun]:
    """Screen every combination of ``grid`` (param name -> values); rows in grid order.

    ``strategy_text_or_document`` is strategy YAML text, a strategy document (the content of a
    file, as ``Strategy.document``) or a compiled ``Strategy``. ``asset`` defaults to the
    strategy's first; ``venues`` says which venue's candles serve it (default: Binance,
    ``BASE/USDT``). A fast screen, not a backtest: see the module docstring.
    """
    catalogue = catalogue or installed.catalogue()
    document = _document(strategy_text_or_document, catalogue)
    check_grid(document, grid)
    file = strategy_text_or_document.file if isinstance(strategy_text_or_document, Strategy) else ""
    compiled = CompiledGrid(document, grid, catalogue, file or "<sweep>")
    # Every combination before any data is read: a bad value fails first, as in the file.
    combinations = [compiled.combination(i) for i in range(len(compiled))]

    first = combinations[0].strategy()
    asset = asset or (first.assets[0] if first.assets else None)
    start, end = utc(start), utc(end)
    timeframe = candle_timeframe(first)
    step = every or timedelta(seconds=timeframe)
    _check_input(start, end, step, "next_open", (asset,) if asset else ())
    assert asset is not None
    screen = Screen(
        store,
        asset,
        timeframe,
        start,
        end,
        step,
        fee_bps=fee_bps,
        slippage_bps=slippage_bps,
        venues=venues,
    )
    return [screen.run(combination) for combination in combinations]


def check_grid(document: Mapping[str, Any], grid: Mapping[str, Sequence[Any]]) -> None:
    """``InputError`` for a grid no combination of which can be screened: no parameters, a
    parameter without values, a name the strategy's ``params`` do not have."""
    if not grid:
        raise InputError("an empty grid: give at least one parameter and its values")
    empty = [name for name, values in grid.items() if not list(values)]
    if empty:
        raise InputError(f"no values for parameter '{empty[0]}'")
    _check_names(document, grid)


def check_inputs(
    store: SnapshotStore,
    assets: Sequence[str],
    timeframe: int,
    start: datetime,
    end: datetime,
    step: timedelta,
    venues: Venues | None = None,
) -> dict[str, Bars]:
    """The errors ``sweep`` raises before it screens anything, for each of ``assets``: a
    reversed period, a step that is not positive, an asset without candles covering the period
    (``DataNotFound``, with the command that provides them). Returns each asset's candles."""
    _check_input(start, end, step, "next_open", tuple(assets))
    found = {}
    for asset in assets:
        found[asset] = Bars.load(store, asset, timeframe, venues)
        _check_coverage({asset: found[asset]}, start, end)
    return found


def data_notes(bars: Bars, times: np.ndarray) -> tuple[str, ...]:
    """What a backtest at the decision times ``times`` (Unix seconds) says of the data of
    ``bars`` (``coverage``): that it starts after the first or ends before the last, and how many
    decisions could price no order. The screen fills and marks as the backtest does there (no
    order fills; the position is cash before the data and valued at the last close after it)."""
    if not len(times):
        return ()
    first, last = (datetime.fromtimestamp(float(t), UTC) for t in (times[0], times[-1]))
    found = (start_note(bars, first, times), end_note(bars, last, times))
    return tuple(note for note in found if note is not None)


class Screen:
    """One asset over one period, ready to screen any combination of a grid.

    What every combination shares is made once: the candles, the decision times, where each
    fills and is marked; the inputs once per distinct set of metrics the trees read (a changed
    threshold changes no input: the adapter path, which asks the adapters once per bar, then
    runs once per distinct set of requests instead of per row); an evaluator once per tree.
    Raises ``DataNotFound`` when the asset has no candles covering the period.
    """

    def __init__(
        self,
        store: SnapshotStore,
        asset: str,
        timeframe: int,
        start: datetime,
        end: datetime,
        step: timedelta,
        *,
        fee_bps: float | Decimal = _PAPER.fee_bps,
        slippage_bps: float | Decimal = _PAPER.slippage_bps,
        venues: Venues | None = None,
        until: datetime | None = None,
    ) -> None:
        self.store, self.asset, self.venues = store, asset, venues
        # Where the last periods end at the latest: the close of the candle opening at ``end``
        # (a backtest's ``--to``), or a walk-forward window's own end; and not before the last
        # decision's fill is marked (a stock's Saturday decision fills on Monday).
        bars = Bars.load(store, asset, timeframe, venues)
        _check_coverage({asset: bars}, start, end)
        sessions = (venues or Venues()).in_sessions([asset])
        self.times = _decision_times(start, end, step, sessions)
        if not len(self.times):
            raise InputError(
                f"no US equity session opens from {iso(start)} to {iso(end + step)}: "
                f"{asset} cannot be traded in that period"
            )
        filled = bars.fill_close(datetime.fromtimestamp(float(self.times[-1]), UTC))
        until = not_before(window_end(end, timeframe) if until is None else until, [filled])
        self.prices = _Prices.of(bars, self.times, step.total_seconds(), until.timestamp())
        self.per_year = periods_a_year(self.times, step, sessions, until)
        self.fee, self.slip = float(fee_bps) / 10_000, float(slippage_bps) / 10_000
        self._adapters: dict[str, Any] | None = None
        self._inputs: dict[Any, Any] = {}
        self._evaluators: dict[int, SeriesEvaluator] = {}

    def run(self, combination: _Combination) -> SweepRun:
        """Screen one combination (from ``CompiledGrid.combination``)."""
        result = self._evaluator(combination).evaluate(combination.constants)
        simulation = _play(result.verdicts, self.prices, self.fee, self.slip, STARTING_CASH)
        return _row(combination, result, simulation, self.per_year)

    def _evaluator(self, combination: _Combination) -> SeriesEvaluator:
        tree = combination.tree
        evaluator = self._evaluators.get(id(tree))
        # The evaluator keeps its tree alive, so an id in the table is never a new tree's; the
        # check says so where a screen outlives the grid it was first used with (a worker's).
        if evaluator is None or evaluator.tree is not tree:
            key = tree.requests(self.asset)
            if key not in self._inputs:
                self._inputs[key] = self._read_inputs(combination.strategy())
            evaluator = SeriesEvaluator(tree, self._inputs[key], self.times)
            self._evaluators[id(tree)] = evaluator
        return evaluator

    def _read_inputs(self, strategy: Strategy) -> Any:
        if all(m.source == SOURCE for m in strategy.tree.metrics):  # as screen()
            return technical_inputs(
                self.store, strategy, self.asset, self.times, venues=self.venues
            )
        self._adapters = self._adapters or registry.replay_adapters(self.store, self.venues)
        return inputs_from_adapters(strategy, self.asset, self.times, self._adapters)


def _row(
    combination: _Combination, result: SeriesResult, sim: Simulation, per_year: float
) -> SweepRun:
    values = np.concatenate(([STARTING_CASH], sim.equity))
    verdicts = result.verdicts
    return SweepRun(
        params=dict(combination.params),
        times=result.times,
        verdicts=verdicts,
        equity=sim.equity,
        total_return=total_return(values),
        max_drawdown=max_drawdown_depth(values),
        sharpe=sharpe(period_returns(values), per_year),
        win_rate=WinRate.of(sim.fills.wins(), sim.fills.closed),
        exposure=exposure(sim.held),
        blocked=int(np.count_nonzero(verdicts == BLOCKED)),
        fees=sim.fees,
        open_trade=sim.fills.open_trade,
        unknown=always_unknown(result),
        simulation=sim,
        compile_strategy=combination.strategy,
    )


def always_unknown(result: SeriesResult) -> tuple[AlwaysUnknown, ...]:
    """The conditions UNKNOWN at every decision time of ``result``, each named by the metrics it
    reads (a template's leaf text holds the first combination's thresholds, its metrics do not);
    one entry for several that read the same metrics for the same reasons."""
    n = len(result)
    if not n:
        return ()
    found: dict[AlwaysUnknown, None] = {}
    for leaf in result.tree.leaves():
        if not np.all(result.statuses[leaf.index] == UNKNOWN):
            continue
        codes, counts = np.unique(result.reasons[leaf.index], return_counts=True)
        reasons = tuple(str(REASONS[int(codes[i])]) for i in np.argsort(-counts, kind="stable"))
        metrics = " and ".join(metric.render() for metric in leaf.metrics)
        found.setdefault(AlwaysUnknown(metrics, leaf.source, reasons, n))
    return tuple(found)


def decision_times(
    start: datetime, end: datetime, every: timedelta, sessions: bool = False
) -> np.ndarray:
    """The decision times of ``start`` to ``end`` (inclusive) every ``every``, Unix seconds:
    the backtest's clock (``runner.decision_times``; ``sessions``: of assets that trade only
    in sessions)."""
    return _decision_times(utc(start), utc(end), every, sessions)


def _decision_times(
    start: datetime, end: datetime, every: timedelta, sessions: bool = False
) -> np.ndarray:
    """``[m.timestamp() for m in runner.decision_times(start, end, every, sessions)]`` (UTC
    ``start`` and ``end``) as float64, without making a datetime per decision time."""
    found = stepped_seconds(start, every, (end - start) // every + 1)
    if found is None:  # beyond 2**53 microseconds: the exact way
        found = np.array([m.timestamp() for m in simulated_times(start, end, every)])
    if sessions:
        found = found[session_decisions(found, every.total_seconds())]
    return found


def periods_a_year(
    times: np.ndarray, every: timedelta, sessions: bool, until: datetime | None = None
) -> float:
    """The periods a year returns at the decision times ``times`` are annualised with (of
    assets that trade only in sessions: ``clock.session_periods_per_year``, the last period
    ending at ``until`` at the latest)."""
    if sessions and len(times):
        last = None if until is None else until.timestamp()
        return session_periods_per_year(times, every.total_seconds(), last)
    return periods_per_year(every)


def describe_period(start: datetime, end: datetime, every: timedelta) -> str:
    """``2022-01-01 .. 2024-12-31 every 1d``."""
    return f"{start:%Y-%m-%d} .. {end:%Y-%m-%d} every {format_duration(every.total_seconds())}"
