"""The market price of an asset at a UTC midnight: what the paper broker values the positions
held at the day's start at, so that MAX_DAILY_LOSS measures the day's move only.

``MidnightMarks(pipeline)(asset, midnight)`` asks the pipeline's own adapters for the asset's
reference-price requests (``Pipeline.price_requests_of``: the technical closes of 1h and 1d
candles, or a Polymarket outcome's token price) at ``as_of = midnight``, and takes the freshest
answer, as the gate takes its reference price (``reference_price``). So a decision at 00:00
marks a position held since before midnight at the very price its day's start is valued at,
and the two engines of a backtest, whose pipelines have the same adapters, the same marks.

No age bound: the day's start is the account's, one figure whatever strategy asks (their
``max_data_age`` differ), and the last close by midnight is the market's price then however
old it is (a stock's Friday close on Monday, 00:00). The broker keeps a fill price newer than
it instead (``PaperBroker._day_mark``).

Live sources answer for a past midnight as a replay does: the ccxt candle feed asks for the
candles before ``as_of`` and keeps those closed by then (``CcxtCandleFeed.candles``), the
equities feed likewise. A live Polymarket price is only "now" and refuses a past ``as_of``
(LOOK_AHEAD): there is then no mark, and the position counts at its last fill price, which
the record says (``PortfolioView.day_start_marks``: source ``last fill``).

A source that fails gives no mark (the same fallback); its errors are not logged here: the
gate's own gather logs the sources it asks, and a backtest's two engines log alike.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from signalops.adapters.base import Answer
from signalops.errors import SignalOpsError
from signalops.observation import Request

if TYPE_CHECKING:
    from signalops.pipeline import Pipeline


class MidnightMarks:
    """``(asset, midnight) -> (price, its time) | None`` through ``pipeline``'s adapters and
    price requests, read when asked (a reloaded config's venues count). The broker asks once
    per asset and midnight (``PaperBroker._market_mark``)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def __call__(self, asset: str, midnight: datetime) -> tuple[Decimal, datetime] | None:
        from signalops.pipeline.cycle import reference_price

        sources = self.pipeline.price_requests_of(asset)
        answers = self._answers(sources, midnight)
        return reference_price(asset, answers, midnight, None, sources)

    def _answers(self, requests: tuple[Request, ...], as_of: datetime) -> dict[Request, Answer]:
        """``gather``'s answers, without its log lines (see the module docstring)."""
        by_source: dict[str, list[Request]] = defaultdict(list)
        for request in requests:
            by_source[request.source].append(request)
        answers: dict[Request, Answer] = {}
        adapters = self.pipeline.adapters
        for source, batch in by_source.items():
            adapter = adapters.get(source)
            if adapter is None:
                continue
            try:
                answers.update(adapter.fetch(batch, as_of))
            except (SignalOpsError, LookupError, ValueError, ArithmeticError, OSError):
                continue  # no mark: the broker keeps the last fill price, and says so
        return answers


def attach(pipeline: Pipeline) -> None:
    """Value ``pipeline``'s paper account's day start at midnight market prices."""
    pipeline.broker.midnight_marks = MidnightMarks(pipeline)


__all__ = ["MidnightMarks", "attach"]
