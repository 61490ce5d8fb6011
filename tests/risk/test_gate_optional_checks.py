"""The gate's optional checks: MAX_SECTOR, MAX_VAR and MAX_CVAR run only when the limits set them,
with known answers, exempt SELLs, fail closed without history, and no look-ahead.

The base: 10,000 in cash, positions as each case says, a BUY checked at T0 on data from T0.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType

import numpy as np

from signalops.codes import Code
from signalops.config import Config, limits_for, loads_config
from signalops.orders import Mode, OrderIntent, PortfolioView, Position, Side, client_order_id
from signalops.risk import CHECKS, DEFAULT_LIMITS, RiskState, check
from signalops.risk.limits import TailLimit
from signalops.risk.measures import PriceHistory

D = Decimal
T0 = datetime(2024, 11, 6, tzinfo=UTC)
LIMITS = replace(DEFAULT_LIMITS, max_position=D(1), max_exposure=D(1), max_notional=None)


def buy(asset: str, quantity: str, price: str, side: str = "BUY") -> OrderIntent:
    return OrderIntent(
        decision_id="dec-1",
        client_order_id=client_order_id("dec-1"),
        strategy="s",
        asset=asset,
        side=Side(side),
        quantity=D(quantity),
        reference_price=D(price),
        notional=D(quantity) * D(price),
        as_of=T0,
        mode=Mode.PAPER,
    )


def account(cash: str, *held: tuple[str, str, str]) -> PortfolioView:
    positions = {a: Position(a, D(q), D(p), D(p)) for a, q, p in held}
    return PortfolioView(D(cash), positions, D(0), D(10_000))


def result(decision, code: Code):
    return next(c for c in decision.checks if c.code is code)


def test_without_the_optional_limits_the_checks_are_exactly_the_twelve_of_before():
    decision = check(buy("BTC", "0.01", "50000"), RiskState(account("10000")), LIMITS, as_of=T0,
                     data_time=T0)  # fmt: skip
    assert [c.code for c in decision.checks] == [code for code, _ in CHECKS]
    assert "max_sector" not in LIMITS.to_dict() and "max_var" not in LIMITS.to_dict()


def test_max_sector_adds_the_sectors_other_holdings_to_the_order_and_denies_above_the_limit():
    # AAPL 3,000 and MSFT 1,000 are tech, XOM 2,000 is not: cash 4,000, equity 10,000.
    held = account("4000", ("AAPL", "10", "300"), ("MSFT", "10", "100"), ("XOM", "20", "100"))
    sectors = MappingProxyType({"AAPL": "tech", "MSFT": "tech", "XOM": "energy"})
    state = RiskState(held, sectors=sectors)
    limits = replace(LIMITS, max_sector=D("0.5"), cooldown=0)
    ok = check(buy("MSFT", "5", "100"), state, limits, as_of=T0, data_time=T0)
    sector = result(ok, Code.MAX_SECTOR)
    assert sector.passed and sector.details["sector"] == "tech"
    assert sector.details["sector_value"] == D(4500) and sector.details["actual"] == D("0.45")
    denied = check(buy("MSFT", "11", "100"), state, limits, as_of=T0, data_time=T0)
    assert not result(denied, Code.MAX_SECTOR).passed and not denied.approved
    assert result(denied, Code.MAX_SECTOR).details["actual"] == D("0.51")
    other = check(buy("XOM", "29", "100"), state, limits, as_of=T0, data_time=T0)
    assert result(other, Code.MAX_SECTOR).details["sector"] == "energy"
    assert result(other, Code.MAX_SECTOR).passed  # 4,900 of 10,000: 0.49
    # an asset without a sector is its own
    alone = check(buy("BTC", "0.01", "50000"), state, limits, as_of=T0, data_time=T0)
    assert result(alone, Code.MAX_SECTOR).details["sector"] == "BTC"


def history(returns: list[float], start: float = 100.0) -> PriceHistory:
    """Daily closes ending at T0 whose one-day returns are ``returns``."""
    prices = [start]
    for r in returns:
        prices.append(prices[-1] * (1 + r))
    times = [(T0 - timedelta(days=len(returns) - i)).timestamp() for i in range(len(prices))]
    return PriceHistory(np.array(times), np.array(prices))


# 20 daily returns: the two worst are -10% and -8%, the rest small gains.
RETURNS = [0.01] * 18 + [-0.10, -0.08]


def test_max_var_is_the_historical_quantile_of_the_account_after_the_order():
    # All in BTC after the order: 5,000 of BTC in 10,000 of equity. 95% historical VaR of 20
    # returns is the 2nd worst loss, 8% of the BTC value: 400, i.e. 0.04 of equity.
    state = RiskState(account("10000"), history=MappingProxyType({"BTC": history(RETURNS)}))
    limit = TailLimit(limit=D("0.05"), confidence=D("0.95"), window=20)
    limits = replace(LIMITS, max_var=limit, max_cvar=replace(limit, limit=D("0.04")))
    decision = check(buy("BTC", "50", "100"), state, limits, as_of=T0, data_time=T0)
    var, cvar = result(decision, Code.MAX_VAR), result(decision, Code.MAX_CVAR)
    assert (
        var.passed
        and var.details["actual"] == "0.040000"
        and var.details["value"] == "400.00000000"
    )
    assert var.details["limit"] == D("0.05") and var.details["observations"] == 20
    # CVaR: the mean of the 2 worst losses, 9% of 5,000 = 0.045 of equity: above 0.04.
    assert not cvar.passed and cvar.details["actual"] == "0.045000"
    assert not decision.approved


def test_too_little_history_denies_a_buy_and_a_sell_stays_exempt():
    state = RiskState(
        account("5000", ("BTC", "50", "100")),
        history=MappingProxyType({"BTC": history(RETURNS[:5])}),
    )
    limits = replace(LIMITS, max_var=TailLimit(limit=D("0.5")))
    denied = check(buy("BTC", "1", "100"), state, limits, as_of=T0, data_time=T0)
    var = result(denied, Code.MAX_VAR)
    assert not var.passed and var.details["error"] == "INSUFFICIENT_HISTORY"
    sold = check(buy("BTC", "1", "100", side="SELL"), state, limits, as_of=T0, data_time=T0)
    assert result(sold, Code.MAX_VAR).passed
    assert result(sold, Code.MAX_VAR).details["exempt"] == "SELL"


def test_history_after_the_decisions_data_time_changes_nothing():
    past = history(RETURNS)
    later = PriceHistory(
        np.append(past.times, (T0 + timedelta(days=1)).timestamp()),
        np.append(past.prices, 1.0),  # a crash after the data time
    )
    limits = replace(LIMITS, max_var=TailLimit(limit=D("0.05"), window=20))
    decided = [
        check(
            buy("BTC", "50", "100"),
            RiskState(account("10000"), history={"BTC": h}),
            limits,
            as_of=T0 + timedelta(hours=1),
            data_time=T0,
        ).to_dict()
        for h in (past, later)
    ]
    assert decided[0] == decided[1]


def test_the_config_sets_sectors_and_tail_limits_and_a_strategy_can_only_tighten_them(tmp_path):
    text = (
        "risk:\n  max_sector: 0.4\n  max_var: {limit: 0.05, confidence: 0.99, window: 100}\n"
        "sectors: {AAPL: tech, MSFT: tech}\n"
    )
    config = loads_config(text, "signalops.yaml")
    assert config.sectors == {"AAPL": "tech", "MSFT": "tech"}
    assert config.limits.max_sector == D("0.4")
    assert config.limits.max_var == TailLimit(D("0.05"), "historical", D("0.99"), 100, 1)
    assert config.limits.to_dict()["max_var"]["confidence"] == "0.99"

    class Strategy:
        risk = MappingProxyType({"max_sector": 0.5, "max_var": {"limit": 0.02}})

    tightened = limits_for(Strategy(), config)  # type: ignore[arg-type]
    assert tightened.max_sector == D("0.4")  # 0.5 is looser: the global one holds
    assert tightened.max_var == TailLimit(D("0.02"))
    assert Config().limits.max_var is None
