"""The decision pipeline: gather -> evaluate -> size -> risk gate -> execute -> record.

cycle.py   one cycle over every strategy x asset (``Pipeline``)
loop.py    cycles on a clock, a summary line each, a clean stop on SIGINT/SIGTERM
"""

from signalops.pipeline.cycle import (
    PRICE_TIMEFRAMES,
    ApprovalOutcome,
    CycleSummary,
    Outcome,
    Pipeline,
    decision_data_time,
    records_of_kind,
    reference_price,
)

__all__ = [
    "PRICE_TIMEFRAMES",
    "ApprovalOutcome",
    "CycleSummary",
    "Outcome",
    "Pipeline",
    "decision_data_time",
    "records_of_kind",
    "reference_price",
]
