"""The warning ``validate`` and ``run`` give when a notify-mode strategy's approvals stay open
longer than its data may be old.

An approval is checked again when it is answered: the risk gate once more, DATA_STALE included,
against ``max_data_age``. A config that sets ``risk.max_data_age`` is held to
``notify.approval_ttl`` when it loads (an error: every strategy runs under it). A config that
sets none lets each strategy's limit follow the ``max_age`` of the leaves of the side that acts
(``risk.following_timeframe``: two daily candles are 2d, and never under 15 minutes), so a
trader approving a daily strategy from their phone may keep approvals open for hours. Whether a
TTL outlives the data can then be said only per strategy and side, which is this warning.
"""

from __future__ import annotations

from signalops.catalogue.spec import format_duration
from signalops.config import Config, limits_for, risk_values
from signalops.risk.limits import following_timeframe
from signalops.strategy.model import Strategy

__all__ = ["approval_ttl_warning"]

NOTIFY = "notify"


def approval_ttl_warning(
    file: str, strategy: Strategy, config: Config, mode: str | None = None
) -> str | None:
    """The warning for ``strategy`` (read from ``file``) when it asks for approvals (its
    action mode, or ``mode`` when a run sets one) that stay open longer than the age at which
    its orders are denied DATA_STALE; None otherwise, and when the config sets
    ``max_data_age`` (its own check refuses that)."""
    if (mode or strategy.execution.action_mode) != NOTIFY or "max_data_age" in config.risk:
        return None
    ttl = config.notify.approval_ttl
    shortest = _shortest_limit(strategy, config)
    if shortest is None or ttl <= shortest:
        return None
    remedy = _remedy(strategy, config)
    return (
        f"{file}: approvals stay open {format_duration(ttl)} (notify.approval_ttl), but its "
        f"orders are denied DATA_STALE once their data is {format_duration(shortest)} old: "
        f"one approved later fails its re-check; shorten approval_ttl or {remedy}"
    )


def _remedy(strategy: Strategy, config: Config) -> str:
    """What else lengthens the limit: the max_age of its leaves, which it follows; or its own
    ``risk.max_data_age``, which can only tighten the config's (15 minutes when the config
    sets none), so a value above that is cut to it and only removing it helps."""
    own = risk_values(strategy.risk).get("max_data_age")
    if own is None:
        return "raise the max_age of its leaves"
    ceiling = config.limits.max_data_age
    if own <= ceiling:
        return "raise its risk.max_data_age"
    return (
        f"remove its risk.max_data_age {format_duration(own)}: a strategy's risk section only "
        f"tightens the config's limits, so it is cut to the config's {format_duration(ceiling)}, "
        "and without it the limit follows its leaves' max_age"
    )


def _shortest_limit(strategy: Strategy, config: Config) -> int | None:
    """The shortest ``max_data_age`` its BUYs (entry) and SELLs (exit) are gated with, as the
    pipeline works it out (``Pipeline.limits``); None without a side that acts."""
    limits = limits_for(strategy, config)
    tree = strategy.tree
    sides = [node for node in (tree.entry, tree.exit) if node is not None]
    if not sides:
        return None
    if "max_data_age" in strategy.risk:
        return limits.max_data_age
    return min(
        following_timeframe(
            limits, [age for leaf in tree.leaves_under(node) for age in leaf.max_ages]
        ).max_data_age
        for node in sides
    )
