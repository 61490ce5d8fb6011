"""Every reason code SignalOps records: one enum, stable UPPER_SNAKE names.

A code says *why* in a form audit records can be filtered on; the human sentence travels next
to it (``message``, ``details``). Codes are values, never exceptions: a risk denial, a leaf that
is UNKNOWN, an order a venue refused and a failed re-check are all recorded with one of these.
``Code`` is a ``StrEnum``, so a code is its own name in JSON and compares equal to that string:
records written before this enum existed read back unchanged.

The groups, in the order a decision meets them:

- data: why a leaf of the tree is UNKNOWN (the adapter's answer, or the evaluator's own check);
- sizing and the risk gate: why an order was not sized, or which check denied it;
- execution: why a venue (or the paper broker) did not fill an order;
- approvals: why an approved decision was not executed after all.

Adding a code is adding a member here; nothing else may spell one.
"""

from __future__ import annotations

from enum import StrEnum


class Code(StrEnum):
    # --- data: why a leaf is UNKNOWN -------------------------------------------------------
    MISSING = "MISSING"  # no observation for the request
    STALE = "STALE"  # the observation is older than the leaf's max_age
    FUTURE = "FUTURE"  # the observation is dated after as_of: look-ahead, refused
    NOT_A_NUMBER = "NOT_A_NUMBER"  # the value is NaN or not numeric
    MATH_ERROR = "MATH_ERROR"  # the expression could not be computed (e.g. division by zero)
    NO_ADAPTER = "NO_ADAPTER"  # no adapter serves the source
    BAD_ADAPTER = "BAD_ADAPTER"  # a plugin adapter is not usable
    ADAPTER_ERROR = "ADAPTER_ERROR"  # an adapter failed without a more specific code
    NO_DATA = "NO_DATA"  # the source has no data for this series at this time
    BAD_DATA = "BAD_DATA"  # the source's data cannot be used (gaps, wrong shape)
    BAD_SNAPSHOT = "BAD_SNAPSHOT"  # a replay snapshot file is malformed
    INSUFFICIENT_HISTORY = "INSUFFICIENT_HISTORY"  # too few bars for the indicator
    LOOK_AHEAD = "LOOK_AHEAD"  # the source only has data from after as_of
    UNKNOWN_METRIC = "UNKNOWN_METRIC"  # the source does not answer this metric
    UNKNOWN_SYMBOL = "UNKNOWN_SYMBOL"  # the venue does not list the asset
    BAD_SYMBOL = "BAD_SYMBOL"  # the asset cannot be turned into a venue symbol
    UNKNOWN_MARKET = "UNKNOWN_MARKET"  # no prediction market with that slug or id
    UNKNOWN_OUTCOME = "UNKNOWN_OUTCOME"  # the market has no such outcome
    UNKNOWN_STABLECOIN = "UNKNOWN_STABLECOIN"  # DeFiLlama lists no such stablecoin
    NOT_APPLICABLE = "NOT_APPLICABLE"  # the metric does not apply to the asset (P/E of BTC)
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"  # figures in different currencies
    NOT_REPORTED = "NOT_REPORTED"  # the filer reports no such figure (a bank's current assets)
    NO_SPLIT_HISTORY = "NO_SPLIT_HISTORY"  # filed share counts jump by a split, none recorded
    NO_USER_AGENT = "NO_USER_AGENT"  # SEC EDGAR needs a User-Agent naming a contact
    MARKET_CLOSED = "MARKET_CLOSED"  # the market was closed or resolved at as_of
    NO_API_KEY = "NO_API_KEY"  # the endpoint needs a key that the environment lacks
    BAD_URL = "BAD_URL"  # a configured URL is not usable
    BAD_REQUEST = "BAD_REQUEST"  # the source refused the request (4xx)
    BAD_RESPONSE = "BAD_RESPONSE"  # the source answered something unparseable or implausible
    RESPONSE_TOO_LARGE = "RESPONSE_TOO_LARGE"  # more bytes or points than any real answer has
    RESPONSE_TOO_DEEP = "RESPONSE_TOO_DEEP"  # JSON or XML nested deeper than any real answer
    REDIRECT_LOOP = "REDIRECT_LOOP"  # the source redirected too many times
    TRANSPORT_ERROR = "TRANSPORT_ERROR"  # the HTTP transport failed in a way httpx does not name
    HTTP_ERROR = "HTTP_ERROR"  # the source answered an HTTP error (5xx)
    RATE_LIMITED = "RATE_LIMITED"  # the source asked us to slow down
    TIMEOUT = "TIMEOUT"  # the source did not answer in time
    REQUEST_TIMEOUT = "REQUEST_TIMEOUT"  # the venue timed out on a request
    CONNECTION_ERROR = "CONNECTION_ERROR"  # the source could not be reached
    NETWORK_ERROR = "NETWORK_ERROR"  # the venue could not be reached

    # --- sizing and the risk gate ----------------------------------------------------------
    NO_PRICE = "NO_PRICE"  # no fresh price to size the order with
    ZERO_SIZE = "ZERO_SIZE"  # the order rounds to nothing
    NO_POSITION = "NO_POSITION"  # a SELL with nothing held to sell
    PORTFOLIO_UNAVAILABLE = "PORTFOLIO_UNAVAILABLE"  # the venue could not report holdings
    PORTFOLIO_UNVALUED = "PORTFOLIO_UNVALUED"  # holdings cannot be valued (NaN, float, no price)
    UNPRICED_HOLDINGS = "UNPRICED_HOLDINGS"  # a held currency nothing prices: BUY limits unknown
    RECONCILE_MISMATCH = "RECONCILE_MISMATCH"  # the venue holds less than the books say
    NOT_COMPUTABLE = "NOT_COMPUTABLE"  # a limit's actual value could not be computed
    KILL_SWITCH = "KILL_SWITCH"
    TRADING_STATE = "TRADING_STATE"  # trading is halted or reducing-only
    DATA_STALE = "DATA_STALE"  # the data the decision relied on is too old for the gate
    DUPLICATE_DECISION = "DUPLICATE_DECISION"  # this decision was executed already
    MAX_POSITION = "MAX_POSITION"
    MAX_EXPOSURE = "MAX_EXPOSURE"
    MAX_DAILY_LOSS = "MAX_DAILY_LOSS"
    ORDER_RATE = "ORDER_RATE"
    COOLDOWN = "COOLDOWN"
    MIN_NOTIONAL = "MIN_NOTIONAL"
    MAX_NOTIONAL = "MAX_NOTIONAL"
    MAX_SECTOR = "MAX_SECTOR"  # the sector's share of equity after a BUY is above the limit
    MAX_VAR = "MAX_VAR"  # the portfolio's VaR after the order is above the limit, or unknown
    MAX_CVAR = "MAX_CVAR"  # the same for CVaR (expected shortfall)
    KELLY_SIZE = "KELLY_SIZE"  # how Kelly from the strategy's own trades sized a BUY (a record)
    CASH_SIZE = "CASH_SIZE"  # a paper BUY cut to what the cash pays with its costs (a record)

    # --- execution -------------------------------------------------------------------------
    MISSING_ENV = "MISSING_ENV"  # a webhook's URL variable is not set
    AUTO_NOT_ENABLED = "AUTO_NOT_ENABLED"  # auto mode without --live and credentials
    INVALID_ORDER = "INVALID_ORDER"
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    INSUFFICIENT_POSITION = "INSUFFICIENT_POSITION"
    ORDER_REJECTED = "ORDER_REJECTED"
    ORDER_CANCELED = "ORDER_CANCELED"  # the venue canceled the order before any fill
    ORDER_EXPIRED = "ORDER_EXPIRED"  # the order expired on the venue without a fill
    ORDER_NOT_FOUND = "ORDER_NOT_FOUND"
    NOT_PLACED = "NOT_PLACED"  # the venue's answer proves the order does not exist
    AMBIGUOUS = "AMBIGUOUS"  # the order may or may not exist: reconcile before retrying
    CLIENT_ORDER_ID_REUSED = "CLIENT_ORDER_ID_REUSED"
    AUTHENTICATION_FAILED = "AUTHENTICATION_FAILED"
    EXCHANGE_UNAVAILABLE = "EXCHANGE_UNAVAILABLE"
    EXCHANGE_ERROR = "EXCHANGE_ERROR"
    OPERATION_FAILED = "OPERATION_FAILED"
    CLOCK_SKEW = "CLOCK_SKEW"
    INTERNAL_ERROR = "INTERNAL_ERROR"

    ERROR = "ERROR"  # a webhook failed in a way no other code names

    # --- approvals -------------------------------------------------------------------------
    SIGNAL_CHANGED = "SIGNAL_CHANGED"  # the re-checked signal no longer says what was approved


__all__ = ["Code"]
