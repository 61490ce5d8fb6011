"""Thresholds a metric can never meet, or written in a unit the metric does not use.

The catalogue declares what values each metric can take (``MetricSpec.low``/``high``: rsi from 0
to 100, the price of a Polymarket outcome from 0 to 1) and its unit. A comparison of one metric
with constants (``rsi(14) < 30``, ``30 > rsi(14)``, ``yes between 35% and 65%``) is checked
against them; arithmetic, a metric against a metric, and metrics without a declared range are
left alone, so that a check never refuses a condition that could be meant.

- never true for any value in the range (``rsi(14) > 150``, ``yes > 60``): an error. Such a
  condition can never pass, so its rule never confirms (or its veto never blocks).
- always true with a constant outside the range (``yes < 60``): an error too. No value can fail
  it, so the author meant another unit (60%); a veto like this blocks every BUY. One that is
  always true only at a bound (``volume >= 0``) is left alone: it still fails when data is
  missing, which is how a condition can require data.
- a ``%`` threshold on a metric already scaled by 100 (``rsi(14) < 30%`` is 0.3 on a 0-100
  scale; ``debt_to_equity < 50%`` is 0.5 percent): an error. The unit written contradicts the
  unit declared; no reading of it is the one meant.
- a plain fraction on such a metric (``rsi(14) < 0.3``): a warning. It can be met, and a trader
  may mean it, but a fraction on a 0-100 scale is far more often a fraction meant as a percent.
- a percent compared with an amount (``close > 5%``, ``stablecoin_net_flow(...) < -5%``: 0.05 of
  a currency), or an amount's ``k``/``M``/``B``/``T`` compared with what is no amount
  (``return(7d) < 5B``): an error. A ratio may take either (``current_ratio > 150%``).
- a ``between`` of a probability or a fraction whose bounds are written in two units, one a
  percent and the other a plain number past the range (``yes between 35% and 65``): an error.
  The plain bound limits nothing (the range reads as ``yes >= 35%``); written like the other
  bound (65%) it is within the range, which is surely what was meant.
- a plain number under 1,000 compared with the size of a company, chain or stablecoin
  (``market_cap > 100``, ``chain_tvl("Ethereum") < 50``): a warning. It reads as dollars, which
  no such size is near, so it was surely written without its ``M`` or ``B``.
- two comparisons of the same metric (same source and arguments) with constants, both of which
  must pass (one ``all:`` group, one rule, one ``and``), whose ranges do not meet
  (``rsi(14) < 30 and rsi(14) > 70``, ``close < 100 and close >= 100``): a warning
  (``never_together``). Together they can never pass; each alone is a sound condition, so the
  file still compiles. Ends are exact: ``x <= 30 and x >= 30`` passes at 30, and is left alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial

from signalops.catalogue.spec import SCALED_UNITS, MetricSpec, scaled_value
from signalops.evaluation.nodes import Const, Metric, Operand, Predicate, render_operand

# x OP c read from the other side: c OP x is x MIRRORED c.
_MIRRORED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong with a comparison's thresholds; ``at`` is the operand to point at (0 is
    the left one, then the right ones in order)."""

    message: str
    at: int
    hint: str | None = None
    warning: bool = False


def check(left: Operand, op: str, right: Sequence[Operand]) -> Problem | None:
    """The problem of ``left op right`` (``right`` is (low, high) for ``between``), if any."""
    operands = (left, *right)
    metrics = [i for i, operand in enumerate(operands) if isinstance(operand, Metric)]
    if len(metrics) != 1 or not all(isinstance(operand, Metric | Const) for operand in operands):
        return None
    metric = operands[metrics[0]]
    assert isinstance(metric, Metric)
    spec = metric.spec
    if spec is None or (op == "between" and metrics[0] != 0):
        return None
    if (
        spec.low is None
        and spec.high is None
        and spec.unit not in SCALED_UNITS
        and spec.unit not in _AMOUNTS
        and spec.unit not in _NOT_AMOUNTS
    ):
        return None  # nothing to check against, at the cost of a test
    written = op
    if metrics[0] == 1:
        op = _MIRRORED[op]  # 30 > rsi(14) is rsi(14) < 30
    constants = [(i, operand) for i, operand in enumerate(operands) if isinstance(operand, Const)]
    text = partial(_text, operands, written)  # rendered only for a problem
    return (
        _wrong_suffix(spec, constants, text)
        or _out_of_range(spec, op, constants, text)
        or _wrong_scale(spec, constants, text)
        or _mixed_units(spec, op, constants, text)
        or _tiny_amount(spec, constants, text)
    )


