"""What the pre-trade risk gate costs per decision: ``risk.check`` against a hand-written check.

The inputs are what ``Pipeline.gate`` hands the gate in a paper runner some weeks in, built once
before timing from a seeded random generator (``--seed``):

- a paper account of 40,000-120,000 in cash (ledger cash, 8+ decimals) holding 3 to 7 of 8 crypto
  assets worth 500-6,000 each (quantities to 8 decimals, marked at candle closes), and a
  day-start equity within a few percent of its equity (some days down more than
  MAX_DAILY_LOSS);
- half of the time the strategy's own book (a subset of the account's positions, 30,000-90,000
  of its own cash), else None (the strategy runs alone: the account is its book);
- the order history the pipeline reads from the audit log: the runner's last 0 to ``--history``
  orders (one every few hours, some in the last hour, now and then a burst), the last trade per
  asset, the executed decision ids; like the pipeline's, every decision's history is made of
  the same datetime objects (the runner's one list), not new ones per decision;
- the limits: the defaults, a config with a Kelly cap and tighter fractions, or the defaults
  with ``max_data_age`` raised for a daily strategy (``following_timeframe``);
- the intent ``risk.size_order`` makes of a BUY or SELL verdict at the asset's price (BUYs of
  2-20 % of equity, SELLs of the book's whole position), plus a few intents the sizing would
  not make (a SELL of more than is held, a dust SELL);
- the decision's data time: seconds to minutes old, sometimes older than ``max_data_age`` or
  a second in the future; now and then a duplicate decision id or the kill switch on.

Of the verdicts a runner meets (BUY, SELL, HOLD, BLOCKED) only BUY and SELL reach the gate
(``Pipeline.decide``): a HOLD costs the gate nothing and is not in the sample. The mix is
printed before timing (passing and denied, by code), and the hand-written check must agree
with ``risk.check`` on approval and on the denial codes of every decision.

The rows, each over the same ``--decisions`` inputs, timed call by call with
``time.perf_counter_ns`` (garbage collection on: its pauses are part of a real decision's
latency), in ``--repeats`` rounds of one pass per row (interleaved, so that a busy spell on a
shared machine falls on every row alike). p50, p90, p99 and max are over the decisions, each
decision's time the lowest of its ``--repeats`` calls: the cost of that decision, without the
interruptions another process caused in some pass. On a busy machine those hit more than 1 %
of the calls of any single pass; "pass p99" shows them: the lowest of the passes' own p99.

  (a) baseline: a hand-written check of the same twelve limits on the same inputs (the same
      figures in Decimal, written directly; no details, no records): what the limits cost bare;
  (b) ``risk.check(intent, state, limits, as_of=..., data_time=...)``: every check, each with
      its limit/actual details, as the audit record keeps it. Target: p99 <= 50 us;
  (c) info: ``decision.to_dict()``, the JSON the audit record stores (built by the record
      builder, outside the gate);
  (d) info: ``risk.size_order(...)``, the intent the pipeline sizes just before the gate;
  (e) info: ``risk.following_timeframe(limits, max_ages)`` raising ``max_data_age`` for a
      daily strategy, as ``Pipeline`` does for every gated decision.

Run:  .venv/bin/python bench/bench_risk.py [--decisions N] [--repeats N] [--history N]
      .venv/bin/python bench/bench_risk.py --profile      # cProfile of risk.check instead
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import platform
import pstats
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from signalops import risk
from signalops.codes import Code
from signalops.orders import Mode, OrderIntent, PortfolioView, Position, client_order_id
from signalops.risk import Kelly, RiskDecision, RiskLimits, RiskState
from signalops.side import Side

TARGET_P99_US = 50.0
T0 = datetime(2024, 11, 6, 12, 0, tzinfo=UTC)
# Asset -> (price, decimals of its candle closes).
MARKET = {
    "BTC": (43250.12, 2),
    "ETH": (2291.55, 2),
    "SOL": (98.413, 3),
    "XRP": (0.61234, 5),
    "ADA": (0.4721, 4),
    "DOGE": (0.082345, 6),
    "LINK": (14.237, 3),
    "AVAX": (35.71, 2),
}
LIMITS = (
    risk.DEFAULT_LIMITS,
    RiskLimits(
        max_position=Decimal("0.08"),
        max_exposure=Decimal("0.6"),
        max_orders_per_hour=4,
        min_notional=Decimal("25"),
        kelly=Kelly(Decimal("0.5"), Decimal("0.55"), Decimal("1.4")),
    ),
    risk.following_timeframe(risk.DEFAULT_LIMITS, [172_800]),  # a daily strategy's
)
SIZES = tuple(Decimal(s) for s in ("0.02", "0.03", "0.05", "0.05", "0.08", "0.2"))


@dataclass(frozen=True)
class Case:
    """One gated decision: the arguments of ``risk.check``."""

    intent: OrderIntent
    state: RiskState
    limits: RiskLimits
    as_of: datetime
    data_time: datetime


# --- the inputs --------------------------------------------------------------------------------


def price_of(rng: random.Random, asset: str) -> Decimal:
    base, decimals = MARKET[asset]
    return Decimal(str(round(base * (1 + rng.gauss(0, 0.03)), decimals)))


def quantity(rng: random.Random, notional: float, price: Decimal) -> Decimal:
    return Decimal(str(round(notional / float(price), 8)))


def account(rng: random.Random, prices: dict[str, Decimal]) -> PortfolioView:
    held = rng.sample(sorted(MARKET), rng.randint(3, 7))
    positions = {}
    for asset in sorted(held):
        price = prices[asset]
        average = Decimal(str(round(float(price) * (1 + rng.gauss(0, 0.05)), 6)))
        positions[asset] = Position(
            asset, quantity(rng, rng.uniform(500, 6000), price), average, price
        )
    cash = Decimal(str(round(rng.uniform(40_000, 120_000), 10)))
    equity = cash + sum((p.market_value for p in positions.values()), Decimal(0))
    drift = rng.gauss(0, 0.015)  # some days down more than 3 %
    day_start = (equity * Decimal(str(round(1 + drift, 6)))).quantize(Decimal("0.0000000001"))
    return PortfolioView(cash, positions, Decimal(str(round(rng.uniform(-500, 500), 8))), day_start)


def book_of(rng: random.Random, portfolio: PortfolioView) -> PortfolioView | None:
    if rng.random() < 0.5:
        return None
    own = {a: p for a, p in portfolio.positions.items() if rng.random() < 0.6}
    cash = Decimal(str(round(rng.uniform(30_000, 90_000), 10)))
    equity = cash + sum((p.market_value for p in own.values()), Decimal(0))
    return PortfolioView(cash, own, Decimal(0), equity)


@dataclass
class Runner:
    """The orders a runner has placed so far, kept as ``Pipeline.risk_state`` keeps them: each
    decision's state is built from the same datetime and id objects, not new ones."""

    times: list[datetime]
    ids: list[str]
    last: dict[str, datetime]

    @classmethod
    def started(cls, rng: random.Random, size: int) -> Runner:
        runner = cls([], [], {})
        moment = T0 - timedelta(hours=6 * size)
        for _ in range(size):  # the weeks before the sample
            moment += timedelta(seconds=rng.choice((1200, 3600, 7200, 21_600, 43_200)))
            runner.place(rng, moment)
        return runner

    def place(self, rng: random.Random, moment: datetime) -> None:
        self.times.append(moment)
        self.ids.append(f"dec-{rng.getrandbits(96):024x}")
        self.last[rng.choice(sorted(MARKET))] = moment


