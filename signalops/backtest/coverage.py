"""What a run says of decisions its recorded prices do not cover: those before the prices start
and after the candles end could price no order.

One wording, said by the backtest (``report.late_data_notes``, ``report.ended_data_notes``),
the sweep under its table and a walk-forward of its stitched record, so a period the data does
not cover reads the same whichever command screened it. ``priced`` counts the decisions that
can price an order, what a walk-forward window's share of data is.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from signalops.backtest.bars import Bars
from signalops.canonical import iso
from signalops.numbers import counted

__all__ = ["end_note", "priced", "start_note"]


def start_note(bars: Bars, first: datetime, times: np.ndarray) -> str | None:
    """The note when ``bars`` start after ``first``, the run's first decision: ``times`` are
    the decisions of their asset (Unix seconds); those before the first close could price no
    order, and the metrics count that time as cash."""
    if not len(bars) or bars.first_close <= first:
        return None
    before = int(np.count_nonzero(np.asarray(times) < bars.close_time[0]))
    return (
        f"the {bars.label} start at {iso(bars.first_close)}, after the first decision "
        f"({iso(first)}): {counted(before, 'decision')} before could price no order, and the "
        "metrics count that time as cash"
    )


def end_note(bars: Bars, last: datetime, times: np.ndarray) -> str | None:
    """The note when the candles end before ``last``, the run's last decision: of ``times``
    (Unix seconds), those decided after the last bar opened could price no order, and the
    metrics value the asset at its last close from then on (recorded prices, not candles, fill
    at their last price)."""
    if bars.points or not len(bars) or last <= bars.last_open:
        return None
    after = int(np.count_nonzero(np.asarray(times) > bars.open_time[-1]))
    return (
        f"the {bars.label} end at {iso(bars.last_close)}, before the last decision "
        f"({iso(last)}): {counted(after, 'decision')} after could price no order, and the "
        f"metrics value {bars.asset} at that last close from then on"
    )


def priced(bars: Bars, times: np.ndarray) -> int:
    """How many of ``times`` (Unix seconds) can price an order: none before the first close,
    and of candles none after the last bar opened (no bar is left to fill at)."""
    found = np.asarray(times) >= bars.close_time[0] if len(bars) else np.zeros(len(times), bool)
    if not bars.points and len(bars):
        found &= np.asarray(times) <= bars.open_time[-1]
    return int(np.count_nonzero(found))