def refused(leaf: Predicate, constants: Sequence[Const]) -> bool:
    """Whether the compiler refuses ``leaf`` with its constants replaced by ``constants`` (in
    the order ``left`` then ``right``; each with its text, as the compiler makes it from the
    value written, since ``30%`` and ``0.3`` are not checked alike): what a sweep asks of a
    value it does not compile."""
    replaced = iter(constants)
    operands = [
        next(replaced) if isinstance(operand, Const) else operand
        for operand in (leaf.left, *leaf.right)
    ]
    problem = check(operands[0], leaf.op, operands[1:])
    return problem is not None and not problem.warning


def _out_of_range(
    spec: MetricSpec, op: str, constants: list[tuple[int, Const]], text: Callable[[], str]
) -> Problem | None:
    values = [const.value for _, const in constants]
    can_pass, can_fail = _outcomes(spec.low, spec.high, op, values)
    outside = [(i, c) for i, c in constants if not _within(spec, c.value)]
    if can_pass and (can_fail or not outside):
        return None
    at = (outside or constants)[0][0]
    verdict = "never true" if not can_pass else "always true"
    return Problem(
        f"{text()} is {verdict}: {spec.name} is {spec.range_text()}",
        at,
        _percent_hint(spec, op, constants),
    )


def _percent_hint(spec: MetricSpec, op: str, constants: list[tuple[int, Const]]) -> str | None:
    """``did you mean 60%?`` where the constants outside the range, read as percents, give a
    condition that can both pass and fail: a probability or a fraction written in points."""
    if spec.unit not in ("probability", "fraction"):
        return None
    wrong = [c for _, c in constants if not _within(spec, c.value)]
    if any(c.text.strip().endswith("%") for c in wrong):
        return None
    values = [c.value / 100 if c in wrong else c.value for _, c in constants]
    if _outcomes(spec.low, spec.high, op, values) != (True, True):
        return None
    return f"did you mean {' and '.join(f'{c.value:g}%' for c in wrong)}?"


def _wrong_scale(
    spec: MetricSpec, constants: list[tuple[int, Const]], text: Callable[[], str]
) -> Problem | None:
    scale = SCALED_UNITS.get(spec.unit)
    if scale is None:
        return None
    for at, const in constants:
        written = const.text.strip()
        if written.endswith("%"):
            return Problem(
                f"{text()}: {spec.name} is {scale}, so {written} reads as "
                f"{scaled_value(spec.unit, const.value)}",
                at,
                f"did you mean {written.removesuffix('%')}?",
            )
    for at, const in constants:
        if 0 < abs(const.value) < 1:
            return Problem(
                f"{text()}: {spec.name} is {scale}, where {const.text} is under 1%",
                at,
                f"did you mean {const.value * 100:g}?",
                warning=True,
            )
    return None


# Units of amounts (money, shares, counts), which k/M/B/T scale and a percent is no value of
# (``close > 5%`` is a price above 0.05); and units no k/M/B/T amount is a value of
# (``return(7d) < 5B``, ``yes > 1k``). A ratio (``current_ratio > 150%``) may be either.
_AMOUNTS = frozenset({"USD", "quote currency", "base currency", "currency", "shares", "items"})
_NOT_AMOUNTS = frozenset({"fraction", "probability", "0-100", "percent", "z-score"})
_MAGNITUDES = ("k", "K", "M", "B", "T")


