"""How long does a large strategy take to compile, and does the time grow linearly with its size?

A strategy of N leaves is generated (``generated_strategy``): entry rules, exit rules and vetoes
over all five sources, each rule a realistic mix of structured conditions (``metric`` +
``operator`` + ``threshold``, ``market`` conditions), ``when:`` expressions of one to three
comparisons, ``any``/``all`` groups, ``at_least`` and ``not``, ``$params`` and ``max_age``. It is
compiled with ``signalops.strategy.loads`` (YAML with positions, JSON Schema check, expressions,
catalogue checks, the generated evaluator) for N = 50, 100, 200, 500, 1000 and 2000 leaves.

The baseline, timed in the same run on the same text, is what any loader must do at least: plain
``yaml.safe_load`` (PyYAML's C loader when it is installed, as a plain loader would use) followed by
``jsonschema`` validation of the result against ``schemas/strategy.schema.json``. The growth
exponent between two sizes is log(t2/t1) / log(n2/n1): 1.0 is linear, 2.0 quadratic.

Each figure is the minimum of several repeats, garbage collection off while timing.

Run: .venv/bin/python bench/bench_compile.py [--sizes 50,100,500] [--repeats 5]
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from signalops.strategy import loads, strategy_schema

SIZES = (50, 100, 200, 500, 1000, 2000)

# One block per source; each yields leaves as YAML condition lines (indented by the caller).
# ``i`` varies parameters so that most leaves read a distinct metric, as in a real large file.


def _technical(i: int) -> tuple[list[str], int]:
    kind = i % 6
    if kind == 0:
        return [f'- when: "rsi({10 + i % 20}) < $oversold"'], 1
    if kind == 1:
        return [f'- when: "close > sma({20 + i % 180}) * 0.9 and volume_z(20) > 1.5"'], 2
    if kind == 2:
        return [f"- metric: rsi_{5 + i % 30}", '  operator: "<"', f"  threshold: {30 + i % 10}"], 1
    if kind == 3:
        return [
            "- any:",
            f'    - when: "macd_hist(fast={8 + i % 5}) > 0"',
            f'    - when: "return({1 + i % 9}d) between -5% and 15%"',
            f'    - when: "ema({10 + i % 40}) > ema({50 + i % 150})"',
        ], 3
    if kind == 4:
        return ["- not:", f'    when: "close < bb_lower({20 + i % 10}, 2)"'], 1
    return [
        "- metric: atr",
        f"  params: {{n: {14 + i % 7}, timeframe: 4h}}",
        "  operator: between",
        f"  threshold: [{i % 5}, {100 + i % 50}]",
        "  max_age: 8h",
    ], 1


def _fundamental(i: int) -> tuple[list[str], int]:
    if i % 2:
        return ["- metric: price_to_book", '  operator: "<"', f"  threshold: {1 + i % 3}.5"], 1
    return [
        "- all:",
        f'    - when: "trailing_pe < {10 + i % 20} and forward_pe < trailing_pe"',
        "    - metric: debt_to_equity",
        '      operator: "<="',
        "      threshold: $max_leverage",
    ], 3


def _prediction(i: int) -> tuple[list[str], int]:
    if i % 2:
        return [
            f'- market: "us-recession-in-{2025 + i % 40}"',
            '  operator: "<"',
            f"  threshold: 0.{20 + i % 70}",
            "  max_age: 2h",
        ], 1
    return [f"- when: \"polymarket('fed-cut-{i}').yes >= 60% or polymarket($crisis).no < 0.3\""], 2


def _onchain(i: int) -> tuple[list[str], int]:
    if i % 2:
        return [
            "- metric: stablecoin_net_flow",
            f"  params: {{stablecoin: USDC, window: {1 + i % 6}d}}",
            '  operator: ">"',
            "  threshold: 500M",
        ], 1
    return [f"- when: \"chain_tvl_change('Ethereum', {1 + i % 13}d) > -{5 + i % 10}%\""], 1


def _news(i: int) -> tuple[list[str], int]:
    return [f"- when: \"news_count('/hack|exploit|drained-{i}/', {12 + i % 36}h) < 3\""], 1


_BLOCKS: tuple[tuple[str, Callable[[int], tuple[list[str], int]]], ...] = (
    ("technical", _technical),
    ("fundamental", _fundamental),
    ("polymarket", _prediction),
    ("onchain", _onchain),
    ("news", _news),
)
_ONE_LEAF = {
    "technical": ['- when: "rsi(14) < 70"'],
    "fundamental": ['- when: "price_to_sales < 3"'],
    "polymarket": ['- market: "us-recession-in-2025"', '  operator: "<"', "  threshold: 0.2"],
    "onchain": ["- when: \"protocol_tvl('aave') > 1B\""],
    "news": ["- when: \"news_count('/halt/') < 1\""],
}
_PER_RULE = 10  # leaves per rule, about


def generated_strategy(leaves: int) -> str:
    """A valid strategy file with exactly ``leaves`` predicates, of every source and form.

    Rules are entry rules, except every 7th (an exit rule) and every 9th (a veto).
    """
    entry: list[str] = []
    exit_: list[str] = []
    vetoes: list[str] = []
    made = 0
    rule = 0
    while made < leaves:
        source, block = _BLOCKS[rule % len(_BLOCKS)]
        lines: list[str] = []
        count = 0
        i = rule * _PER_RULE
        while count < _PER_RULE and made + count < leaves:
            body, n = block(i)
            if made + count + n > leaves:  # too many for the exact total: a one-leaf form
                body, n = _ONE_LEAF[source], 1
            lines.extend(body)
            count += n
            i += 1
        made += count
        target = vetoes if rule % 9 == 8 else exit_ if rule % 7 == 6 else entry
        indent = "      " if target is exit_ else "    "
        target.append(_rule(rule, source, lines, veto=target is vetoes, indent=indent))
        rule += 1
    return _document(entry, exit_, vetoes)


def _rule(number: int, source: str, conditions: list[str], *, veto: bool, indent: str) -> str:
    head = [f"- id: r{number}_{source}", f"  source: {source}"]
    if veto:
        head.append("  blocks: [BUY, SELL]")
    head.append(f'  description: "generated rule {number}"')
    if number % 4 == 3:
        head.append("  max_age: 3d")
    head.append("  conditions:")
    lines = [*head, *("    " + line for line in conditions)]
    return "\n".join(indent + line for line in lines)


def _document(entry: list[str], exit_: list[str], vetoes: list[str]) -> str:
    parts = [
        "# Generated by bench/bench_compile.py",
        "strategy:",
        '  name: "Generated"',
        '  description: "a large generated strategy"',
        '  assets: ["BTC", "ETH", "AAPL"]',
        "  params:",
        "    oversold: 30",
        "    max_leverage: 1.5",
        '    crisis: "us-recession-in-2025"',
        "  defaults:",
        "    params:",
        "      timeframe: 1h",
        "  rules:",
        *entry,
    ]
    if exit_:
        parts += ["  exit:", "    rules:", *exit_]
    if vetoes:
        parts += ["  vetoes:", *vetoes]
    parts += [
        "  execution:",
        f"    require_confirmations: {max(1, len(entry) // 2)}",
        "    position_size: 0.02",
        "    action_mode: paper",
    ]
    return "\n".join(parts) + "\n"


# --- timing ---------------------------------------------------------------------------------------

AS_OF = datetime(2025, 1, 1, tzinfo=UTC)


def _timed(fn: Callable[[], Any]) -> float:
    """Wall time of one call of ``fn`` in seconds, garbage collection off."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start
    finally:
        gc.enable()


