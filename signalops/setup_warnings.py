"""What ``validate`` and ``run`` warn of in a config and the strategies it runs with, taken
together: mistakes that run silently until the moment they matter.

- ``strategies: {NAME: {capital: ...}}`` under a name no strategy has (a typo): the capital was
  ignored and the strategy shared the whole account;
- capital given to strategies that adds up to more than the paper account: the books cannot
  all be funded (a single one past it had every BUY denied MAX_EXPOSURE);
- two strategy files of one name in a run: they would share one book, cooldown and positions
  (``duplicate_names``; ``run`` refuses it);
- alerts with no webhook to post them to, and webhooks whose environment variable is not set:
  the first sign was a halt nobody heard of;
- a replay of stocks fills on paper at the decision's reference price (Friday's close for a
  Monday 00:00 decision), where a backtest fills at the next session's open (``replay_fills``):
  the same decisions' PnL differed by 11% on one Monday's gap.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal

from signalops import numbers
from signalops.config import Config, capital_by_strategy
from signalops.strategy.model import Strategy
from signalops.textmatch import closest

__all__ = ["config_warnings", "duplicate_names", "replay_fills", "unset_webhooks"]


def config_warnings(config: Config, names: Iterable[str]) -> Iterator[str]:
    """The warnings of ``config`` given the strategy ``names`` checked or run."""
    where = config.file or "the config"
    yield from _unknown_allocations(config, list(names), where)
    over = _over_allocated(config, where)
    if over is not None:
        yield over
    if config.alerts.on and not config.notify.webhooks:
        events = ", ".join(sorted(config.alerts.on))
        yield f"{where}: alerts on {events} but notify has no webhooks: they are posted nowhere"


def _unknown_allocations(config: Config, names: list[str], where: str) -> Iterator[str]:
    """A ``strategies:`` entry whose name is a near miss of a strategy's that has no capital of
    its own: a typo. (One far from every name, or near one with its own entry, may be another
    runner's strategy, which shares the config: Momentum_ETH beside Momentum_BTC.)"""
    for name, entry in config.strategies.items():
        if name in names or entry.capital is None:
            continue
        meant = closest(name, names)
        mine = None if meant is None else config.strategies.get(meant)
        if meant is not None and (mine is None or mine.capital is None):
            yield (
                f"{where}: strategies: {name} is no strategy here (did you mean '{meant}'?): "
                f"its capital is not applied, and {meant} shares the whole account"
            )


def _over_allocated(config: Config, where: str) -> str | None:
    account = config.paper.starting_cash
    given = capital_by_strategy(config, account)
    total = sum(given.values(), Decimal(0))
    if total <= account:
        return None
    quote = config.paper.quote
    return (
        f"{where}: strategies: the capital given to strategies adds up to "
        f"{numbers.money(total, quote)}, more than the paper account's "
        f"{numbers.money(account, quote)}: the books cannot all be funded (a book past the "
        "account has every BUY denied MAX_EXPOSURE)"
    )


def duplicate_names(strategies: Sequence[Strategy]) -> str | None:
    """The files that name one strategy alike (the first such name); None when every name is
    its own."""
    seen: dict[str, str] = {}
    for strategy in strategies:
        if strategy.name in seen:
            return (
                f"{seen[strategy.name]} and {strategy.file} both name strategy {strategy.name}: "
                "one file per name (they would share one book, its positions and its cooldown)"
            )
        seen[strategy.name] = strategy.file
    return None


def unset_webhooks(config: Config, environ: Mapping[str, str] | None = None) -> Iterator[str]:
    """The webhooks whose environment variable is not set (checked where a run starts)."""
    env = os.environ if environ is None else environ
    for hook in config.notify.webhooks:
        if not env.get(hook.url_env):
            yield (
                f"notify webhook {hook.kind} reads ${hook.url_env}, which is not set: approvals "
                "and alerts to it are not delivered"
            )


def replay_fills(config: Config, strategies: Sequence[Strategy]) -> str | None:
    """What a ``run --replay`` of stocks says of its paper fills; None with no stock in it.

    The paper broker fills at the decision's reference price, the last close at or before it:
    live, the next open has not happened when the order is placed. A backtest fills at the
    next session's open, so that a decision taken on a close never trades at that close; a
    replay runs the live pipeline on recorded data, so its stock fills and a backtest's differ
    by each gap from a close to the next open (a stock decided at Monday 00:00 UTC fills at
    Friday's close). Coins trade around the clock: their next open is their last close."""
    assets = [asset for strategy in strategies for asset in strategy.assets]
    stocks = list(dict.fromkeys(asset for asset in assets if config.venues.trades_stock(asset)))
    if not stocks:
        return None
    return (
        f"{numbers.listed(stocks, 3)} {'fills' if len(stocks) == 1 else 'fill'} on paper at each "
        "decision's reference price, the last close (Friday's for a Monday 00:00 UTC decision), "
        "not at the next session's open as in a backtest: a replay's PnL differs from a "
        "backtest's of the same decisions by each gap from a close to the next open"
    )