def history(
    rng: random.Random, runner: Runner, as_of: datetime, size: int
) -> tuple[tuple[datetime, ...], dict[str, datetime], frozenset[str]]:
    """The runner's last 0 to ``size`` orders (some placed in the last hour: now and then a
    burst, a runaway loop for ORDER_RATE), its last trade per asset, its executed ids."""
    if rng.random() < 0.4:
        runner.place(rng, as_of - timedelta(seconds=rng.randint(60, 3000)))
    if rng.random() < 0.02:
        for minutes in range(50, 5, -4):
            runner.place(rng, as_of - timedelta(minutes=minutes))
    count = rng.randint(0, size)
    times = tuple(runner.times[-count:]) if count else ()
    decided = frozenset(runner.ids[-count:]) if count else frozenset()
    return times, dict(runner.last), decided


def intent_for(
    rng: random.Random,
    n: int,
    portfolio: PortfolioView,
    book: PortfolioView | None,
    limits: RiskLimits,
    prices: dict[str, Decimal],
    as_of: datetime,
) -> OrderIntent:
    own = portfolio if book is None else book
    did = f"dec-{n:024x}"
    sell = rng.random() < 0.45 and own.positions
    if sell:
        asset = rng.choice(sorted(own.positions))
        odd = rng.random()
        if odd < 0.06:  # not what sizing makes: more than is held, or dust
            held = own.positions[asset].quantity
            qty = held * 2 if odd < 0.03 else held
            price = prices[asset] if odd < 0.03 else Decimal("0.0001")
            return OrderIntent(
                did,
                client_order_id(did),
                "s",
                asset,
                Side.SELL,
                qty,
                price,
                qty * price,
                as_of,
                Mode.PAPER,
            )
    else:
        asset = rng.choice(sorted(MARKET))
    made = risk.size_order(
        decision_id=did,
        strategy="s",
        asset=asset,
        side=Side.SELL if sell else Side.BUY,
        reference_price=prices[asset],
        position_size=rng.choice(SIZES),
        portfolio=own,
        limits=limits,
        as_of=as_of,
        mode=Mode.PAPER,
    )
    assert made is not None
    return made


