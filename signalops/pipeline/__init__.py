"""The decision pipeline: gather -> evaluate -> size -> risk gate -> execute -> record.

cycle.py       one cycle over every strategy x asset (``Pipeline``)
records.py     the order records are written in: the crash-safety contract (``Recorder``)
approvals.py   answering a pending approval: re-check, then execute (``answer``)
summary.py     what a cycle or an answer led to (``CycleSummary``, ``Outcome``, ``ApprovalOutcome``)
loop.py        cycles on a clock, a summary line each, a clean stop on SIGINT/SIGTERM

``approvals`` is not imported here: it sits above ``signalops.workspace``, which builds pipelines.
"""

from signalops.pipeline.cycle import (
    PRICE_TIMEFRAMES,
    Pipeline,
    decision_data_time,
    records_of_kind,
    reference_price,
)
from signalops.pipeline.summary import ApprovalOutcome, CycleSummary, Outcome

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
