"""The backtest's simulated clock, shared by the pipeline engine and the fast one."""

from __future__ import annotations

from datetime import datetime


class SimulatedClock:
    """The backtest's "now": the decision time being simulated, for the records' timestamps."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


__all__ = ["SimulatedClock"]
