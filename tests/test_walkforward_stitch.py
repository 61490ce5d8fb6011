"""The stitched out-of-sample record sells a position still open at a test window's end before
the next window starts flat: exit costs paid, a closed round trip (won or lost against the cash
that bought it). The last window's position stays open.

Regression test: the stitched row carried an open position's mark into the next window as cash
(no exit fee or slippage ever charged) and showed "4 trades, 100% win rate" beside two windows
that each ended "0 +1 open" at -9.10% and -45.16%.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from signalops.backtest.metrics import WinRate
from signalops.backtest.sweep import STARTING_CASH, SweepRow
from signalops.research.tasks import Curve
from signalops.research.walkforward import Coverage, Span, Window, WindowResult, stitch

DAY = timedelta(days=1)
START = datetime(2024, 1, 1, tzinfo=UTC)
FEE_BPS, SLIPPAGE_BPS = 20.0, 10.0


def window(number: int, equity: list[float], held: list[bool], *, open_trade: bool,
           wins: int = 0, closed: int = 0) -> WindowResult:  # fmt: skip
    test_start = START + (number - 1) * len(equity) * DAY
    row = SweepRow(
        params={"oversold": 30}, total_return=equity[-1] / STARTING_CASH - 1, max_drawdown=0.0,
        sharpe=None, win_rate=WinRate.of(wins, closed), exposure=0.0, blocked=0, fees=0.0,
        open_trade=open_trade,
    )  # fmt: skip
    curve = Curve(np.array(equity), np.array(held), wins, closed)
    return WindowResult(
        Window(number, test_start - 10 * DAY, test_start, test_start + len(equity) * DAY),
        0, {"oversold": 30}, row, 1.0, row, 1.0, 1, (), curve, len(equity),
        Span(len(equity) / 365, len(equity) * DAY),
        Coverage(10, 10), Coverage(len(equity), len(equity)),  # wholly covered
    )  # fmt: skip


def test_a_position_open_at_a_windows_end_is_sold_there_with_its_exit_costs():
    first = window(1, [STARTING_CASH, 9_800.0, 9_090.0], [False, True, True], open_trade=True)
    second = window(2, [STARTING_CASH, 10_500.0], [False, False], open_trade=False)

    stitched = stitch([first, second], DAY, 365.0, fee_bps=FEE_BPS, slippage_bps=SLIPPAGE_BPS)

    sold = 9_090.0 * (1 - 0.001) * (1 - 0.002)  # slippage, then the fee on what it fetched
    assert stitched.row.total_return == pytest.approx(sold / STARTING_CASH * 1.05 - 1)
    assert stitched.row.fees == pytest.approx(9_090.0 * (1 - 0.001) * 0.002)
    assert (stitched.row.win_rate.wins, stitched.row.closed_trades) == (0, 1)  # below 10,000
    assert not stitched.row.open_trade


def test_a_sale_above_the_cash_that_bought_it_is_a_win():
    first = window(1, [STARTING_CASH, 10_900.0, 11_000.0], [False, True, True], open_trade=True)
    second = window(2, [STARTING_CASH, STARTING_CASH], [False, False], open_trade=False)

    stitched = stitch([first, second], DAY, 365.0, fee_bps=FEE_BPS, slippage_bps=SLIPPAGE_BPS)

    assert (stitched.row.win_rate.wins, stitched.row.closed_trades) == (1, 1)


def test_the_last_windows_open_position_stays_open_at_its_mark():
    first = window(1, [STARTING_CASH, 10_200.0], [False, False], open_trade=False)
    last = window(2, [STARTING_CASH, 9_500.0], [False, True], open_trade=True)

    stitched = stitch([first, last], DAY, 365.0, fee_bps=FEE_BPS, slippage_bps=SLIPPAGE_BPS)

    assert stitched.row.total_return == pytest.approx(1.02 * 0.95 - 1)
    assert stitched.row.open_trade and stitched.row.closed_trades == 0
