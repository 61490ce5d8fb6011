"""Reading a weighted vote's ``pass_at`` and ``weights`` (fixed, or ``hit_rate(...)``).

A vote is written as a ``weighted:`` condition (``of``, ``pass_at``, ``weights``) or, over a rule
list, as ``execution.weighted`` / ``exit.weighted`` (``pass_at``, ``weights``). Weights are a list
with one number (or ``$param``) per child, or a call in the expression language's style::

    weights: hit_rate(window=180d, horizon=5d, step=1d, min_samples=10, prior=0.5,
                      min_return=0, direction=up)

``name: value`` is accepted as well as ``name=value`` (``"hit_rate(window: 180d)"``, quoted:
YAML reads an unquoted ``: `` as a mapping). Only ``window`` is required. Every mistake is
reported at its line and column, like an expression's.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any, NamedTuple

from signalops.catalogue.builtin import TIMEFRAMES
from signalops.catalogue.spec import format_duration, parse_duration
from signalops.evaluation.nodes import DOWN, UP, HitRate
from signalops.side import Side
from signalops.strategy._yaml import Mark, Path
from signalops.strategy.literals import parse_number
from signalops.strategy.schema import did_you_mean

if TYPE_CHECKING:
    from signalops.strategy.compiler import _Compiler

__all__ = [
    "DOWN",
    "MAX_BARS",
    "UP",
    "VoteReader",
    "reverse",
    "rule_vote_text",
    "veto_direction",
]

# A window is evaluated bar by bar on every decision's first look at it: ten thousand bars is 27
# years of daily bars, or 14 months of hourly ones.
MAX_BARS = 10_000

DEFAULTS: dict[str, Any] = {
    "step": 86400,
    "min_samples": 10,
    "prior": 0.5,
    "min_return": 0.0,
}
PARAMS = ("window", "horizon", "step", "min_samples", "prior", "min_return", "direction")
_DURATIONS = ("window", "horizon", "step")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def reverse(direction: str | None) -> str | None:
    """Under a ``not``, a PASS argues for the other move."""
    return {UP: DOWN, DOWN: UP}.get(direction) if direction else None


def veto_direction(blocks: frozenset[Side]) -> str | None:
    """A veto that blocks BUYs is right when the price falls; one that blocks SELLs when it
    rises; one that blocks both has no default."""
    if blocks == {Side.BUY}:
        return DOWN
    if blocks == {Side.SELL}:
        return UP
    return None


def percent(value: float) -> str:
    return f"{value * 100:g}%"


def rule_vote_text(action: str, pass_at: float) -> str:
    """``BUY when the rules that pass carry 60% of the weight``."""
    return f"{action} when the rules that pass carry {percent(pass_at)} of the weight"


class _Arg(NamedTuple):
    name: str
    name_at: int
    value: str
    value_at: int


class VoteReader:
    """Reads one vote's ``pass_at`` and ``weights`` for the compiler, recording its errors.

    ``count`` is how many children the vote has (``what``: "conditions" or "rules"),
    ``direction`` the default direction of a hit rate (None: it must be written).
    """

    def __init__(
        self, compiler: _Compiler, path: Path, count: int, what: str, direction: str | None
    ) -> None:
        self.c = compiler
        self.path = path
        self.count = count
        self.what = what
        self.direction = direction
        self.ok = True

    def error(self, message: str, path: Path, *, at: Mark | None = None, hint: str | None = None):
        self.ok = False
        self.c.error(message, path, at=at, hint=hint)

    def read(
        self, spec: dict[str, Any]
    ) -> tuple[float | None, tuple[float, ...] | None, HitRate | None]:
        """(pass_at, fixed weights, hit rate); None for what has an error (recorded)."""
        pass_at = self.pass_at(spec["pass_at"], (*self.path, "pass_at"))
        raw = spec["weights"]
        wpath = (*self.path, "weights")
        if isinstance(raw, list):
            return pass_at, self.fixed(raw, wpath), None
        return pass_at, None, self.hit_rate(raw, wpath)

    # --- pass_at and fixed weights --------------------------------------------------------------

    def number(self, raw: Any, path: Path, what: str) -> float | None:
        """A number as thresholds are written: 0.6, '60%', '1.5k' or a $param."""
        if isinstance(raw, str) and raw.strip().startswith("$"):
            name = raw.strip()[1:]
            if name not in self.c.params:
                self.error(f"unknown parameter '${name}'", path, hint=self.param_hint(name))
                return None
            raw = self.c.params[name]
        if isinstance(raw, bool) or raw is None:
            value = None
        elif isinstance(raw, int | float):
            value = float(raw) if _finite(raw) else None
        else:
            value = parse_number(str(raw))
        if value is None:
            self.error(f"{what} must be a number, got {raw!r}", path, hint="e.g. 0.6 or 60%")
        return value

    def param_hint(self, name: str) -> str:
        known = sorted(self.c.params)
        hint = did_you_mean(name, known)
        if hint:
            return hint.replace("'", "'$", 1)
        if known:
            return "defined params: " + ", ".join(f"${k}" for k in known)
        return "define it under strategy.params"

    def pass_at(self, raw: Any, path: Path) -> float | None:
        value = self.number(raw, path, "pass_at")
        if value is not None and not 0 < value <= 1:
            self.error(
                f"pass_at must be above 0 and at most 1, got {value:g}",
                path,
                hint="the share of the total weight the passing children must carry, e.g. 0.6",
            )
            return None
        return value

    def fixed(self, raw: list[Any], path: Path) -> tuple[float, ...] | None:
        if len(raw) != self.count:
            self.error(
                f"weights lists {len(raw)} number{'' if len(raw) == 1 else 's'} for "
                f"{self.count} {self.what if self.count != 1 else self.what[:-1]}",
                path,
                hint=f"give one weight per {self.what[:-1]}, in their order",
            )
            return None
        weights = []
        for i, item in enumerate(raw):
            value = self.number(item, (*path, i), "a weight")
            if value is not None and value < 0:
                self.error(f"a weight cannot be negative, got {value:g}", (*path, i))
                value = None
            weights.append(value)
        if any(w is None for w in weights):
            return None
        if sum(w for w in weights if w is not None) <= 0:
            self.error("the weights add up to 0: the vote could never pass", path)
            return None
        return tuple(w for w in weights if w is not None)

    # --- hit_rate(...) ----------------------------------------------------------------------------

    def at(self, path: Path, offset: int) -> Mark:
        return self.c.doc.offset_mark(path, offset)

    def hit_rate(self, text: str, path: Path) -> HitRate | None:
        args = self.call(text, path)
        if args is None:
            return None
        given: dict[str, tuple[Any, int]] = {}
        for arg in args:
            if arg.name not in PARAMS:
                self.error(
                    f"hit_rate has no parameter '{arg.name}'",
                    path,
                    at=self.at(path, arg.name_at),
                    hint=did_you_mean(arg.name, PARAMS) or "parameters: " + ", ".join(PARAMS),
                )
            elif arg.name in given:
                self.error(
                    f"parameter '{arg.name}' is given twice", path, at=self.at(path, arg.name_at)
                )
            else:
                value = self.value(arg, path)
                if value is not None:
                    given[arg.name] = (value, arg.value_at)
        if self.ok and "window" not in {a.name for a in args}:
            self.error(
                "hit_rate needs a window",
                path,
                at=self.at(path, 0),
                hint="e.g. hit_rate(window=180d, horizon=5d): the history the rate is measured on",
            )
        if not self.ok:
            return None
        return self.checked(given, path, text)

    def call(self, text: str, path: Path) -> list[_Arg] | None:
        """The arguments of ``hit_rate(...)``, or None after recording where it went wrong."""
        scan = _Scanner(text)
        scan.space()
        start = scan.pos
        name = scan.name()
        if name != "hit_rate":
            shown = name or text.strip()[:20]
            self.error(
                f"weights must be a list of numbers or hit_rate(...), got '{shown}'",
                path,
                at=self.at(path, start),
                hint=(did_you_mean(name, ["hit_rate"]) if name else None)
                or "e.g. [0.5, 0.3, 0.2] or hit_rate(window=180d, horizon=5d)",
            )
            return None
        if not scan.take("("):
            self.error("expected '(' after hit_rate", path, at=self.at(path, scan.pos))
            return None
        args: list[_Arg] = []
        scan.space()
        if scan.take(")"):
            return self.end(scan, path, args)
        while True:
            scan.space()
            name_at = scan.pos
            key = scan.name()
            if not key:
                self.error("expected a parameter name", path, at=self.at(path, name_at))
                return None
            scan.space()
            if not (scan.take("=") or scan.take(":")):
                self.error(
                    f"expected '=' after '{key}'",
                    path,
                    at=self.at(path, scan.pos),
                    hint=f"e.g. {key}={'180d' if key in _DURATIONS else '...'}",
                )
                return None
            scan.space()
            value_at = scan.pos
            value = scan.until(",)").rstrip()
            if not value:
                self.error(f"'{key}' needs a value", path, at=self.at(path, value_at))
                return None
            args.append(_Arg(key, name_at, value, value_at))
            if scan.take(","):
                continue
            if scan.take(")"):
                return self.end(scan, path, args)
            self.error("missing ')' at the end of hit_rate(...)", path, at=self.at(path, scan.pos))
            return None

    def end(self, scan: _Scanner, path: Path, args: list[_Arg]) -> list[_Arg] | None:
        scan.space()
        if scan.pos < len(scan.text):
            self.error("unexpected text after hit_rate(...)", path, at=self.at(path, scan.pos))
            return None
        return args

    def value(self, arg: _Arg, path: Path) -> str | float | None:
        text = arg.value
        at = self.at(path, arg.value_at)
        if text.startswith("$"):
            if text[1:] not in self.c.params:
                self.error(
                    f"unknown parameter '{text}'", path, at=at, hint=self.param_hint(text[1:])
                )
                return None
            text = str(self.c.params[text[1:]]).strip()
        if arg.name == "direction":
            if text in (UP, DOWN):
                return text
            self.error(
                f"direction must be up or down, got '{text}'",
                path,
                at=at,
                hint="up: a hit is a rise after a PASS; down: a fall",
            )
            return None
        if arg.name in _DURATIONS:
            seconds = parse_duration(text)
            if seconds is None:
                self.error(
                    f"{arg.name} must be a duration such as 180d or 4h, got '{text}'", path, at=at
                )
            return seconds
        number = parse_number(text)
        if number is None:
            self.error(f"{arg.name} must be a number, got '{text}'", path, at=at)
            return None
        return number

    def checked(self, given: dict[str, tuple[Any, int]], path: Path, text: str) -> HitRate | None:
        values = {**DEFAULTS, **{k: v for k, (v, _) in given.items()}}
        values.setdefault("horizon", values["step"])

        def fail(name: str, message: str, hint: str | None = None) -> None:
            offset = given[name][1] if name in given else 0
            self.error(message, path, at=self.at(path, offset), hint=hint)

        step, window, horizon = values["step"], values["window"], values["horizon"]
        if step not in TIMEFRAMES:
            shown = ", ".join(format_duration(t) for t in TIMEFRAMES)
            fail("step", f"step must be a candle timeframe, got {format_duration(step)}", shown)
        elif horizon % step:
            fail("horizon", f"horizon must be a whole number of steps ({format_duration(step)})")
        elif window % step:
            fail("window", f"window must be a whole number of steps ({format_duration(step)})")
        elif window // step <= horizon // step:
            fail(
                "window",
                f"window {format_duration(window)} holds no bar whose {format_duration(horizon)} "
                "horizon has ended",
                hint="make the window longer than the horizon",
            )
        elif window // step > MAX_BARS:
            fail("window", f"window holds {window // step} steps; at most {MAX_BARS} are measured")
        minimum = values["min_samples"]
        if minimum < 1 or minimum != math.floor(minimum):
            fail(
                "min_samples", f"min_samples must be a whole number of at least 1, got {minimum:g}"
            )
        if not 0 <= values["prior"] <= 1:
            fail("prior", f"prior must be a weight from 0 to 1, got {values['prior']:g}")
        if not 0 <= values["min_return"] < 1:
            fail(
                "min_return",
                f"min_return must be from 0 up to (not including) 1, got {values['min_return']:g}",
                hint="the move a signal must beat to be a hit, e.g. 0.2% to cover fees",
            )
        direction = values.get("direction", self.direction)
        if direction is None:
            self.error(
                "say which move makes a hit: direction=up or direction=down",
                path,
                at=self.at(path, len(text.rstrip()) - 1),
                hint="a vote in a veto that blocks both BUY and SELL has no default direction",
            )
        if not self.ok:
            return None
        return HitRate(
            window=int(window),
            horizon=int(horizon),
            step=int(step),
            min_samples=int(minimum),
            prior=float(values["prior"]),
            min_return=float(values["min_return"]),
            direction=str(direction),
        )


class _Scanner:
    """A cursor over the text of ``hit_rate(...)``."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def name(self) -> str:
        match = _NAME.match(self.text, self.pos)
        if match is None:
            return ""
        self.pos = match.end()
        return match.group()

    def take(self, char: str) -> bool:
        if self.text.startswith(char, self.pos):
            self.pos += len(char)
            return True
        return False

    def until(self, stops: str) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in stops:
            self.pos += 1
        return self.text[start : self.pos]


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False
