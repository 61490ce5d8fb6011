"""The side of a trade: BUY or SELL, one type from the evaluated verdict to the filled order.

It sits below both the evaluation (a veto blocks a side; a verdict acts on one) and the orders
(an intent and a fill have one), so neither needs the other to name it.
"""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


__all__ = ["Side"]
