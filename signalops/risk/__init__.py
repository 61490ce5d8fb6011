"""The pre-trade risk gate: ordered checks over an order intent, each denial a value with a code.

    limits.py     RiskLimits, TradingState, Kelly, the kill switch file
    checks.py     the ordered checks and ``check`` (the rules are in its docstring)
    sizing.py     size_order / sized_order: the intent a verdict turns into, before the gate,
                  and what the cash cut of a paper BUY (CashCut)
    valuation.py  whether a portfolio can be valued; equity marked at a new price
    decision.py   RiskDecision, CheckResult, RiskReason: what the gate answers

Reason codes are ``signalops.codes.Code`` members.
"""

from signalops.risk.checks import CHECKS, ORDER_RATE_WINDOW, RiskState, check
from signalops.risk.decision import CheckResult, RiskDecision, RiskReason
from signalops.risk.limits import (
    DEFAULT_LIMITS,
    Kelly,
    RiskLimits,
    TradingState,
    following_timeframe,
    kill_switch_active,
)
from signalops.risk.sizing import QUANTITY_STEP, CashCut, Sizing, size_order, sized_order
from signalops.risk.valuation import unvalued

__all__ = [
    "CHECKS",
    "DEFAULT_LIMITS",
    "ORDER_RATE_WINDOW",
    "QUANTITY_STEP",
    "CashCut",
    "CheckResult",
    "Kelly",
    "RiskDecision",
    "RiskLimits",
    "RiskReason",
    "RiskState",
    "Sizing",
    "TradingState",
    "check",
    "following_timeframe",
    "kill_switch_active",
    "size_order",
    "sized_order",
    "unvalued",
]