def make_cases(count: int, size: int, seed: int) -> list[Case]:
    rng = random.Random(seed)
    runner = Runner.started(rng, size)
    cases = []
    for n in range(count):
        as_of = T0 + timedelta(hours=n)
        prices = {a: price_of(rng, a) for a in MARKET}
        portfolio = account(rng, prices)
        book = book_of(rng, portfolio)
        limits = rng.choice(LIMITS)
        order = intent_for(rng, n, portfolio, book, limits, prices, as_of)
        times, last, decided = history(rng, runner, as_of, size)
        if rng.random() < 0.03:
            decided |= {order.decision_id}
        draw = rng.random()  # mostly fresh; 8 % stale (a late approval), 1 % from the future
        age = rng.uniform(0, 600) if draw < 0.91 else 1_800.5 if draw < 0.99 else -1.0
        state = RiskState(
            portfolio=portfolio,
            order_times=times,
            last_trade=last,
            executed_decisions=decided,
            kill_switch=rng.random() < 0.01,
            book=book,
        )
        data_time = as_of - timedelta(seconds=round(age, 6))
        cases.append(Case(order, state, limits, as_of, data_time))
    return cases


# --- the baseline: the same limits, hand-written ------------------------------------------------


def hand_written(c: Case) -> tuple[Code, ...]:
    """The denial codes of ``c``: the same figures and comparisons as the gate, no details."""
    o, s, lim = c.intent, c.state, c.limits
    account_, own = s.portfolio, s.portfolio if s.book is None else s.book
    price, qty, buy = o.reference_price, o.quantity, o.side is Side.BUY
    pos, mine = account_.positions.get(o.asset), own.positions.get(o.asset)
    held = mine.quantity if mine is not None else Decimal(0)
    equity = account_.equity + (pos.quantity * (price - pos.last_price) if pos else 0)
    exposure = sum(
        (abs(p.quantity * (price if a == o.asset else p.last_price)))
        for a, p in account_.positions.items()
    )
    book_equity = own.equity + (mine.quantity * (price - mine.last_price) if mine else 0)
    reducing = not buy and held > 0 and 0 < qty <= held
    signed = qty if buy else -qty
    age = (c.as_of - c.data_time).total_seconds()
    since = c.as_of - timedelta(hours=1)
    last = s.last_trade.get(o.asset)
    state = lim.trading_state
    start = account_.day_start_equity
    denied = (
        (Code.KILL_SWITCH, s.kill_switch),
        (Code.TRADING_STATE, not (state == "ACTIVE" or (state == "REDUCING" and reducing))),
        (Code.DATA_STALE, age > lim.max_data_age or age < 0),
        (Code.DUPLICATE_DECISION, o.decision_id in s.executed_decisions),
        (Code.NO_POSITION, not buy and not reducing),
        (Code.MAX_POSITION, buy and (held + signed) * price > lim.max_position * book_equity),
        (Code.MAX_EXPOSURE, buy and exposure + signed * price > lim.max_exposure * equity),
        (Code.MAX_DAILY_LOSS, buy and equity - start <= -lim.max_daily_loss * start),
        (Code.ORDER_RATE, buy and sum(t > since for t in s.order_times) >= lim.max_orders_per_hour),
        (
            Code.COOLDOWN,
            buy and last is not None and (c.as_of - last).total_seconds() < lim.cooldown,
        ),
        (Code.MIN_NOTIONAL, not (reducing and qty == held) and o.notional < lim.min_notional),
        (Code.MAX_NOTIONAL, buy and lim.max_notional is not None and o.notional > lim.max_notional),
    )
    return tuple(code for code, no in denied if no)


# --- timing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Each call's time in ns, per pass (in input order)."""

    passes: list[list[int]]

    @property
    def best(self) -> list[int]:
        """Each call's lowest time over the passes, sorted: the cost of each decision without
        what other processes did to it in some pass."""
        return sorted(min(times) for times in zip(*self.passes, strict=True))

    def pct_us(self, p: float) -> float:
        best = self.best
        return best[round(p / 100 * (len(best) - 1))] / 1e3

    @property
    def max_us(self) -> float:
        return self.best[-1] / 1e3

    @property
    def pass_p99_us(self) -> float:
        """The lowest of the passes' own p99: what a single run saw, machine noise included."""
        return min(sorted(t)[round(0.99 * (len(t) - 1))] for t in self.passes) / 1e3


def timed(run: Callable[[Any], Any], items: Sequence[Any]) -> list[int]:
    """Each call's time in ns, in the order of ``items``."""
    clock, calls = time.perf_counter_ns, []
    gc.collect()
    for item in items:
        t0 = clock()
        run(item)
        calls.append(clock() - t0)
    return calls