def _wrong_suffix(
    spec: MetricSpec, constants: list[tuple[int, Const]], text: Callable[[], str]
) -> Problem | None:
    """A percent compared with an amount, or an amount's k/M/B/T with what is no amount."""
    for at, const in constants:
        written = const.text.strip()
        if spec.unit in _AMOUNTS and written.endswith("%"):
            return Problem(
                f"{text()}: {spec.name} is an amount in {spec.unit}, so {written} reads as "
                f"{const.value:g} {spec.unit}",
                at,
                "a percent is for fractions and probabilities: compare a change with "
                "return(...) or chain_tvl_change(...), or write the amount",
            )
        if spec.unit in _NOT_AMOUNTS and written.endswith(_MAGNITUDES):
            kind = _KIND_OF.get(spec.unit, f"in {spec.unit}")
            return Problem(
                f"{text()}: {spec.name} is {kind}, not an amount, so {written} reads as "
                f"{const.value:,.0f}",
                at,
                "k, M, B and T are for amounts: USD, shares, volumes",
            )
    return None


_KIND_OF = {
    "fraction": "a fraction (0.05 = 5%)",
    "probability": "a probability (0 to 1)",
    "0-100": "on a 0-100 scale",
    "percent": "in percent",
    "z-score": "a z-score",
}


def _mixed_units(
    spec: MetricSpec, op: str, constants: list[tuple[int, Const]], text: Callable[[], str]
) -> Problem | None:
    """``yes between 35% and 65``: one bound a percent, the other a plain number past the range
    that, read as a percent too, is within it."""
    if op != "between" or spec.unit not in ("probability", "fraction"):
        return None
    percents = [c for _, c in constants if _percent(c)]
    plain = [(at, c) for at, c in constants if not _percent(c)]
    if len(percents) != 1 or len(plain) != 1:
        return None
    at, bound = plain[0]
    if _within(spec, bound.value) or not _within(spec, bound.value / 100):
        return None
    return Problem(
        f"{text()}: {percents[0].text.strip()} is a percent but {bound.text.strip()} is not, "
        f"and {bound.text.strip()} is past the range: {spec.name} is {spec.range_text()}",
        at,
        f"did you mean {bound.value:g}%?",
    )


# Sizes of whole companies, chains and stablecoins: a plain threshold under 1,000 (``market_cap
# > 100``) is a hundred dollars, which no listed company, chain or stablecoin is near; it was
# surely meant with its magnitude (100B). A warning: it still compiles, and passes nearly always.
_SIZES = frozenset({"market_cap", "chain_tvl", "protocol_tvl", "stablecoin_supply",
                    "stablecoin_net_flow"})  # fmt: skip
_TINY = 1_000


def _tiny_amount(
    spec: MetricSpec, constants: list[tuple[int, Const]], text: Callable[[], str]
) -> Problem | None:
    """A plain number under 1,000 compared with a company's, chain's or stablecoin's size."""
    if spec.name not in _SIZES:
        return None
    for at, const in constants:
        written = const.text.strip()
        if 0 < abs(const.value) < _TINY and not written.endswith((*_MAGNITUDES, "%")):
            return Problem(
                f"{text()}: {spec.name} is an amount of money, so {written} means "
                f"{written}, not {written} million or billion",
                at,
                f"did you mean {written}M or {written}B?",
                warning=True,
            )
    return None


def _percent(const: Const) -> bool:
    return const.text.strip().endswith("%")


def _outcomes(
    low: float | None, high: float | None, op: str, values: Sequence[float]
) -> tuple[bool, bool]:
    """Whether ``x op values`` can pass, and whether it can fail, for x from low to high."""
    lo = float("-inf") if low is None else low
    hi = float("inf") if high is None else high
    if op == "between":
        start, end = values
        return hi >= start and lo <= end, lo < start or hi > end
    (value,) = values
    inside = lo <= value <= hi
    return {
        "<": (lo < value, hi >= value),
        "<=": (lo <= value, hi > value),
        ">": (hi > value, lo <= value),
        ">=": (hi >= value, lo < value),
        "==": (inside, lo < hi or not inside),
        "!=": (lo < hi or not inside, inside),
    }[op]