def _load(text: str) -> None:
    loads(text, "generated.yaml")


def _load_and_evaluate(text: str) -> None:
    # The evaluator is generated on the first evaluation: this is what a run pays before its
    # first decision. With no data every leaf is UNKNOWN, and every line of it runs.
    tree = loads(text, "generated.yaml").tree
    tree.evaluate_aligned((None,) * len(tree.metrics), AS_OF)


def _baseline(text: str, validator: Draft202012Validator) -> None:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(text, Loader=loader)  # a safe loader: CSafeLoader or SafeLoader
    validator.validate(data)


def measure(sizes: list[int], repeats: int) -> dict[int, dict[str, float]]:
    """Minimum seconds per size and path. Rounds interleave every size and path, so that a
    burst of load on a shared machine touches all of them rather than one cell."""
    validator = Draft202012Validator(strategy_schema())
    texts = {n: generated_strategy(n) for n in sizes}
    for n, text in texts.items():  # a strategy that does not compile would time an error path
        leaves = len(loads(text, f"generated_{n}.yaml").tree.leaves())
        assert leaves == n, (n, leaves)
    paths: dict[str, Callable[[str], None]] = {
        "load": _load,
        "first": _load_and_evaluate,
        "baseline": lambda text: _baseline(text, validator),
    }
    best = {n: dict.fromkeys(paths, math.inf) for n in sizes}
    for _ in range(repeats):
        for n, text in texts.items():
            for name, path in paths.items():
                elapsed = _timed(lambda path=path, text=text: path(text))
                best[n][name] = min(best[n][name], elapsed)
    return best


def growth(sizes: list[int], seconds: list[float]) -> float:
    """Least-squares slope of log(time) over log(size): 1.0 is linear, 2.0 quadratic."""
    xs = [math.log(n) for n in sizes]
    ys = [math.log(t) for t in seconds]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    best = measure(sizes, args.repeats)

    print(
        f"Python {sys.version.split()[0]} on {platform.machine()} ({platform.system()}), "
        f"{os.cpu_count()} CPUs; ms are the minimum of {args.repeats} interleaved repeats"
    )
    print()
    print(
        "| leaves | KiB | load ms | growth | load + 1st evaluation ms | growth "
        "| baseline ms | growth | load vs baseline |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for k, n in enumerate(sizes):
        cells = best[n]
        steps = ["—", "—", "—"]
        if k:
            p = sizes[k - 1]
            steps = [
                f"n^{math.log(cells[name] / best[p][name]) / math.log(n / p):.2f}"
                for name in ("load", "first", "baseline")
            ]
        kib = len(generated_strategy(n).encode()) / 1024
        print(
            f"| {n:,} | {kib:.0f} | {cells['load'] * 1e3:,.1f} | {steps[0]} "
            f"| {cells['first'] * 1e3:,.1f} | {steps[1]} "
            f"| {cells['baseline'] * 1e3:,.1f} | {steps[2]} "
            f"| {cells['load'] / cells['baseline']:.2f}x |"
        )
    if len(sizes) > 1:
        fitted = {
            name: growth(sizes, [best[n][name] for n in sizes])
            for name in ("load", "first", "baseline")
        }
        print()
        print(
            f"growth over all sizes (least squares): load n^{fitted['load']:.2f}, "
            f"load + 1st evaluation n^{fitted['first']:.2f}, baseline n^{fitted['baseline']:.2f}"
        )


if __name__ == "__main__":
    main()