def interleaved(
    paths: Sequence[tuple[Callable[[Any], Any], Sequence[Any]]], repeats: int
) -> list[Timing]:
    """``repeats`` passes of every path, one path after the other in each round, so that a
    busy spell on a shared machine falls on all of them alike rather than on one row."""
    passes: list[list[list[int]]] = [[] for _ in paths]
    for _ in range(repeats):
        for found, (run, items) in zip(passes, paths, strict=True):
            found.append(timed(run, items))
    return [Timing(found) for found in passes]


def gate(c: Case) -> RiskDecision:
    return risk.check(c.intent, c.state, c.limits, as_of=c.as_of, data_time=c.data_time)


def resize(c: Case) -> OrderIntent | None:
    o = c.intent
    return risk.size_order(
        decision_id=o.decision_id,
        strategy=o.strategy,
        asset=o.asset,
        side=o.side,
        reference_price=o.reference_price,
        position_size=SIZES[1],
        portfolio=c.state.own,
        limits=c.limits,
        as_of=o.as_of,
        mode=o.mode,
    )


def checked(cases: list[Case]) -> list[RiskDecision] | None:
    """Every decision's codes agree with the hand-written check; print the mix."""
    decisions = [gate(c) for c in cases]
    disagree = sum(d.codes != hand_written(c) for c, d in zip(cases, decisions, strict=True))
    sides = Counter(
        f"{c.intent.side.value} {'approved' if d.approved else 'denied'}"
        for c, d in zip(cases, decisions, strict=True)
    )
    codes = Counter(code.value for d in decisions for code in d.codes)
    print(
        f"check: {len(cases):,} gated decisions: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(sides.items()))
    )
    print("       denials: " + ", ".join(f"{k} {v:,}" for k, v in sorted(codes.items())))
    sizes = [len(c.state.order_times) for c in cases]
    print(
        f"       orders in the history: mean {sum(sizes) / len(sizes):.0f}, max {max(sizes)}; "
        f"positions per account: "
        f"{sum(len(c.state.portfolio.positions) for c in cases) / len(cases):.1f}"
    )
    status = "OK" if not disagree else f"FAILED on {disagree:,}"
    print(f"       hand-written check gives the gate's approvals and denial codes: {status}")
    return None if disagree else decisions


def profile(cases: list[Case]) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(5):
        for c in cases:
            gate(c)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(18)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--history", type=int, default=200, help="most orders in a history")
    parser.add_argument("--seed", type=int, default=20241106)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    cases = make_cases(args.decisions, args.history, args.seed)
    decisions = checked(cases)
    if decisions is None:
        return 1
    if args.profile:
        profile(cases)
        return 0
    daily = [172_800, 86_400]
    paths: list[tuple[str, Callable[[Any], Any], Sequence[Any]]] = [
        ("(a) baseline: hand-written check, same limits", hand_written, cases),
        ("(b) risk.check(intent, state, limits, ...)", gate, cases),
        ("(c) info: decision.to_dict()", RiskDecision.to_dict, decisions),
        ("(d) info: risk.size_order(...)", resize, cases),
        (
            "(e) info: risk.following_timeframe(limits, ...)",
            lambda c: risk.following_timeframe(c.limits, daily),
            cases,
        ),
    ]
    timings = interleaved([(run, items) for _, run, items in paths], args.repeats)
    rows = [(name, timing) for (name, _, _), timing in zip(paths, timings, strict=True)]
    print()
    print(
        f"Python {platform.python_version()} on {platform.machine()}; {len(cases):,} decisions, "
        f"µs per decision, each its best of {args.repeats} interleaved passes"
    )
    print()
    base = rows[0][1]
    width = max(len(name) for name, _ in rows)
    head = f"{'path':<{width}}  {'p50':>6}  {'p90':>6}  {'p99':>6}  {'max':>6}  {'pass p99':>8}"
    print(head + f"  {'p50 vs (a)':>10}  {'p99 vs (a)':>10}  target")
    print("-" * (len(head) + 32))
    for name, t in rows:
        target = ""
        if name.startswith("(b)"):
            ok = t.pct_us(99) <= TARGET_P99_US
            target = f"p99 <= {TARGET_P99_US:.0f}: {'met' if ok else 'NOT met'}"
        print(
            f"{name:<{width}}  {t.pct_us(50):>6.1f}  {t.pct_us(90):>6.1f}  {t.pct_us(99):>6.1f}  "
            f"{t.max_us:>6.1f}  {t.pass_p99_us:>8.1f}  {t.pct_us(50) / base.pct_us(50):>9.1f}x  "
            f"{t.pct_us(99) / base.pct_us(99):>9.1f}x  {target}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