@dataclass(frozen=True, slots=True)
class _Range:
    """The values of a metric a comparison passes for: ``low`` to ``high``, each end in or not."""

    low: float
    low_in: bool
    high: float
    high_in: bool

    def meets(self, other: _Range) -> bool:
        """Whether some value passes both."""
        low, low_in = max(_low(self), _low(other), key=_lower_end)
        high, high_in = min(_high(self), _high(other), key=_upper_end)
        return low < high or (low == high and low_in and high_in)


def _low(passing: _Range) -> tuple[float, bool]:
    return passing.low, passing.low_in


def _high(passing: _Range) -> tuple[float, bool]:
    return passing.high, passing.high_in


def _lower_end(end: tuple[float, bool]) -> tuple[float, bool]:
    # Of two lower ends at one value, the excluded one is the higher: (30 is above [30.
    return end[0], not end[1]


def _upper_end(end: tuple[float, bool]) -> tuple[float, bool]:
    return end  # of two upper ends at one value, the excluded one 30) is the lower


def _passing(leaf: Predicate) -> tuple[Metric, _Range] | None:
    """The metric ``leaf`` compares with constants, and the range it passes for; None for any
    other comparison (two metrics, arithmetic, ``!=``)."""
    if leaf.op == "between":
        low, high = leaf.right
        if not (
            isinstance(leaf.left, Metric) and isinstance(low, Const) and isinstance(high, Const)
        ):
            return None
        return leaf.left, _Range(float(low.value), True, float(high.value), True)
    left, right, op = leaf.left, leaf.right[0], leaf.op
    if isinstance(left, Const) and isinstance(right, Metric):
        left, right, op = right, left, _MIRRORED[op]  # 30 > rsi(14) is rsi(14) < 30
    if not (isinstance(left, Metric) and isinstance(right, Const)) or op == "!=":
        return None
    value = float(right.value)
    return left, {
        "<": _Range(-math.inf, False, value, False),
        "<=": _Range(-math.inf, False, value, True),
        ">": _Range(value, False, math.inf, False),
        ">=": _Range(value, True, math.inf, False),
        "==": _Range(value, True, value, True),
    }[op]


def never_together(leaves: Iterable[Predicate]) -> Iterator[tuple[Predicate, Predicate]]:
    """Each of ``leaves`` (conditions that must all pass) that no value of its metric can pass
    together with an earlier one, and that earlier one. A range misses some earlier one exactly
    when it misses the one that starts highest or the one that ends lowest, so those two are
    all that is kept of each metric (the first of equals): linear in the leaves."""
    kept: dict[Metric, tuple[tuple[Predicate, _Range], tuple[Predicate, _Range]]] = {}
    for leaf in leaves:
        found = _passing(leaf)
        if found is None:
            continue
        metric, passing = found
        if metric not in kept:
            kept[metric] = ((leaf, passing), (leaf, passing))
            continue
        highest, lowest = kept[metric]
        missed = next((e for e in (highest, lowest) if not passing.meets(e[1])), None)
        if missed is not None:
            yield leaf, missed[0]
        if _lower_end(_low(passing)) > _lower_end(_low(highest[1])):
            highest = (leaf, passing)
        if _upper_end(_high(passing)) < _upper_end(_high(lowest[1])):
            lowest = (leaf, passing)
        kept[metric] = (highest, lowest)


def _within(spec: MetricSpec, value: float) -> bool:
    return (spec.low is None or value >= spec.low) and (spec.high is None or value <= spec.high)


def _text(operands: Sequence[Operand], op: str) -> str:
    """The comparison as the author wrote it, $params resolved."""
    shown = [render_operand(operand) for operand in operands]
    if op == "between":
        return f"{shown[0]} between {shown[1]} and {shown[2]}"
    return f"{shown[0]} {op} {shown[1]}"


__all__ = ["Problem", "check", "never_together", "refused"]
